"""Search, detail, clusters and pickers through the API, and what each role receives."""

from __future__ import annotations

import pytest
from helpers_api import NAME, PHONE, app_client, shared_backlog, token_headers


@pytest.fixture(scope="module")
def backlog(es_client):
    yield from shared_backlog(es_client, "search")


@pytest.fixture(scope="module")
def client(backlog, es_urls):
    yield from app_client(backlog, es_urls)


@pytest.fixture(scope="module")
def as_role(backlog):
    return {name: token_headers(backlog, name) for name in ("disp", "ana", "root")}


def test_default_search_gives_one_row_per_cluster_most_urgent_first(client, as_role):
    body = client.get("/api/requests", headers=as_role["disp"]).json()
    assert body["total"] == 8 and body["clusters"] == 6
    first = body["rows"][0]
    # The cluster of posts 1-3 is critical through post 1, though its canonical post is high.
    assert first["cluster"] == "c-a" and first["cluster_urgency_rank"] == 3
    assert first["cluster_size"] == 3 and first["sources"] == ["weibo", "douban"]
    assert first["update"] == {
        "id": "weibo:3",
        "outcome": "admitted",
        "posted_at": "2020-02-07T20:00:00+08:00",
        "suggests": "resolved",
    }
    assert {f["value"]: f["count"] for f in body["facets"]["district"]}["江岸区"] == 3


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("district=武昌区", {"weibo:4", "weibo:5"}),
        ("district=武昌区&need=food", {"weibo:4"}),
        ("need=food,supplies", {"weibo:4", "weibo:5", "weibo:8"}),
        ("need=food&need=transport", {"weibo:4", "weibo:6", "weibo:8"}),
        ("street=中南路街道&community=中南二路社区", {"weibo:4", "weibo:5"}),
        ("urgency=critical", {"weibo:1"}),
        ("kind=update", {"weibo:3"}),
        ("source=forum", {"forum:7"}),
        ("q=买菜", {"weibo:4"}),
        ("q=透析&team=transport", {"weibo:6"}),
        ("status=resolved", set()),
        ("located=false", {"forum:7"}),
        ("since=2020-02-07&until=2020-02-07T23:59:59%2B08:00", {"weibo:3", "weibo:5", "weibo:8"}),
        ('q="unbalanced (quote', set()),
    ],
)
def test_filters_narrow_the_backlog(client, as_role, query, expected):
    response = client.get(f"/api/requests?{query}&collapse=false", headers=as_role["disp"])
    assert response.status_code == 200, response.text
    assert {r["id"] for r in response.json()["rows"]} == expected


@pytest.mark.parametrize("sort", ["urgency", "recent", "relevance"])
def test_every_sort_is_accepted(client, as_role, sort):
    rows = client.get(f"/api/requests?sort={sort}&q=求", headers=as_role["disp"]).json()["rows"]
    assert rows


def test_recent_sort_puts_the_newest_first(client, as_role):
    rows = client.get("/api/requests?sort=recent&collapse=false", headers=as_role["disp"])
    times = [r["posted_at"] for r in rows.json()["rows"]]
    assert times == sorted(times, reverse=True)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("size=0", "Page size"),
        ("size=100000", "Page size"),
        ("page=0", "Pages go"),
        ("page=abc", "whole number"),
        ("sort=random", "Unknown sort"),
        ("need=beds", "Unknown need 'beds'"),
        ("status=done", "Unknown status"),
        ("team=nobody", "Unknown team"),
        ("urgency=soon", "Unknown urgency"),
        ("kind=spam", "Unknown kind"),
        ("since=yesterday", "`since` must be a date"),
        ("since=2020-03-01&until=2020-02-01", "`since` is after `until`"),
        ("located=maybe", "true or false"),
        ("q=" + "长" * 201, "at most 200"),
        ("district=" + "区" * 101, "at most 100"),
        ("colour=red", "Unknown parameter `colour`"),
    ],
)
def test_bad_parameters_get_a_400_that_says_what_was_wrong(client, as_role, query, message):
    response = client.get(f"/api/requests?{query}", headers=as_role["disp"])
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_unknown_request_is_404_with_a_message(client, as_role):
    response = client.get("/api/requests/weibo:404", headers=as_role["disp"])
    assert response.status_code == 404 and "weibo:404" in response.json()["error"]


def test_detail_shows_fields_cues_place_codes_members_and_update(client, as_role):
    d = client.get("/api/requests/weibo:1", headers=as_role["disp"]).json()
    assert d["urgency_cues"] == ["呼吸困难"]
    assert (d["district_code"], d["street_code"]) == ("420102", "420102011")
    assert d["template"]["description"] == "发烧7天，呼吸困难"
    assert [m["id"] for m in d["members"]] == ["douban:2", "weibo:1", "weibo:3"]
    assert d["members"][0]["url"] == "https://douban.example/2"
    assert d["update"]["suggests"] == "resolved"
    assert set(d["transitions"]) == {"triaged", "assigned", "duplicate", "unreachable", "closed"}
    assert PHONE not in str(d) and NAME not in str(d)


def test_cluster_view_lists_every_member_with_link_and_time(client, as_role):
    body = client.get("/api/clusters/c-a", headers=as_role["disp"]).json()
    assert [(m["id"], m["posted_at"][:10]) for m in body["members"]] == [
        ("douban:2", "2020-02-05"),
        ("weibo:1", "2020-02-06"),
        ("weibo:3", "2020-02-07"),
    ]
    assert all(m["url"].startswith("https://") for m in body["members"])


@pytest.mark.parametrize(
    "path",
    [
        "/api/requests",
        "/api/requests?collapse=false&size=50",
        "/api/requests/weibo:1",
        "/api/requests/douban:2",
        "/api/requests/weibo:1/history",
        "/api/clusters/c-a",
        "/api/stats/grid",
        "/api/stats/communities",
        "/api/export.csv",
    ],
)
def test_analysts_never_receive_phone_numbers_names_or_links(client, as_role, path):
    response = client.get(path, headers=as_role["ana"])
    assert response.status_code == 200
    raw = response.content.decode()
    assert PHONE not in raw and PHONE[-4:] not in raw
    assert NAME not in raw and "王建" not in raw
    assert "weibo.example" not in raw and "百步亭花园" not in raw


def test_analysts_see_the_masked_text(client, as_role):
    d = client.get("/api/requests/weibo:1", headers=as_role["ana"]).json()
    assert "138*" in d["text"] and "王**" in d["text"] and "呼吸困难" in d["text"]


def test_analysts_may_not_search_for_phone_numbers(client, as_role):
    response = client.get(f"/api/requests?q={PHONE}", headers=as_role["ana"])
    assert response.status_code == 400 and "phone" in response.json()["error"]


def test_dispatchers_see_contacts_only_by_a_recorded_reveal(client, as_role, backlog):
    listed = client.get("/api/requests", headers=as_role["disp"]).content.decode()
    assert PHONE not in listed
    revealed = client.post("/api/requests/weibo:1/contact", headers=as_role["disp"]).json()
    assert PHONE in revealed["text"] and revealed["names"] == [NAME]
    history = client.get("/api/requests/weibo:1/history", headers=as_role["root"]).json()
    reveals = [e for e in history["events"] if e["action"] == "reveal"]
    assert reveals and reveals[-1]["user"] == "disp" and reveals[-1]["role"] == "dispatcher"


def test_place_pickers_list_gazetteer_divisions_with_backlog_counts(client, as_role):
    body = client.get("/api/places?level=district", headers=as_role["disp"]).json()
    by_name = {v["name"]: v for v in body["values"]}
    assert by_name["江岸区"]["count"] == 3 and by_name["江岸区"]["code"] == "420102"
    assert by_name["洪山区"]["count"] == 0  # in the gazetteer, not (yet) in the backlog
    streets = client.get("/api/places?level=street&parent=江岸区", headers=as_role["disp"])
    names = {v["name"] for v in streets.json()["values"]}
    assert "后湖街道" in names and "中南路街道" not in names


def test_place_picker_refuses_an_unknown_level(client, as_role):
    response = client.get("/api/places?level=planet", headers=as_role["disp"])
    assert response.status_code == 400 and "Unknown level" in response.json()["error"]


def test_labels_show_the_chinese_label_of_each_code(client, as_role):
    labels = client.get("/api/labels", headers=as_role["ana"]).json()
    assert labels["needs"]["food"] == "生活物资" and labels["team"]["medical"] == "医疗救治组"
    # Every need the classifier can give has a label, and the flood needs have their teams.
    from classify.needs import NEEDS

    assert set(labels["needs"]) == set(NEEDS)
    assert labels["team"]["rescue"] == "抢险救援组" and labels["needs"]["shelter"] == "转移安置"


def test_rows_and_detail_say_when_the_full_text_could_not_be_fetched(client, as_role):
    rows = client.get("/api/requests", headers=as_role["disp"]).json()["rows"]
    marked = {row["id"] for row in rows if row.get("truncated")}
    assert marked == {"weibo:8"}
    detail = client.get("/api/requests/weibo:8", headers=as_role["ana"]).json()
    assert detail["truncated"] is True
    assert client.get("/api/requests/weibo:4", headers=as_role["disp"]).json()["truncated"] is False


@pytest.mark.parametrize("words", [NAME, "建国", "百步亭花园"])
def test_an_analysts_search_matches_the_masked_text_only(client, as_role, words):
    # A name is in the raw text, its words and the address; none is in the masked text,
    # so even the hit count tells an analyst nothing.
    for path, key in (("/api/requests", "total"), ("/api/stats/overview", "posts")):
        dispatcher = client.get(path, params={"q": words}, headers=as_role["disp"]).json()
        analyst = client.get(path, params={"q": words}, headers=as_role["ana"]).json()
        assert dispatcher[key] >= 1, path
        assert analyst[key] == 0, (path, analyst)
    csv = client.get("/api/export.csv", params={"q": words}, headers=as_role["ana"]).text
    assert len(csv.strip().splitlines()) == 1  # the header alone


def test_an_analysts_search_finds_what_the_masked_text_says(client, as_role):
    body = client.get("/api/requests", params={"q": "呼吸困难"}, headers=as_role["ana"]).json()
    assert body["total"] >= 1 and all("王**" in row["text"] for row in body["rows"])
