"""The backlog's explicit, strict mappings and the names of qiuzhu's indices.

The backlog lives in versioned indices (`<prefix>-requests-v1`, `-v2`, ...) behind the alias
`<prefix>-requests`. The mapping's digest is stored in the index `_meta`, so a change of
mapping is noticed and `qiuzhu index migrate` builds the next version. Workflow history
(status changes, notes, assignments) lives in its own append-only events index, so no
re-ingestion can ever lose it.

Chinese text is stored twice: `text` with the standard analyzer (one token per Han
character: finds any substring) and `text_seg`, the jieba segmentation joined by spaces,
with the whitespace analyzer (finds whole words, ranks better).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from qiuzhu import settings

KEYWORD = {"type": "keyword"}
DATE = {"type": "date"}
BOOLEAN = {"type": "boolean"}
INTEGER = {"type": "integer"}
TEXT = {"type": "text", "analyzer": "standard"}
STORED = {"type": "keyword", "index": False, "doc_values": False}

URGENCY_RANK = {"critical": 3, "high": 2, "normal": 1}

PLACE_LEVELS = ("province", "city", "district", "street", "community")

#: Fields the crawl and the NLP stage own; re-ingestion replaces exactly these.
TEMPLATE_FIELDS = ("age", "city", "address", "onset", "description")
PERSONAL_FIELDS = ("names", "template_name", "phones", "id_numbers", "contact", "emergency_contact")

REQUEST_PROPERTIES: dict[str, Any] = {
    "id": KEYWORD,
    "source": KEYWORD,
    "source_id": KEYWORD,
    "url": KEYWORD,
    "author_hash": KEYWORD,
    "posted_at": DATE,
    "crawled_at": DATE,
    "analysed_at": DATE,
    "title": TEXT,
    "text": TEXT,
    "text_seg": {"type": "text", "analyzer": "whitespace"},
    # Personal data masked: what roles that may not see contact data are shown, and the
    # only text their searches match (one token per Han character, like `text`).
    "text_masked": TEXT,
    "images": STORED,
    "reply_state": KEYWORD,
    "deleted": BOOLEAN,
    # The source's full text could not be fetched; a later crawl replaces the shortened one.
    "truncated": BOOLEAN,
    "repost_of": KEYWORD,
    "kind": KEYWORD,
    "outcome": KEYWORD,
    "needs": KEYWORD,
    "urgency": KEYWORD,
    "urgency_rank": {"type": "byte"},
    "urgency_cues": KEYWORD,
    # The phrases that drove each need ({need: [phrase, ...]}), shown beside the needs;
    # only read back, never searched.
    "needs_cues": {"type": "object", "enabled": False},
    **{level: KEYWORD for level in PLACE_LEVELS},
    **{f"{level}_code": KEYWORD for level in PLACE_LEVELS},
    "place_candidates": KEYWORD,
    # What dispatchers corrected (kind, needs, urgency, place): index/corrections.py puts
    # their corrections back on every write.
    "corrected": KEYWORD,
    "template": {
        "dynamic": "strict",
        "properties": {
            "age": KEYWORD,
            "city": KEYWORD,
            "address": {"type": "text", "analyzer": "standard"},
            "onset": KEYWORD,
            "description": TEXT,
        },
    },
    # Contact data: left out of every response to roles that may not see it.
    "personal": {
        "dynamic": "strict",
        "properties": {
            "names": KEYWORD,
            # The template's name field as written: duplicate decisions compare it.
            "template_name": STORED,
            "phones": KEYWORD,
            "id_numbers": KEYWORD,
            "contact": KEYWORD,
            "emergency_contact": KEYWORD,
        },
    },
    "raw": {"type": "object", "enabled": False},
    # Duplicates: blocking keys for candidate lookup, and the cluster the post is in. The
    # keys are only looked up, never sorted or aggregated: without doc values, merging
    # segments need not rebuild an ordinal map of ~17 near-unique keys a post, which
    # was most of Elasticsearch's work past a few hundred thousand posts.
    "dedup_keys": {"type": "keyword", "doc_values": False},
    # What a duplicate decision reads of a post (`classify.cards.card`): candidates are
    # fetched from this doc value alone, without loading their source.
    "dedup_card": {"type": "binary", "doc_values": True},
    "cluster": KEYWORD,
    "cluster_size": INTEGER,
    "cluster_urgency_rank": {"type": "byte"},
    "cluster_sources": KEYWORD,
    "cluster_last_at": DATE,
    "cluster_first_at": DATE,
    # The cluster's latest update reporting an outcome (admitted, deceased, ...).
    "cluster_update": {
        "dynamic": "strict",
        "properties": {"id": KEYWORD, "outcome": KEYWORD, "posted_at": DATE},
    },
    "is_canonical": BOOLEAN,
    "merged_into": KEYWORD,
    # Posts a dispatcher took this one apart from (`index.merge.detach`): no automatic
    # link puts it in one cluster with them again.
    "apart_from": KEYWORD,
    # Workflow: set by dispatchers, never by re-ingestion.
    "status": KEYWORD,
    "team": KEYWORD,
    "assignee": KEYWORD,
    "notes_count": INTEGER,
    "updated_at": DATE,
    "updated_by": KEYWORD,
    # Waiting clock (index/clocks.py): when a dispatcher first answered the request's
    # cluster, and whether within its urgency's target.
    "answered_at": DATE,
    "answered_in_time": BOOLEAN,
    # Offers and requests matched by a dispatcher (index/offers.py): on a request the
    # offers linked to it, on an offer the requests it serves; an offer's links counted,
    # and whether it is used up (marked, or its stated capacity reached).
    "links": KEYWORD,
    "offer_used": INTEGER,
    "offer_used_up": BOOLEAN,
    # What an offer states of itself (classify/offers.py): a count and its unit, and
    # until when it holds.
    "offer": {
        "dynamic": "strict",
        "properties": {"capacity": INTEGER, "unit": KEYWORD, "expires_at": DATE},
    },
}

#: Fields owned by dispatchers: written when a request is first indexed, never after by ingestion.
WORKFLOW_FIELDS = (
    "status",
    "team",
    "assignee",
    "notes_count",
    "updated_at",
    "updated_by",
    "merged_into",
    "apart_from",
    "answered_at",
    "answered_in_time",
    "links",
    "offer_used",
    "offer_used_up",
)

REQUEST_MAPPING: dict[str, Any] = {"dynamic": "strict", "properties": REQUEST_PROPERTIES}

EVENT_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "request_id": KEYWORD,
        "cluster": KEYWORD,
        "at": DATE,
        "user": KEYWORD,
        "role": KEYWORD,
        "action": KEYWORD,
        "field": KEYWORD,
        "old": KEYWORD,
        "new": KEYWORD,
        "note": {"type": "text", "analyzer": "standard"},
    },
}


def mapping_digest(mapping: dict[str, Any]) -> str:
    """Return a short stable digest of MAPPING, stored in the index `_meta`."""
    return hashlib.sha256(json.dumps(mapping, sort_keys=True).encode()).hexdigest()[:16]


def index_body(mapping: dict[str, Any], kind: str) -> dict[str, Any]:
    """Return the create-index body for MAPPING with settings from the project settings."""
    index_settings = {
        "number_of_shards": settings.get("INDEX_SHARDS"),
        "number_of_replicas": settings.get("INDEX_REPLICAS"),
    }
    if kind == "requests":
        index_settings["refresh_interval"] = settings.get("INDEX_REFRESH_INTERVAL")
    return {
        "settings": index_settings,
        "mappings": {
            **mapping,
            "_meta": {"qiuzhu_kind": kind, "qiuzhu_mapping": mapping_digest(mapping)},
        },
    }


@dataclass(frozen=True)
class Names:
    """The index and alias names under one prefix."""

    prefix: str

    @property
    def requests(self) -> str:
        """The backlog alias every reader and writer uses."""
        return f"{self.prefix}-requests"

    def requests_version(self, version: int) -> str:
        return f"{self.prefix}-requests-v{version}"

    @property
    def events(self) -> str:
        return f"{self.prefix}-events"

    @property
    def runs(self) -> str:
        return f"{self.prefix}-runs"

    @property
    def locks(self) -> str:
        return f"{self.prefix}-locks"

    @property
    def labels(self) -> str:
        return f"{self.prefix}-labels"

    @property
    def users(self) -> str:
        return f"{self.prefix}-users"

    @property
    def logins(self) -> str:
        return f"{self.prefix}-logins"

    @property
    def pattern(self) -> str:
        return f"{self.prefix}-*"


def names(prefix: str | None = None) -> Names:
    """Return the names under PREFIX (default: the INDEX_PREFIX setting)."""
    return Names(prefix or settings.get("INDEX_PREFIX"))
