"""Waiting clocks through the API: targets, time left, the overdue queue and its order,
answers that stop a cluster's clock, and the analysts' share answered within target."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from helpers_api import api_client, stock_posts, token_headers

from index import clocks
from qiuzhu.errors import ConfigError


def _post(n: int, urgency: str, waited: timedelta, **extra):
    return {
        "id": str(n),
        "source": "weibo",
        "url": f"https://weibo.example/{n}",
        "kind": "request",
        "text": f"测试求助{n} 江岸区 老人需要帮助",
        "needs": ["bed"],
        "urgency": urgency,
        "province": "湖北省",
        "city": "武汉市",
        "district": "江岸区",
        # Relative to when the backlog is stocked: the clocks are read seconds later.
        "posted_at": (datetime.now(UTC) - waited).isoformat(),
        **extra,
    }


def posts():
    return [
        # Critical, 3 hours unanswered (target 1 h): overdue, and first whatever the sort.
        _post(1, "critical", timedelta(hours=3), cluster="c-late"),
        # Its repost, younger: the same cluster, one clock.
        _post(2, "high", timedelta(minutes=50), cluster="c-late"),
        # Critical, 10 minutes: 50 minutes left.
        _post(3, "critical", timedelta(minutes=10)),
        # Normal, 30 hours (target 24 h): overdue, but not critical.
        _post(4, "normal", timedelta(hours=30), district="武昌区", needs=["food"]),
        # High, 2 hours (target 6 h): waiting in time; the newest of all but one.
        _post(5, "high", timedelta(minutes=5), needs=["food"]),
        # Not a request: no clock.
        _post(6, "normal", timedelta(days=3), kind="offer"),
    ]


@pytest.fixture
def stocked(backlog):
    return stock_posts(backlog, posts(), {"c-late"})


@pytest.fixture
def client(stocked):
    with api_client() as client:
        yield client


def _rows(client, headers, **query):
    response = client.get("/api/requests", params=query, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _change(client, headers, request_id, **change):
    version = client.get(f"/api/requests/{request_id}", headers=headers).json()["version"]
    response = client.post(
        f"/api/requests/{request_id}/workflow", json={"version": version, **change}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_targets_are_read_with_units_and_refused_when_incomplete_or_unknown(monkeypatch):
    got = clocks.parse_targets("critical=30m, high=2h, normal=1.5d")
    assert got == {
        "critical": timedelta(minutes=30),
        "high": timedelta(hours=2),
        "normal": timedelta(hours=36),
    }
    for bad, message in [
        ("critical=1h,high=6h", "no target for normal"),
        ("critical=1h,high=6h,normal=24h,soon=1h", "unknown urgency"),
        ("critical=an hour,high=6h,normal=24h", "is not urgency=amount"),
        ("critical=0m,high=6h,normal=24h", "longer than nothing"),
    ]:
        with pytest.raises(ValueError, match=message):
            clocks.parse_targets(bad)
    monkeypatch.setenv("QIUZHU_ANSWER_TARGETS", "critical=soon")
    with pytest.raises(ConfigError, match="QIUZHU_ANSWER_TARGETS"):
        clocks.targets()


def test_each_row_shows_time_waited_and_time_left_against_its_urgency(client, stocked):
    rows = {r["id"]: r for r in _rows(client, token_headers(stocked, "disp"))["rows"]}
    late, soon, normal = rows["weibo:1"]["clock"], rows["weibo:3"]["clock"], rows["weibo:4"]
    assert late["overdue"] and late["target_s"] == 3600
    assert -2 * 3600 - 60 < late["left_s"] < -2 * 3600 + 60
    assert not soon["overdue"] and 49 * 60 < soon["left_s"] <= 50 * 60
    assert 10 * 60 - 5 <= soon["waited_s"] < 11 * 60
    assert normal["clock"]["overdue"] and normal["clock"]["target_s"] == 24 * 3600
    offer = _rows(client, token_headers(stocked, "disp"), kind="offer")["rows"][0]
    assert "clock" not in offer


@pytest.mark.parametrize("sort", ["urgency", "recent", "relevance"])
def test_an_overdue_critical_request_stays_on_top_whatever_the_sort(client, stocked, sort):
    headers = token_headers(stocked, "disp")
    rows = _rows(client, headers, sort=sort, q="测试求助" if sort == "relevance" else "")["rows"]
    assert rows[0]["id"] == "weibo:1"
    # The rest keeps the sort's own order: newest first when sorted by time.
    if sort == "recent":
        assert [r["id"] for r in rows[1:3]] == ["weibo:5", "weibo:3"]


def test_the_overdue_queue_filters_and_counts_the_whole_backlog(client, stocked):
    headers = token_headers(stocked, "disp")
    page = _rows(client, headers, overdue="true")
    assert {r["id"] for r in page["rows"]} == {"weibo:1", "weibo:4"}
    assert page["overdue"] == {"all": 2, "critical": 1}
    # The header's count is the backlog's, whatever else the list is filtered by.
    assert _rows(client, headers, district="武昌区")["overdue"] == {"all": 2, "critical": 1}
    bad = client.get("/api/requests?overdue=maybe", headers=headers)
    assert bad.status_code == 400


def test_answering_one_member_stops_the_clusters_clock_and_reopening_does_not_restart_it(
    client, stocked
):
    headers = token_headers(stocked, "disp")
    body = _change(client, headers, "weibo:2", status="assigned", team="medical")
    assert body["answered_at"] and body["answered_in_time"] is False
    stamped = stocked.client.get(index=stocked.names.requests, id="weibo:1")["_source"]
    assert stamped["answered_at"] == body["answered_at"]
    page = _rows(client, headers, overdue="true")
    assert {r["id"] for r in page["rows"]} == {"weibo:4"}
    assert page["overdue"] == {"all": 1, "critical": 0}
    row = next(r for r in _rows(client, headers)["rows"] if r["cluster"] == "c-late")
    assert row["clock"]["answered_at"] and "left_s" not in row["clock"]
    assert row["clock"]["waited_s"] >= 3 * 3600 - 60
    again = _change(client, headers, "weibo:1", status="triaged")
    assert again["answered_at"] == body["answered_at"]
    assert {r["id"] for r in _rows(client, headers, overdue="true")["rows"]} == {"weibo:4"}


def test_filing_as_a_duplicate_is_not_an_answer(client, stocked):
    headers = token_headers(stocked, "disp")
    body = _change(client, headers, "weibo:4", status="duplicate")
    assert "answered_at" not in body or body["answered_at"] is None
    assert _rows(client, headers, overdue="true")["overdue"] == {"all": 1, "critical": 1}


def test_analysts_see_the_share_answered_within_target_by_district_need_team_and_day(
    client, stocked
):
    headers = token_headers(stocked, "disp")
    _change(client, headers, "weibo:3", status="assigned", team="medical")  # in time
    _change(client, headers, "weibo:1", status="assigned", team="medical")  # late
    ana = token_headers(stocked, "ana")
    figures = client.get("/api/stats/clocks", headers=ana).json()
    # Decided: the two answered and the overdue normal one; weibo:5 is still inside its
    # target and not counted.
    assert (figures["decided"], figures["within"], figures["share"]) == (3, 1, 0.3333)
    assert figures["targets"] == {"critical": 3600, "high": 6 * 3600, "normal": 24 * 3600}
    district = {r["value"]: r for r in figures["district"]}
    assert (district["江岸区"]["decided"], district["江岸区"]["within"]) == (2, 1)
    assert district["武昌区"]["share"] == 0.0
    team = {r["value"]: r["within"] for r in figures["team"]}
    assert team["medical"] == 1
    need = {r["value"]: r["decided"] for r in figures["needs"]}
    assert need == {"bed": 2, "food": 1}
    assert sum(d["decided"] for d in figures["day"]) == 3
    response = client.get("/api/stats/clocks.csv?district=江岸区", headers=ana)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(response.text)))
    assert lines[0] == ["dimension", "value", "decided", "within_target", "share"]
    assert lines[1] == ["all", "", "2", "1", "0.5000"]
    assert "测试求助" not in response.text and "weibo:" not in response.text


def test_a_collapsed_row_shows_its_clusters_clock_whichever_member_stands_for_it(client, stocked):
    from helpers_backlog import jsonl

    from index import clusters
    from index.load import load

    # A normal request 30 hours old and its repost of an hour ago: sorted by time, the
    # repost stands for the cluster, but the request has waited 30 hours.
    slow = [
        _post(7, "normal", timedelta(hours=30), cluster="c-slow", district="江汉区"),
        _post(8, "normal", timedelta(hours=1), cluster="c-slow", district="江汉区"),
    ]
    load(stocked.client, stocked.names, jsonl(*slow))
    clusters.refresh(stocked.client, stocked.names, {"c-slow"})
    stocked.client.indices.refresh(index=f"{stocked.prefix}-*")
    rows = _rows(client, token_headers(stocked, "disp"), sort="recent", district="江汉区")
    (row,) = rows["rows"]
    assert row["id"] == "weibo:8"
    assert row["clock"]["overdue"] is True
    assert row["clock"]["waited_s"] >= 30 * 3600 - 60
