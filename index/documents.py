"""Turn an analysed help request (the `qiuzhu analyze` format) into backlog documents.

A document has two owners. The crawl and the NLP stage own the "crawled" part: it is
rewritten in full on every re-ingestion. Dispatchers own the workflow part (status, team,
assignee, notes): it is written once, when the request first enters the backlog, and never
again by ingestion. `bulk.update_actions` sends the crawled part as a partial update and the
whole document as the upsert, which is exactly that rule.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from index.mapping import (
    PERSONAL_FIELDS,
    PLACE_LEVELS,
    REQUEST_PROPERTIES,
    TEMPLATE_FIELDS,
    URGENCY_RANK,
    WORKFLOW_FIELDS,
)
from index.masking import masked_fields
from qiuzhu import profiles
from qiuzhu.errors import InvalidInput

KINDS = ("request", "offer", "update", "irrelevant")

_LIST_FIELDS = {"needs", "urgency_cues", "place_candidates", "images", "dedup_keys"}


def request_id(source: str, source_id: str) -> str:
    """Return the deterministic backlog id of a post: its source and the source's own id."""
    return f"{source}:{source_id}"


def teams() -> dict[str, str]:
    """Return the crisis profile's teams: label by team code (see README: teams)."""
    return dict(profiles.current().teams)


def default_team(needs: list[str]) -> str:
    """Return the team code a new request goes to by default, from its needs.

    The crisis profile decides (`qiuzhu.profiles.Profile.team_for`): people trapped go to
    the rescue team whatever else they need; otherwise the first need that has a team.
    """
    return profiles.current().team_for(needs)


def _as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, list | tuple):
        return [v for v in value if v not in (None, "")]
    return [value]


def _author_hash(author: Any) -> str | None:
    if not author:
        return None
    return hashlib.sha256(f"qiuzhu-author:{author}".encode()).hexdigest()[:20]


def _needs_cues(value: Any) -> dict[str, list[str]] | None:
    if not isinstance(value, dict):
        return None
    return {str(need): [str(p) for p in _as_list(phrases)] for need, phrases in value.items()}


def crawled_part(post: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """Return the crawl- and NLP-owned fields of POST, every one present (None when unknown).

    POST is one object of the `qiuzhu analyze` output, optionally with the crawl item's
    fields (source_id, title, images, raw, reply_state, deleted, truncated, repost_of,
    template).

    Raises:
        InvalidInput: POST lacks an id or text, or has a kind or urgency outside the taxonomy.
    """
    if not isinstance(post, dict):
        raise InvalidInput("expected a JSON object")
    text = post.get("text")
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("the post has no text")
    source = str(post.get("source") or "unknown")
    source_id = post.get("source_id")
    raw_id = post.get("id")
    if source_id in (None, "") and raw_id in (None, ""):
        raise InvalidInput("the post has no id")
    if source_id in (None, ""):
        source_id = str(raw_id)
        # An id that already carries its source ("weibo:123") is kept as it is.
        doc_id = source_id if source_id.startswith(f"{source}:") else request_id(source, source_id)
    else:
        doc_id = request_id(source, str(source_id))
    kind = post.get("kind") or "request"
    if kind not in KINDS:
        raise InvalidInput(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    urgency = post.get("urgency") or "normal"
    if urgency not in URGENCY_RANK:
        raise InvalidInput(f"urgency {urgency!r} is not one of {', '.join(URGENCY_RANK)}")
    template = post.get("template") or {}
    names = _as_list(post.get("names"))
    text_masked = post.get("text_masked")
    if not isinstance(text_masked, str) or not text_masked:
        # A post analysed without masking (an older `qiuzhu analyze`): never store its raw
        # text where roles without contact rights read and search.
        masked = masked_fields(text, template, names)
        names, text_masked = masked.names, masked.text_masked
    doc: dict[str, Any] = {key: None for key in REQUEST_PROPERTIES if key not in WORKFLOW_FIELDS}
    doc.update(
        id=doc_id,
        source=source,
        source_id=str(source_id),
        url=post.get("url"),
        author_hash=_author_hash(post.get("author")),
        posted_at=post.get("posted_at"),
        crawled_at=post.get("crawled_at") or (now or datetime.now(UTC)).isoformat(),
        analysed_at=(now or datetime.now(UTC)).isoformat(),
        title=post.get("title"),
        text=text,
        text_seg=post.get("text_seg"),
        text_masked=text_masked,
        reply_state=post.get("reply_state") or None,
        deleted=bool(post.get("deleted", False)),
        truncated=bool(post.get("truncated", False)),
        repost_of=post.get("repost_of"),
        kind=kind,
        outcome=post.get("outcome"),
        needs_cues=_needs_cues(post.get("needs_cues")),
        urgency=urgency,
        urgency_rank=URGENCY_RANK[urgency],
        raw=post.get("raw"),
        cluster=post.get("cluster") or f"c-{doc_id}",
        cluster_size=int(post.get("cluster_size") or 1),
        is_canonical=bool(post.get("is_canonical", True)),
    )
    doc["cluster_urgency_rank"] = int(post.get("cluster_urgency_rank") or doc["urgency_rank"])
    # Alone until the dedup stage says otherwise; `clusters.refresh` keeps these for clusters.
    doc["cluster_sources"] = [source]
    doc["cluster_last_at"] = doc["posted_at"]
    doc["cluster_first_at"] = doc["posted_at"]
    doc["cluster_update"] = None
    for key in _LIST_FIELDS:
        doc[key] = [str(v) for v in _as_list(post.get(key))]
    for level in PLACE_LEVELS:
        doc[level] = post.get(level) or None
        doc[f"{level}_code"] = post.get(f"{level}_code") or None
    offer = post.get("offer") if kind == "offer" else None
    if isinstance(offer, dict) and any(offer.get(k) for k in ("capacity", "expires_at")):
        doc["offer"] = {
            "capacity": int(offer["capacity"]) if offer.get("capacity") else None,
            "unit": offer.get("unit") or None,
            "expires_at": offer.get("expires_at") or None,
        }
    doc["template"] = {key: template.get(key) or None for key in TEMPLATE_FIELDS}
    doc["personal"] = {
        "names": names,
        "template_name": template.get("name") or None,
        "phones": _as_list(post.get("phones")),
        "id_numbers": _as_list(post.get("id_numbers")),
        "contact": template.get("contact") or None,
        "emergency_contact": template.get("emergency_contact") or None,
    }
    assert set(doc["personal"]) == set(PERSONAL_FIELDS)
    return doc


def workflow_defaults(crawled: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """Return the workflow fields a request starts with when it first enters the backlog."""
    return {
        "status": "new",
        "team": default_team(crawled.get("needs") or []),
        "assignee": None,
        "notes_count": 0,
        "updated_at": (now or datetime.now(UTC)).isoformat(),
        "updated_by": "ingest",
        "merged_into": None,
        "apart_from": None,
        "answered_at": None,
        "answered_in_time": None,
        "links": [],
        "offer_used": 0,
        "offer_used_up": False,
    }
