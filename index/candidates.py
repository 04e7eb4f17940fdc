"""Duplicate candidates: how a writer reads the backlog posts a batch may duplicate.

Candidates are the backlog documents sharing a blocking key with the batch, found with
one terms query per chunk of keys and read from their dedup card (doc values only), or
from their source when written without one (`index.clusters.assign` decides them).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch

from index.client import answering
from index.mapping import Names

#: Source fields a `same_episode` decision may read from a backlog document (candidates
#: come with their dedup card instead; these serve documents written without one).
CANDIDATE_FIELDS = [
    "id",
    "text",
    "template",
    "personal",
    "cluster",
    "posted_at",
    "district",
    "street",
    "community",
    "needs",
    "kind",
    "dedup_keys",
    "urgency_rank",
    "source",
    "repost_of",
    "source_id",
]
_KEYS_PER_QUERY = 20_000  # one query per batch: the terms query allows 65,536
_PAGE = 5_000
#: What a candidate is fetched with: doc values only, no stored fields. Loading and
#: filtering each candidate's source was most of the cost of a candidate, to Elasticsearch
#: and to the writer, which then computed its signature from the text again.
_CARD_FIELDS: list[dict[str, Any]] = [
    {"field": "id"},
    {"field": "cluster"},
    {"field": "posted_at", "format": "epoch_millis"},
    {"field": "dedup_card"},
]


def candidates(client: Elasticsearch, names: Names, keys: list[str]) -> list[dict[str, Any]]:
    """Return every backlog document sharing a key with KEYS, as a post `same_episode` reads.

    Each is read from its dedup card (`classify.cards.from_card`), with `id`, `cluster`
    and `posted_at` (epoch milliseconds); a document without a card, from its source.
    """
    from classify.cards import from_card  # the NLP stage's format; loaded by writers only

    found: dict[str, dict[str, Any]] = {}
    uncarded: list[str] = []
    for start in range(0, len(keys), _KEYS_PER_QUERY):
        chunk = keys[start : start + _KEYS_PER_QUERY]
        after: list[Any] | None = None
        while True:
            with answering(client):
                response = client.search(
                    index=names.requests,
                    query={"terms": {"dedup_keys": chunk}},
                    size=_PAGE,
                    sort=[{"id": "asc"}],
                    search_after=after,
                    source=False,
                    stored_fields="_none_",
                    docvalue_fields=_CARD_FIELDS,
                    ignore_unavailable=True,
                    track_total_hits=False,
                )
            hits = response["hits"]["hits"]
            for hit in hits:
                fields = hit["fields"]
                rid = fields["id"][0]
                if rid in found:
                    continue
                try:
                    post = from_card(base64.b64decode(fields["dedup_card"][0]))
                except (KeyError, ValueError):
                    uncarded.append(rid)
                    continue
                post.update(
                    id=rid,
                    cluster=fields["cluster"][0],
                    posted_at=_millis(fields["posted_at"][0]) if "posted_at" in fields else None,
                )
                found[rid] = post
            if len(hits) < _PAGE:
                break
            after = hits[-1]["sort"]
    for rid, source in _sources(client, names, uncarded).items():
        found[rid] = {**as_post(source), "posted_at": epoch_millis(source.get("posted_at"))}
    return list(found.values())


def _sources(client: Elasticsearch, names: Names, ids: list[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    with answering(client):
        response = client.mget(
            index=names.requests, ids=sorted(set(ids)), source_includes=CANDIDATE_FIELDS
        )
    return {d["_id"]: d["_source"] for d in response["docs"] if d.get("found")}


def _millis(value: Any) -> int:
    return int(float(value))


def epoch_millis(value: str | None) -> int | None:
    """Return an ISO time as Elasticsearch orders it (no offset: UTC), None if unreadable."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def card_of(doc: dict[str, Any]) -> str:
    """Return the dedup card of backlog document DOC (its stored keys as they are now)."""
    from classify.cards import card

    return base64.b64encode(card(as_post(doc))).decode("ascii")


def as_post(source: dict[str, Any]) -> dict[str, Any]:
    """Return a backlog document as the analysed post `same_episode` compares (a copy)."""
    # The index keeps the template's name apart with the other personal data.
    personal = source.get("personal") or {}
    template = dict(source.get("template") or {})
    if personal.get("template_name"):
        template["name"] = personal["template_name"]
    return {**source, "template": template}
