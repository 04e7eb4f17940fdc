"""Dispatchers' corrections through the API: applied at once, recorded in the history,
kept as training examples, codes checked, places resolved, and never overwritten by
re-ingestion."""

from __future__ import annotations

import pytest
from helpers_api import api_client, stock_posts, token_headers
from helpers_backlog import jsonl

from index import corrections
from index.load import load

POSTS = [
    {
        "id": "1",
        "source": "weibo",
        "url": "https://weibo.example/1",
        "kind": "request",
        "text": "我爸爸在家透析中断三天了，人有点糊涂，江岸区，求助",
        "needs": ["bed"],
        "urgency": "high",
        "province": "湖北省",
        "city": "武汉市",
        "district": "武昌区",
        "posted_at": "2020-02-05T10:00:00+08:00",
        "cluster": "c-1",
    },
    {
        "id": "2",
        "source": "douban",
        "url": "https://douban.example/2",
        "kind": "request",
        "text": "转：父亲透析中断三天 人糊涂了 求助",
        "needs": ["bed"],
        "urgency": "normal",
        "posted_at": "2020-02-05T11:00:00+08:00",
        "cluster": "c-1",
    },
]


@pytest.fixture
def stocked(backlog):
    return stock_posts(backlog, POSTS, {"c-1"})


@pytest.fixture
def client(stocked):
    with api_client() as client:
        yield client


def _correct(client, headers, request_id="weibo:1", **change):
    version = client.get(f"/api/requests/{request_id}", headers=headers).json()["version"]
    return client.post(
        f"/api/requests/{request_id}/correction",
        json={"version": version, **change},
        headers=headers,
    )


def test_a_correction_is_applied_recorded_and_kept_as_a_training_example(client, stocked):
    headers = token_headers(stocked, "disp")
    response = _correct(
        client, headers, needs=["urgent_care"], urgency="critical", district="江岸区"
    )
    assert response.status_code == 200, response.text
    detail = response.json()
    assert detail["needs"] == ["urgent_care"] and detail["urgency"] == "critical"
    assert detail["district"] == "江岸区" and detail["district_code"] == "420102"
    assert detail["corrected"] == ["needs", "place", "urgency"]
    changes = {e["field"]: (e["old"], e["new"]) for e in detail["history"]}
    assert changes["needs"] == ("bed", "urgent_care")
    assert changes["urgency"] == ("high", "critical")
    assert changes["district"] == ("武昌区", "江岸区")
    assert {e["user"] for e in detail["history"]} == {"disp"}
    kept = corrections.labels(stocked.client, stocked.names)
    assert len(kept) == 1
    label = kept[0]
    assert label["request_id"] == "weibo:1" and label["user"] == "disp"
    assert label["before"]["needs"] == ["bed"] and label["after"]["needs"] == ["urgent_care"]
    assert label["before"]["urgency"] == "high" and label["after"]["urgency"] == "critical"
    # The cluster's urgency follows: the repost's row shows the corrected critical too.
    rows = client.get("/api/requests", headers=headers).json()["rows"]
    assert rows[0]["cluster_urgency_rank"] == 3


def test_re_ingestion_keeps_the_correction_and_a_second_one_keeps_the_first_before(client, stocked):
    headers = token_headers(stocked, "disp")
    assert _correct(client, headers, needs=["urgent_care"]).status_code == 200
    load(stocked.client, stocked.names, jsonl(*POSTS))
    stocked.client.indices.refresh(index=f"{stocked.prefix}-*")
    after = client.get("/api/requests/weibo:1", headers=headers).json()
    assert after["needs"] == ["urgent_care"] and after["corrected"] == ["needs"]
    # The uncorrected repost is rewritten as crawled.
    assert client.get("/api/requests/douban:2", headers=headers).json()["needs"] == ["bed"]
    assert _correct(client, headers, needs=["urgent_care", "transport"]).status_code == 200
    (label,) = corrections.labels(stocked.client, stocked.names)
    assert label["before"]["needs"] == ["bed"]
    assert label["after"]["needs"] == ["transport", "urgent_care"]


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"kind": "question"}, 400, "Unknown kind"),
        ({"needs": ["beds"]}, 400, "Unknown need"),
        ({"urgency": "urgent"}, 400, "Unknown urgency"),
        ({"district": "东城区"}, 400, "no district named"),
        ({"street": "后湖街道"}, 400, "from its district"),
        ({"needs": ["bed"]}, 400, "changes nothing"),
        ({}, 400, "at least one"),
    ],
)
def test_bad_corrections_are_refused_with_the_reason(client, stocked, change, status, message):
    response = _correct(client, token_headers(stocked, "disp"), **change)
    assert response.status_code == status and message in response.json()["error"]


def test_only_dispatchers_correct_and_against_the_version_they_saw(client, stocked):
    assert _correct(client, token_headers(stocked, "ana"), urgency="critical").status_code == 403
    stale = client.post(
        "/api/requests/weibo:1/correction",
        json={"version": "999:1", "urgency": "critical"},
        headers=token_headers(stocked, "disp"),
    )
    assert stale.status_code == 409
    assert corrections.labels(stocked.client, stocked.names) == []
