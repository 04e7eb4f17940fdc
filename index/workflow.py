"""Dispatchers' workflow on a request: status, team, assignee, notes, and their history.

Every change is checked against the version the dispatcher saw (Elasticsearch's seq_no and
primary_term), so two dispatchers editing the same request never overwrite each other
silently: the second gets a `Conflict` and reloads. Every change is also appended to the
events index, which ingestion never writes, so history survives any re-ingestion.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

from index import clocks
from index.client import answering
from index.documents import teams
from index.mapping import Names
from qiuzhu.errors import Conflict, InvalidInput, NotFound

log = logging.getLogger(__name__)

OPEN = ("new", "triaged", "assigned")
CLOSED = ("resolved", "duplicate", "unreachable", "closed")
STATUSES = OPEN + CLOSED
#: Which status may follow which. Closing as duplicate, unreachable or closed is allowed from
#: any open status; a closed request can be reopened into triage.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("triaged", "assigned", "duplicate", "unreachable", "closed"),
    "triaged": ("assigned", "duplicate", "unreachable", "closed"),
    "assigned": ("resolved", "triaged", "duplicate", "unreachable", "closed"),
    "resolved": ("triaged",),
    "duplicate": ("triaged",),
    "unreachable": ("triaged",),
    "closed": ("triaged",),
}


@dataclass(frozen=True)
class Version:
    """The version of a request a dispatcher saw."""

    seq_no: int
    primary_term: int


@dataclass(frozen=True)
class Actor:
    """Who makes a change."""

    user: str
    role: str


def get_request(
    client: Elasticsearch, names: Names, request_id: str
) -> tuple[dict[str, Any], Version]:
    """Return a request's source and its version.

    Raises:
        NotFound: no request has that id.
    """
    with answering(client):
        try:
            doc = client.get(index=names.requests, id=request_id)
        except NotFoundError:
            raise NotFound(f"No request has the id {request_id!r}.") from None
    return doc["_source"], Version(doc["_seq_no"], doc["_primary_term"])


def record(client: Elasticsearch, names: Names, events: list[dict[str, Any]]) -> None:
    """Append EVENTS to the history index, each published before this returns."""
    for event in events:
        client.index(index=names.events, document=event, refresh="wait_for")


def update_as_of(
    client: Elasticsearch, names: Names, post_id: str, version: Version, doc: dict[str, Any]
) -> Version | None:
    """Write DOC onto a post as of VERSION and return its new version; None when someone
    wrote it in between (read it again and retry, or tell the dispatcher)."""
    with answering(client):
        try:
            result = client.update(
                index=names.requests,
                id=post_id,
                doc=doc,
                if_seq_no=version.seq_no,
                if_primary_term=version.primary_term,
                # Published at once: waiting for the backlog's periodic refresh
                # (INDEX_REFRESH_INTERVAL) would hold the dispatcher for up to 30 s.
                refresh=True,
            )
        except ConflictError:
            return None
    return Version(result["_seq_no"], result["_primary_term"])


def _take_on(
    current: dict[str, Any],
    base: dict[str, Any],
    update: dict[str, Any],
    events: list[dict[str, Any]],
) -> None:
    """Move a request nobody answered yet (new or triaged) to assigned, as a recorded step."""
    if current.get("status") not in ("new", "triaged"):
        return
    update["status"] = "assigned"
    events.append(
        {
            **base,
            "action": "status",
            "field": "status",
            "old": current.get("status"),
            "new": "assigned",
        }
    )


def change(
    client: Elasticsearch,
    names: Names,
    request_id: str,
    actor: Actor,
    version: Version | None = None,
    *,
    status: str | None = None,
    team: str | None = None,
    assignee: str | None = None,
    note: str | None = None,
    link: str | None = None,
    unlink: str | None = None,
) -> tuple[dict[str, Any], Version]:
    """Apply a dispatcher's change to one request and record it in its history.

    LINK and UNLINK add or remove an offer on the request's links (index/offers.py keeps
    the offer's side); a link moves a request nobody answered yet to assigned.

    VERSION is what the dispatcher saw; without it, the current version is used (a CLI
    action, say). Returns the new source and version.

    Raises:
        InvalidInput: unknown status or team, a transition the workflow does not allow.
        Conflict: someone changed the request after VERSION.
        NotFound: no such request.
    """
    current, seen = get_request(client, names, request_id)
    version = version or seen
    if (version.seq_no, version.primary_term) != (seen.seq_no, seen.primary_term):
        raise Conflict(
            "Someone else changed this request since you opened it: reload it and "
            "apply your change again."
        )
    stamp = datetime.now(UTC)
    now = stamp.isoformat()
    update: dict[str, Any] = {}
    events: list[dict[str, Any]] = []
    base = {
        "request_id": request_id,
        "cluster": current.get("cluster"),
        "at": now,
        "user": actor.user,
        "role": actor.role,
    }
    if status is not None and status != current.get("status"):
        if status not in STATUSES:
            raise InvalidInput(f"Unknown status {status!r}: use one of {', '.join(STATUSES)}.")
        allowed = TRANSITIONS.get(current.get("status") or "new", ())
        if status not in allowed:
            raise InvalidInput(
                f"A request that is {current.get('status')} cannot become "
                f"{status}; it can become {', '.join(allowed)}."
            )
        update["status"] = status
        events.append(
            {
                **base,
                "action": "status",
                "field": "status",
                "old": current.get("status"),
                "new": status,
            }
        )
    if team is not None and team != current.get("team"):
        known = teams()
        if team not in known:
            raise InvalidInput(f"Unknown team {team!r}: use one of {', '.join(known)}.")
        update["team"] = team
        events.append(
            {**base, "action": "team", "field": "team", "old": current.get("team"), "new": team}
        )
    if assignee is not None and assignee != current.get("assignee"):
        update["assignee"] = assignee or None
        events.append(
            {
                **base,
                "action": "assign",
                "field": "assignee",
                "old": current.get("assignee"),
                "new": assignee or None,
            }
        )
        if assignee and status is None:
            _take_on(current, base, update, events)
    linked = list(current.get("links") or [])
    if link is not None and link not in linked:
        update["links"] = [*linked, link]
        events.append({**base, "action": "link", "field": "links", "new": link})
        if status is None:
            _take_on(current, base, update, events)
    if unlink is not None and unlink in linked:
        update["links"] = [offer for offer in linked if offer != unlink]
        events.append({**base, "action": "unlink", "field": "links", "old": unlink})
    if note is not None:
        note = note.strip()
        if not note or len(note) > 4000:
            raise InvalidInput("A note must have between 1 and 4000 characters.")
        update["notes_count"] = int(current.get("notes_count") or 0) + 1
        events.append({**base, "action": "note", "note": note})
    if not update:
        return current, seen
    answer = clocks.answer_fields(client, names, current, update.get("status", ""), stamp)
    update.update(answer)
    update.update(updated_at=now, updated_by=actor.user)
    written = update_as_of(client, names, request_id, version, update)
    if written is None:
        raise Conflict(
            "Someone else changed this request since you opened it: reload it "
            "and apply your change again."
        )
    with answering(client):
        record(client, names, events)
    # The cluster has one clock: answering one member stops it for all.
    clocks.stamp_cluster(client, names, current.get("cluster") or "", answer)
    return {**current, **update}, written


def history(client: Elasticsearch, names: Names, request_id: str) -> list[dict[str, Any]]:
    """Return every recorded change and note of a request, oldest first."""
    with answering(client):
        response = client.search(
            index=names.events,
            query={"term": {"request_id": request_id}},
            sort=[{"at": "asc"}],
            size=1000,
            ignore_unavailable=True,
        )
    return [h["_source"] for h in response["hits"]["hits"]]
