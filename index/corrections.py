"""Dispatchers' corrections of what the classifier said: kept, applied, and taught back.

A dispatcher corrects a request's kind, needs, urgency or place. The correction is
written onto the request at once, recorded in its history, and kept in the labels index
(`<prefix>-labels`, one document per request) as a training example: who, when, what
the classifier said first (`before`, kept from the first correction on) and what it is
(`after`). Ingestion rewrites a request's NLP fields on every run, so `apply` puts the
corrections back onto every batch before it is written (`index.backlog.write_batch`):
a correction is never overwritten by re-ingestion. `qiuzhu train --with-corrections`
reads them back as examples (`examples`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError, helpers

from index.admin import register_side_index
from index.client import answering
from index.mapping import DATE, KEYWORD, URGENCY_RANK, Names
from index.workflow import Actor, Version, get_request, record, update_as_of
from qiuzhu.errors import Conflict, InvalidInput

log = logging.getLogger(__name__)

PLACE_FIELDS = (
    "district",
    "district_code",
    "street",
    "street_code",
    "community",
    "community_code",
)
#: What a correction may change, and the fields each names.
FIELDS: dict[str, tuple[str, ...]] = {
    "kind": ("kind",),
    "needs": ("needs",),
    "urgency": ("urgency",),
    "place": PLACE_FIELDS,
}
_LABELLED = ("kind", "needs", "urgency", *PLACE_FIELDS)
_SIDE = {"dynamic": "strict", "properties": {f: KEYWORD for f in _LABELLED}}
LABEL_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "request_id": KEYWORD,
        "source": KEYWORD,
        "at": DATE,
        "first_at": DATE,
        "posted_at": DATE,
        "user": KEYWORD,
        "role": KEYWORD,
        # What was corrected (kind, needs, urgency, place), over every correction.
        "fields": KEYWORD,
        "before": _SIDE,
        "after": _SIDE,
    },
}
register_side_index("labels", LABEL_MAPPING)


def _side(source: dict[str, Any]) -> dict[str, Any]:
    side = {f: source.get(f) for f in _LABELLED}
    side["needs"] = sorted(side.get("needs") or [])
    return side


def _label(client: Elasticsearch, names: Names, request_id: str) -> dict[str, Any] | None:
    with answering(client):
        try:
            doc = client.get(index=names.labels, id=request_id)
        except NotFoundError:
            return None
    source: dict[str, Any] = doc["_source"]
    return source


def correct(
    client: Elasticsearch,
    names: Names,
    request_id: str,
    actor: Actor,
    version: Version,
    changes: dict[str, Any],
    now: datetime | None = None,
) -> dict[str, Any]:
    """Apply a dispatcher's correction CHANGES (kind, needs, urgency, and the place fields)
    to a request, record it in its history and keep it as a training example.

    The API checks the codes against the taxonomy and resolves the place's codes. Returns
    the request's new source.

    Raises:
        InvalidInput: nothing to correct, or a field no correction may change.
        Conflict: someone changed the request after VERSION.
        NotFound: no such request.
    """
    allowed = {f for fields in FIELDS.values() for f in fields}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput(f"A correction cannot change {', '.join(sorted(unknown))}.")
    if "urgency" in changes and changes["urgency"] not in URGENCY_RANK:
        raise InvalidInput(f"Unknown urgency {changes['urgency']!r}.")
    now = now or datetime.now(UTC)
    current, seen = get_request(client, names, request_id)
    if (version.seq_no, version.primary_term) != (seen.seq_no, seen.primary_term):
        raise Conflict(
            "Someone else changed this request since you opened it: reload it and "
            "apply your correction again."
        )
    changed = {k: v for k, v in changes.items() if _norm(v) != _norm(current.get(k))}
    if not changed:
        raise InvalidInput("The correction changes nothing: every value is what it was.")
    existing = _label(client, names, request_id)
    before = existing["before"] if existing else _side(current)
    after = _side({**current, **changed})
    earlier = set(existing.get("fields") or []) if existing else set()
    fields = sorted(
        {name for name, keys in FIELDS.items() if any(k in changed for k in keys)} | earlier
    )
    update: dict[str, Any] = {**changed, "updated_at": now.isoformat(), "updated_by": actor.user}
    if "urgency" in changed:
        update["urgency_rank"] = URGENCY_RANK[changed["urgency"]]
    update["corrected"] = fields
    if update_as_of(client, names, request_id, seen, update) is None:
        raise Conflict("Someone else changed this request meanwhile: reload it and try again.")
    base = {
        "request_id": request_id,
        "cluster": current.get("cluster"),
        "at": now.isoformat(),
        "user": actor.user,
        "role": actor.role,
        "action": "correct",
    }
    events = [
        {**base, "field": key, "old": _text(current.get(key)), "new": _text(value)}
        for key, value in changed.items()
        if not key.endswith("_code")
    ]
    label = {
        "request_id": request_id,
        "source": current.get("source"),
        "at": now.isoformat(),
        "first_at": (existing or {}).get("first_at") or now.isoformat(),
        "posted_at": current.get("posted_at"),
        "user": actor.user,
        "role": actor.role,
        "fields": fields,
        "before": before,
        "after": after,
    }
    with answering(client):
        client.index(index=names.labels, id=request_id, document=label, refresh="wait_for")
        record(client, names, events)
    _refresh_derived(client, names, current, changed)
    return {**current, **update}


def _norm(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return sorted(str(v) for v in value)
    return value or None


def _text(value: Any) -> str | None:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return None if value is None else str(value)


def _refresh_derived(
    client: Elasticsearch, names: Names, current: dict[str, Any], changed: dict[str, Any]
) -> None:
    """Recompute what the correction changes elsewhere: the cluster's urgency, the lists'
    offer counts."""
    if "urgency" in changed and current.get("cluster"):
        from index import clusters

        clusters.refresh(client, names, {current["cluster"]})
        with answering(client):
            client.indices.refresh(index=names.requests)
    if current.get("kind") == "offer" or "kind" in changed:
        from index import offer_counts

        offer_counts.invalidate(names)


def apply(client: Elasticsearch, names: Names, docs: list[dict[str, Any]]) -> int:
    """Put the kept corrections back onto DOCS (crawled parts about to be written).

    Returns how many documents a correction changed. A backlog without a labels index
    has none.
    """
    if not docs:
        return 0
    with answering(client):
        try:
            found = client.mget(
                index=names.labels,
                ids=[d["id"] for d in docs],
                source_includes=["after", "fields"],
            )
        except NotFoundError:
            return 0
    labels = {d["_id"]: d["_source"] for d in found["docs"] if d.get("found")}
    applied = 0
    for doc in docs:
        label = labels.get(doc["id"])
        if not label:
            continue
        after = label.get("after") or {}
        for name in label.get("fields") or []:
            for key in FIELDS.get(name, ()):
                doc[key] = after.get(key) if key != "needs" else list(after.get("needs") or [])
        if "urgency" in (label.get("fields") or []) and doc.get("urgency") in URGENCY_RANK:
            doc["urgency_rank"] = URGENCY_RANK[doc["urgency"]]
        doc["corrected"] = list(label.get("fields") or [])
        applied += 1
    return applied


def labels(client: Elasticsearch, names: Names) -> list[dict[str, Any]]:
    """Return every kept correction, oldest first."""
    with answering(client):
        if not client.indices.exists(index=names.labels):
            return []
        hits = helpers.scan(client, index=names.labels, query={"query": {"match_all": {}}})
        found = [h["_source"] for h in hits]
    return sorted(found, key=lambda label: (label.get("at") or "", label["request_id"]))


def posts_of(client: Elasticsearch, names: Names, kept: list[dict[str, Any]]) -> dict[str, dict]:
    """Return the text, source and time of the requests KEPT names (for training only)."""
    ids = [label["request_id"] for label in kept]
    out: dict[str, dict] = {}
    for start in range(0, len(ids), 1000):
        with answering(client):
            found = client.mget(
                index=names.requests,
                ids=ids[start : start + 1000],
                source_includes=["text", "source", "posted_at"],
            )
        out.update({d["_id"]: d["_source"] for d in found["docs"] if d.get("found")})
    return out
