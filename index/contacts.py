"""Contact data of a request: shown only on purpose, and every showing is recorded.

A reveal appends an event (`action=reveal`) to the request's history in the events index
before the data is returned, so there is no way to see a phone number without leaving a
trace of who saw it and when.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch

from index.client import answering
from index.mapping import PERSONAL_FIELDS, Names
from index.workflow import Actor, get_request


def record(
    client: Elasticsearch,
    names: Names,
    actor: Actor,
    *,
    request_id: str,
    cluster: str | None,
    action: str,
    note: str | None = None,
) -> None:
    """Append one access event to the events index."""
    event = {
        "request_id": request_id,
        "cluster": cluster,
        "at": datetime.now(UTC).isoformat(),
        "user": actor.user,
        "role": actor.role,
        "action": action,
        "field": "contact",
        "note": note,
    }
    with answering(client):
        client.index(index=names.events, document=event, refresh=True)


def reveal(client: Elasticsearch, names: Names, request_id: str, actor: Actor) -> dict[str, Any]:
    """Return the full text and contact data of a request, after recording the reveal.

    Raises:
        NotFound: no request has that id.
    """
    source, _ = get_request(client, names, request_id)
    record(
        client,
        names,
        actor,
        request_id=request_id,
        cluster=source.get("cluster"),
        action="reveal",
    )
    personal = source.get("personal") or {}
    return {
        "id": request_id,
        "text": source.get("text") or "",
        "title": source.get("title"),
        "address": (source.get("template") or {}).get("address"),
        "url": source.get("url"),
        **{key: personal.get(key) for key in PERSONAL_FIELDS},
    }
