"""Workflow through the API: every transition, teams, notes, history, conflicts, merge and undo."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from helpers_api import add_users, stock, token_headers

from api.app import create_app
from index.workflow import TRANSITIONS


@pytest.fixture
def stocked(backlog):
    stock(backlog)
    add_users(backlog)
    return backlog


@pytest.fixture
def client(stocked):
    with TestClient(create_app(secret=b"s")) as client:
        yield client


def _change(client, headers, request_id, **change):
    version = client.get(f"/api/requests/{request_id}", headers=headers).json()["version"]
    return client.post(
        f"/api/requests/{request_id}/workflow",
        json={"version": version, **change},
        headers=headers,
    )


EDGES = [(old, new) for old, news in TRANSITIONS.items() for new in news]


@pytest.mark.parametrize(("old", "new"), EDGES)
def test_every_allowed_transition_is_applied_and_recorded(client, stocked, old, new):
    headers = token_headers(stocked, "disp")
    path = {"new": [], "triaged": ["triaged"], "assigned": ["assigned"]}.get(old)
    if path is None:  # a closed status is reached from assigned (resolved) or new (others)
        path = ["assigned", old] if old == "resolved" else [old]
    for status in [*path, new]:
        response = _change(client, headers, "weibo:6", status=status)
        assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == new
    statuses = [e["new"] for e in body["history"] if e["action"] == "status"]
    assert statuses == [*path, new] and {e["user"] for e in body["history"]} == {"disp"}


def test_a_transition_the_workflow_does_not_allow_is_a_400_naming_the_allowed_ones(client, stocked):
    response = _change(client, token_headers(stocked, "disp"), "weibo:6", status="resolved")
    assert response.status_code == 400
    assert "cannot become resolved; it can become triaged, assigned" in response.json()["error"]


def test_assignment_sets_team_assignee_and_status_with_history(client, stocked):
    headers = token_headers(stocked, "root")
    body = _change(
        client, headers, "weibo:4", team="grid", assignee="中南路志愿者", note="已联系社区"
    ).json()
    assert (body["status"], body["team"], body["assignee"]) == ("assigned", "grid", "中南路志愿者")
    actions = sorted(e["action"] for e in body["history"])
    assert actions == ["assign", "note", "status", "team"]
    assert body["notes_count"] == 1


def test_default_team_comes_from_the_need(client, stocked):
    headers = token_headers(stocked, "disp")
    teams = {
        r["id"]: r["team"]
        for r in client.get("/api/requests?collapse=false", headers=headers).json()["rows"]
    }
    assert (teams["weibo:1"], teams["weibo:4"], teams["weibo:6"]) == (
        "medical",
        "living",
        "transport",
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"team": "nobody"}, "Unknown team"),
        ({"status": "done"}, "Unknown status"),
        ({"note": "   "}, "note"),
        ({"version": "latest"}, "`version`"),
        ({"version": None}, "`version`"),
    ],
)
def test_bad_workflow_changes_are_400s(client, stocked, change, message):
    headers = token_headers(stocked, "disp")
    version = client.get("/api/requests/weibo:6", headers=headers).json()["version"]
    body = {"version": version, **change}
    response = client.post("/api/requests/weibo:6/workflow", json=body, headers=headers)
    assert response.status_code == 400 and message in response.json()["error"]


def test_two_dispatchers_changing_the_same_version_get_a_409(client, stocked):
    first, second = token_headers(stocked, "disp"), token_headers(stocked, "disp2")
    seen = client.get("/api/requests/weibo:6", headers=first).json()["version"]
    ok = client.post(
        "/api/requests/weibo:6/workflow",
        json={"version": seen, "status": "triaged"},
        headers=first,
    )
    assert ok.status_code == 200
    late = client.post(
        "/api/requests/weibo:6/workflow",
        json={"version": seen, "status": "closed"},
        headers=second,
    )
    assert late.status_code == 409
    assert "Someone else changed this request" in late.json()["error"]
    now = client.get("/api/requests/weibo:6", headers=first).json()
    assert now["status"] == "triaged" and now["updated_by"] == "disp"


def test_merge_two_clusters_and_undo_restores_exactly(client, stocked):
    headers = token_headers(stocked, "disp")
    merged = client.post(
        "/api/clusters/merge", json={"first": "c-weibo:5", "second": "c-weibo:4"}, headers=headers
    )
    assert merged.status_code == 200, merged.text
    result = merged.json()
    # The cluster whose canonical post is older keeps its id.
    assert (result["into"], result["from"], result["moved"]) == (
        "c-weibo:4",
        "c-weibo:5",
        ["weibo:5"],
    )
    members = client.get("/api/clusters/c-weibo:4", headers=headers).json()
    assert [m["id"] for m in members["members"]] == ["weibo:4", "weibo:5"]
    assert members["merges"][0]["undone"] is False
    row = client.get("/api/requests?district=武昌区", headers=headers).json()["rows"]
    assert len(row) == 1 and row[0]["cluster_size"] == 2

    undone = client.post(f"/api/merges/{result['merge_id']}/undo", headers=headers)
    assert undone.status_code == 200 and undone.json()["moved_back"] == ["weibo:5"]
    rows = client.get("/api/requests?district=武昌区", headers=headers).json()["rows"]
    assert sorted((r["id"], r["cluster"], r["cluster_size"]) for r in rows) == [
        ("weibo:4", "c-weibo:4", 1),
        ("weibo:5", "c-weibo:5", 1),
    ]
    again = client.post(f"/api/merges/{result['merge_id']}/undo", headers=headers)
    assert again.status_code == 409 and "undone already" in again.json()["error"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"first": "c-a", "second": "c-a"}, 400, "itself"),
        ({"first": "c-a", "second": "c-missing"}, 404, "c-missing"),
        ({"first": "c-a"}, 400, "second"),
    ],
)
def test_bad_merges_are_refused(client, stocked, body, status, message):
    response = client.post("/api/clusters/merge", json=body, headers=token_headers(stocked, "disp"))
    assert response.status_code == status and message in response.json()["error"]


def test_undo_of_an_unknown_merge_is_404(client, stocked):
    response = client.post("/api/merges/nope/undo", headers=token_headers(stocked, "disp"))
    assert response.status_code == 404


def test_an_update_post_suggests_closing_its_request(client, stocked):
    headers = token_headers(stocked, "disp")
    detail = client.get("/api/requests/weibo:1", headers=headers).json()
    assert detail["update"]["outcome"] == "admitted" and detail["update"]["suggests"] == "resolved"


def test_a_wrongly_linked_request_is_detached_and_recorded(client, stocked):
    headers = token_headers(stocked, "disp")
    merged = client.post(
        "/api/clusters/merge", json={"first": "c-weibo:5", "second": "c-weibo:4"}, headers=headers
    )
    assert merged.status_code == 200
    detached = client.post("/api/requests/weibo:5/detach", headers=headers)
    assert detached.status_code == 200, detached.text
    body = detached.json()
    assert (body["from"], body["apart_from"]) == ("c-weibo:4", ["weibo:4"])
    after = client.get("/api/requests/weibo:5", headers=headers).json()
    assert after["cluster"] == body["cluster"] != "c-weibo:4" and after["cluster_size"] == 1
    assert [e["action"] for e in after["history"]][-1] == "detach"
    alone = client.post("/api/requests/weibo:5/detach", headers=headers)
    assert alone.status_code == 400 and "alone" in alone.json()["error"]
    missing = client.post("/api/requests/weibo:nope/detach", headers=headers)
    assert missing.status_code == 404
