"""Dispatchers' workflow: transitions, teams, notes, history, and edit conflicts."""

from __future__ import annotations

import threading

import pytest
from helpers_backlog import jsonl, post

from index import workflow
from index.load import load
from qiuzhu.errors import Conflict, InvalidInput, NotFound

ACTOR = workflow.Actor("disp1", "dispatcher")


@pytest.fixture
def one(backlog):
    load(backlog.client, backlog.names, jsonl(post(1)))
    return backlog


@pytest.mark.parametrize(
    "path",
    [
        ["triaged", "assigned", "resolved"],
        ["assigned", "resolved", "triaged"],
        ["triaged", "duplicate"],
        ["unreachable", "triaged", "closed"],
    ],
)
def test_allowed_transitions_are_applied_and_recorded(one, path):
    for status in path:
        workflow.change(one.client, one.names, "fixture:1", ACTOR, status=status)
    doc, _ = workflow.get_request(one.client, one.names, "fixture:1")
    assert doc["status"] == path[-1]
    events = workflow.history(one.client, one.names, "fixture:1")
    assert [e["new"] for e in events if e["action"] == "status"] == path
    assert {e["user"] for e in events} == {"disp1"}


@pytest.mark.parametrize(
    ("path", "bad"),
    [([], "resolved"), (["resolved"], "assigned"), (["triaged", "assigned", "resolved"], "closed")],
)
def test_disallowed_transition_is_refused_with_what_is_allowed(one, path, bad):
    with pytest.raises(InvalidInput, match="it can become"):
        for status in [*path, bad]:
            workflow.change(one.client, one.names, "fixture:1", ACTOR, status=status)


def test_unknown_status_team_and_request_are_refused(one):
    with pytest.raises(InvalidInput, match="Unknown status"):
        workflow.change(one.client, one.names, "fixture:1", ACTOR, status="done")
    with pytest.raises(InvalidInput, match="Unknown team"):
        workflow.change(one.client, one.names, "fixture:1", ACTOR, team="nobody")
    with pytest.raises(NotFound):
        workflow.change(one.client, one.names, "fixture:404", ACTOR, status="triaged")
    with pytest.raises(InvalidInput, match="note"):
        workflow.change(one.client, one.names, "fixture:1", ACTOR, note="   ")


def test_assigning_moves_a_new_request_to_assigned(one):
    doc, _ = workflow.change(
        one.client, one.names, "fixture:1", ACTOR, team="medical", assignee="医疗队3"
    )
    assert (doc["status"], doc["team"], doc["assignee"]) == ("assigned", "medical", "医疗队3")


def test_two_dispatchers_editing_the_same_version_conflict(one):
    _, seen = workflow.get_request(one.client, one.names, "fixture:1")
    workflow.change(
        one.client,
        one.names,
        "fixture:1",
        workflow.Actor("a", "dispatcher"),
        seen,
        status="triaged",
    )
    with pytest.raises(Conflict, match="reload"):
        workflow.change(
            one.client,
            one.names,
            "fixture:1",
            workflow.Actor("b", "dispatcher"),
            seen,
            status="closed",
        )
    doc, _ = workflow.get_request(one.client, one.names, "fixture:1")
    assert doc["status"] == "triaged" and doc["updated_by"] == "a"


def test_a_change_is_in_the_next_search_at_once(one):
    # The backlog publishes unpublished writes only every INDEX_REFRESH_INTERVAL: a
    # dispatcher's change publishes itself, neither waiting for that nor left unseen.
    one.client.indices.put_settings(
        index=one.names.requests, settings={"index": {"refresh_interval": "10m"}}
    )
    done = threading.Thread(
        target=workflow.change,
        args=(one.client, one.names, "fixture:1", ACTOR),
        kwargs={"status": "triaged"},
    )
    done.start()
    done.join(timeout=60)
    assert not done.is_alive(), "the change waited for the backlog's periodic refresh"
    found = one.client.search(
        index=one.names.requests, query={"term": {"status": "triaged"}}, source=False
    )
    assert [hit["_id"] for hit in found["hits"]["hits"]] == ["fixture:1"]
