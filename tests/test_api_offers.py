"""Offers meet requests through the API: nearest first, same need, valid only (expiry,
capacity, used up), links recorded on both sides and kept across re-ingestion, the list's
count of offers, and the analysts' requests beside offers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from helpers_api import api_client, stock_posts, token_headers
from helpers_backlog import jsonl

from index import offer_counts, offers
from index.load import load

NOW = datetime.now(UTC)
WUHAN = {"province": "湖北省", "city": "武汉市", "city_code": "4201"}
HOUHU = {
    **WUHAN,
    "district": "江岸区",
    "district_code": "420102",
    "street": "后湖街道",
    "street_code": "420102011",
}
BAIBUTING = {**HOUHU, "community": "百步亭社区", "community_code": "420102011001"}


def _post(n: str, kind: str, needs: list[str], place: dict, **extra):
    return {
        "id": n,
        "source": "weibo",
        "url": f"https://weibo.example/{n}",
        "kind": kind,
        "text": f"测试{kind} {n} 需要或提供帮助",
        "needs": needs,
        "urgency": "normal",
        "posted_at": (NOW - timedelta(hours=2)).isoformat(),
        **place,
        **extra,
    }


YESTERDAY = (NOW - timedelta(days=1)).isoformat()
NEXT_WEEK = (NOW + timedelta(days=7)).isoformat()
POSTS = [
    _post("r1", "request", ["food"], BAIBUTING),
    _post("r2", "request", ["food", "medicine"], {**HOUHU, "district": "江岸区"}),
    _post(
        "r3",
        "request",
        ["food"],
        {**WUHAN, "district": "武昌区", "district_code": "420106"},
        urgency="critical",
    ),
    _post("o-comm", "offer", ["food"], BAIBUTING, offer={"expires_at": NEXT_WEEK}),
    _post(
        "o-street",
        "offer",
        ["food"],
        {**HOUHU, "community": "幸福社区", "community_code": "420102011002"},
    ),
    _post(
        "o-dist",
        "offer",
        ["food"],
        {
            **WUHAN,
            "district": "江岸区",
            "district_code": "420102",
            "street": "二七街道",
            "street_code": "420102012",
        },
        offer={"capacity": 1, "unit": "份"},
    ),
    _post("o-city", "offer", ["food"], {**WUHAN, "district": "武昌区", "district_code": "420106"}),
    _post("o-none", "offer", ["food"], {}),
    _post(
        "o-far", "offer", ["food"], {"province": "湖南省", "city": "长沙市", "city_code": "4301"}
    ),
    _post("o-transport", "offer", ["transport"], BAIBUTING),
    _post("o-expired", "offer", ["food"], BAIBUTING, offer={"expires_at": YESTERDAY}),
]


@pytest.fixture
def stocked(backlog):
    return stock_posts(backlog, POSTS)


@pytest.fixture
def client(stocked):
    with api_client() as client:
        yield client


def _get(client, path, headers, **query):
    response = client.get(path, params=query, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _link(client, headers, request_id, offer_id):
    version = _get(client, f"/api/requests/{request_id}", headers)["version"]
    return client.post(
        f"/api/requests/{request_id}/links",
        json={"offer": offer_id, "version": version},
        headers=headers,
    )


def test_a_request_lists_valid_offers_of_its_need_nearest_first(client, stocked):
    got = _get(client, "/api/requests/weibo:r1/matches", token_headers(stocked, "disp"))
    ids = [m["id"] for m in got["matches"]]
    # Community, street, district, city, then an offer that names no place; never another
    # city, another need, or an expired offer.
    assert ids == ["weibo:o-comm", "weibo:o-street", "weibo:o-dist", "weibo:o-city", "weibo:o-none"]
    near = [m["near"] for m in got["matches"]]
    assert near == ["community", "street", "district", "city", "anywhere"]
    assert got["total"] == 5 and got["kind"] == "request"
    assert got["matches"][0]["offer"]["expires_at"]


def test_an_offer_lists_the_requests_it_could_serve_nearest_then_most_urgent(client, stocked):
    got = _get(client, "/api/requests/weibo:o-city/matches", token_headers(stocked, "ana"))
    # o-city is in 武昌区: r3 shares its district; r1 and r2 share the city only, and the
    # older or more urgent comes first among equals.
    assert got["matches"][0]["id"] == "weibo:r3"
    assert {m["id"] for m in got["matches"]} == {"weibo:r1", "weibo:r2", "weibo:r3"}
    # Analysts see masked text and no links to the poster's account.
    assert all("url" not in m for m in got["matches"])


def test_linking_assigns_the_request_records_both_sides_and_uses_up_capacity(client, stocked):
    headers = token_headers(stocked, "disp")
    response = _link(client, headers, "weibo:r2", "weibo:o-dist")
    assert response.status_code == 200, response.text
    detail = response.json()
    assert detail["status"] == "assigned" and detail["links"] == ["weibo:o-dist"]
    assert [e["action"] for e in detail["history"]] == ["link", "status"]
    offer = _get(client, "/api/requests/weibo:o-dist", headers)
    assert offer["links"] == ["weibo:r2"] and offer["offer_used"] == 1
    # Its capacity was one: used up, so it leaves every other request's matches.
    assert offer["offer_used_up"] is True
    assert [e["action"] for e in offer["history"]] == ["link", "used_up"]
    r1 = _get(client, "/api/requests/weibo:r1/matches", headers)
    assert "weibo:o-dist" not in [m["id"] for m in r1["matches"]]
    # And a second link to it is refused with the reason.
    refused = _link(client, headers, "weibo:r1", "weibo:o-dist")
    assert refused.status_code == 400 and "used up" in refused.json()["error"]
    # The request shows its linked offer beside the rest.
    r2 = _get(client, "/api/requests/weibo:r2/matches", headers)
    assert [m["id"] for m in r2["linked"]] == ["weibo:o-dist"]


def test_links_are_refused_for_expired_offers_wrong_kinds_and_stale_versions(client, stocked):
    headers = token_headers(stocked, "disp")
    expired = _link(client, headers, "weibo:r1", "weibo:o-expired")
    assert expired.status_code == 400 and "expired" in expired.json()["error"]
    backwards = _link(client, headers, "weibo:o-comm", "weibo:r1")
    assert backwards.status_code == 400
    stale = client.post(
        "/api/requests/weibo:r1/links",
        json={"offer": "weibo:o-comm", "version": "999:1"},
        headers=headers,
    )
    assert stale.status_code == 409
    analyst = _link(client, token_headers(stocked, "ana"), "weibo:r1", "weibo:o-comm")
    assert analyst.status_code == 403


def test_an_offer_marked_used_up_leaves_the_matches_and_can_come_back(client, stocked):
    headers = token_headers(stocked, "disp")
    marked = client.post(
        "/api/offers/weibo:o-comm/used-up", json={"used_up": True}, headers=headers
    )
    assert marked.status_code == 200 and marked.json()["offer_used_up"] is True
    ids = [m["id"] for m in _get(client, "/api/requests/weibo:r1/matches", headers)["matches"]]
    assert "weibo:o-comm" not in ids
    client.post("/api/offers/weibo:o-comm/used-up", json={"used_up": False}, headers=headers)
    ids = [m["id"] for m in _get(client, "/api/requests/weibo:r1/matches", headers)["matches"]]
    assert ids[0] == "weibo:o-comm"
    not_offer = client.post("/api/offers/weibo:r1/used-up", json={}, headers=headers)
    assert not_offer.status_code == 400


def test_links_survive_re_ingestion_and_an_undo_takes_both_sides_back(client, stocked):
    headers = token_headers(stocked, "disp")
    assert _link(client, headers, "weibo:r1", "weibo:o-comm").status_code == 200
    load(stocked.client, stocked.names, jsonl(*POSTS))
    stocked.client.indices.refresh(index=f"{stocked.prefix}-*")
    assert _get(client, "/api/requests/weibo:r1", headers)["links"] == ["weibo:o-comm"]
    assert _get(client, "/api/requests/weibo:o-comm", headers)["links"] == ["weibo:r1"]
    undone = client.delete("/api/requests/weibo:r1/links/weibo:o-comm", headers=headers)
    assert undone.status_code == 200 and undone.json().get("links") in (None, [])
    offer = _get(client, "/api/requests/weibo:o-comm", headers)
    assert offer.get("links") in (None, []) and offer["offer_used"] == 0
    again = client.delete("/api/requests/weibo:r1/links/weibo:o-comm", headers=headers)
    assert again.status_code == 400


def test_the_list_counts_the_offers_near_each_request_only_when_asked(client, stocked):
    headers = token_headers(stocked, "disp")
    rows = {r["id"]: r for r in _get(client, "/api/requests", headers, matches="true")["rows"]}
    # r1: o-comm, o-street, o-dist, o-city, o-none (same city or no place, food, valid).
    assert rows["weibo:r1"]["offers"] == 5
    assert "offers" not in rows["weibo:o-comm"]
    plain = _get(client, "/api/requests", headers)["rows"]
    assert all("offers" not in r for r in plain)
    # The count follows the same rule as the detail's list.
    detail = _get(client, "/api/requests/weibo:r3/matches", headers)
    assert rows["weibo:r3"]["offers"] == detail["total"]


def test_analysts_see_requests_beside_offers_by_district_and_need(client, stocked):
    headers = token_headers(stocked, "ana")
    got = _get(client, "/api/stats/supply", headers)
    rows = {(r["district"], r["need"]): r for r in got["rows"]}
    assert rows[("江岸区", "food")]["requests"] == 2 and rows[("江岸区", "food")]["offers"] == 3
    assert rows[("江岸区", "medicine")] == {
        "district": "江岸区",
        "need": "medicine",
        "requests": 1,
        "offers": 0,
        "gap": 1,
    }
    # Most missing first.
    assert got["rows"][0]["gap"] == max(r["gap"] for r in got["rows"])
    assert got["requests"] == 3
    text = client.get("/api/stats/supply.csv", headers=headers).text
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == ["district", "need", "waiting_requests", "valid_offers", "gap"]
    assert ["江岸区", "medicine", "1", "0", "1"] in table


def test_matches_of_a_post_that_is_neither_request_nor_offer_are_refused(client, stocked):
    load(stocked.client, stocked.names, jsonl(_post("u1", "update", ["food"], BAIBUTING)))
    headers = token_headers(stocked, "disp")
    response = client.get("/api/requests/weibo:u1/matches", headers=headers)
    assert response.status_code == 400
    assert client.get("/api/requests/weibo:nope/matches", headers=headers).status_code == 404


def test_the_match_queries_are_pure_and_name_their_rules():
    body = offers.offers_body({"needs": ["food"], **BAIBUTING}, NOW)
    filters = body["query"]["bool"]["filter"]
    assert {"terms": {"needs": ["food"]}} in filters
    assert {"term": {"kind": "offer"}} in filters
    boosts = [c["constant_score"]["boost"] for c in body["query"]["bool"]["should"]]
    assert boosts == [16.0, 8.0, 4.0, 2.0]
    assert offers.level(BAIBUTING, HOUHU) == "street"


def test_the_lists_grouped_count_agrees_with_one_exact_search(client, stocked):
    headers = token_headers(stocked, "disp")
    # A link changes the count at once in this process (and r2 loses o-dist's last place).
    assert _link(client, headers, "weibo:r2", "weibo:o-dist").status_code == 200
    assert _link(client, headers, "weibo:r1", "weibo:o-comm").status_code == 200
    rows = _get(client, "/api/requests", headers, matches="true", size=50)["rows"]
    body = offer_counts.exact_body(rows, datetime.now(UTC))
    exact = stocked.client.search(index=stocked.names.requests, body=body)
    buckets = exact["aggregations"]["near"]["buckets"]
    counted = {r["id"]: r["offers"] for r in rows if "offers" in r}
    assert counted == {k: v["doc_count"] for k, v in buckets.items()}
    # r1 is linked to o-comm: it counts the other four; o-dist is used up for everyone.
    assert counted["weibo:r1"] == 3
