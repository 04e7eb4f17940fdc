"""Role-safe views of the backlog: list rows, a request's detail, a cluster's members.

Everything here reads with `personal=False` semantics: the response from Elasticsearch is
restricted to an allowlist of fields, and the shown text is `text_masked` passed through
`masking.scrub` with the post's own names. Contact data leaves the index layer only through
`contacts.reveal`, which records who saw it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch
from elasticsearch.dsl import Search

from index import clocks
from index.client import answering
from index.mapping import PERSONAL_FIELDS, PLACE_LEVELS, WORKFLOW_FIELDS, Names
from index.masking import scrub
from index.search import FACETS, PERSONAL_SOURCE, Filters, build_search, overdue_counts
from index.workflow import TRANSITIONS, Version, get_request, history

#: Fields any role may receive about a post (after `scrub` for the text).
ROW_FIELDS = (
    "id",
    "source",
    "posted_at",
    "crawled_at",
    "kind",
    "outcome",
    "needs",
    "urgency",
    "urgency_rank",
    "urgency_cues",
    "needs_cues",
    *PLACE_LEVELS,
    *(f"{level}_code" for level in PLACE_LEVELS),
    "cluster",
    "cluster_size",
    "is_canonical",
    "cluster_urgency_rank",
    "deleted",
    "truncated",
    "offer",
    "corrected",
    *WORKFLOW_FIELDS,
)
#: Template fields that hold no contact data (names and phones are in `personal`).
TEMPLATE_SHOWN = ("age", "city", "onset", "description")
#: A cluster's summary, carried by each member; read to fill the row's own keys.
_CLUSTER_INPUTS = ("cluster_sources", "cluster_last_at", "cluster_first_at", "cluster_update")
#: Fields read only to be masked, never sent on.
_MASK_INPUTS = ("text_masked", "personal.names", "template")

#: What an `update` post's outcome suggests for its request.
OUTCOME_SUGGESTS = {"admitted": "resolved", "resolved": "resolved", "deceased": "closed"}


def shape(source: dict[str, Any], *, links: bool) -> dict[str, Any]:
    """Return the shown part of a post's SOURCE: allowlisted fields and scrubbed text.

    LINKS says whether the post's URL may be shown (it can name the poster's account).
    """
    names = (source.get("personal") or {}).get("names") or []
    row = {k: source[k] for k in ROW_FIELDS if source.get(k) not in (None, [], "")}
    row["text"] = scrub(source.get("text_masked"), names)
    template = source.get("template") or {}
    shown = {k: scrub(str(template[k]), names) for k in TEMPLATE_SHOWN if template.get(k)}
    if shown:
        row["template"] = shown
    if links and source.get("url"):
        row["url"] = source["url"]
    waiting = clocks.clock(source)
    if waiting is not None:
        row["clock"] = waiting
    return row


#: Excluded even from the allowlist's objects: everything personal but the names to mask.
_NEVER = tuple(p for p in PERSONAL_SOURCE if p != "personal") + tuple(
    f"personal.{f}" for f in PERSONAL_FIELDS if f != "names"
)


def _restrict(search: Search) -> Search:
    # An allowlist: a field added to the mapping later is not sent until it is listed here.
    return search.source(
        includes=[*ROW_FIELDS, "url", *_MASK_INPUTS, *_CLUSTER_INPUTS], excludes=list(_NEVER)
    )


#: Built page bodies by (index, filters, options): building one with the DSL costs about a
#: tenth of the API's own CPU per page, and dispatchers repeat the same few views.
_BODIES: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
_BODIES_LOCK = threading.Lock()
_BODIES_MAX = 512


def page_body(names: Names, filters: Filters, **kwargs: Any) -> dict[str, Any]:
    """Return the search body `search_page` sends: role-safe fields only.

    A body is built once per distinct view and reused (a fresh top-level copy each time,
    since the client may rename top-level keys); results are never reused.
    KWARGS are `build_search`'s (sort, page, size, collapse, facets).

    Raises:
        InvalidInput: a filter or option is out of range.
    """
    key = (names.requests, repr(filters), tuple(sorted(kwargs.items())))
    with _BODIES_LOCK:
        body = _BODIES.get(key)
        if body is not None:
            _BODIES.move_to_end(key)
            return dict(body)
    body = _restrict(build_search(names, filters, personal=False, **kwargs)).to_dict()
    with _BODIES_LOCK:
        _BODIES[key] = body
        while len(_BODIES) > _BODIES_MAX:
            _BODIES.popitem(last=False)
    return dict(body)


@dataclass
class Page:
    """One page of list rows with totals and facet counts."""

    total: int
    clusters: int
    rows: list[dict[str, Any]]
    facets: dict[str, list[tuple[str, int]]]
    overdue: dict[str, int] = field(default_factory=dict)


def search_page(
    client: Elasticsearch,
    names: Names,
    filters: Filters,
    *,
    links: bool,
    **kwargs: Any,
) -> Page:
    """Return one page of the backlog as role-safe rows, one per cluster when collapsed.

    Each row also names its cluster's sources and its latest outcome update.
    KWARGS are `build_search`'s (sort, page, size, collapse, facets).
    """
    body = page_body(names, filters, **kwargs)
    with answering(client):
        first = client.search(index=names.requests, body=body, ignore_unavailable=True)
    rows = []
    for hit in first["hits"]["hits"]:
        source = hit["_source"]
        row = shape(source, links=links)
        # Every member carries its cluster's summary (see index.clusters.summary).
        row["sources"] = source.get("cluster_sources") or (
            [row["source"]] if row.get("source") else []
        )
        if (source.get("cluster_size") or 1) > 1:
            row["last_posted_at"] = source.get("cluster_last_at")
            if source.get("cluster_update"):
                row["update"] = _suggestion(source["cluster_update"])
        rows.append(row)
    aggs = first.get("aggregations", {})
    facets = {
        name: [(b["key"], b["doc_count"]) for b in aggs[name]["buckets"]]
        for name in FACETS
        if name in aggs
    }
    return Page(
        total=first["hits"]["total"]["value"],
        clusters=int(aggs.get("clusters", {}).get("value", 0)),
        rows=rows,
        facets=facets,
        overdue=overdue_counts(aggs),
    )


def _suggestion(update: dict[str, Any]) -> dict[str, Any]:
    outcome = update.get("outcome")
    return {
        "id": update.get("id"),
        "outcome": outcome,
        "posted_at": update.get("posted_at"),
        "suggests": OUTCOME_SUGGESTS.get(outcome or ""),
    }


def members(
    client: Elasticsearch, names: Names, cluster: str, *, links: bool, limit: int = 200
) -> list[dict[str, Any]]:
    """Return every member post of CLUSTER (up to LIMIT), oldest first."""
    search = (
        Search(index=names.requests)
        .filter("term", cluster=cluster)
        .sort("posted_at", "id")
        .extra(size=limit)
    )
    with answering(client):
        response = client.search(
            index=names.requests, body=_restrict(search).to_dict(), ignore_unavailable=True
        )
    return [shape(h["_source"], links=links) for h in response["hits"]["hits"]]


def request_detail(
    client: Elasticsearch, names: Names, request_id: str, *, links: bool
) -> dict[str, Any]:
    """Return a request's shown fields, its version, cluster members, outcome and history.

    Raises:
        NotFound: no request has that id.
    """
    source, version = get_request(client, names, request_id)
    detail = shape(source, links=links)
    detail["version"] = version_token(version)
    detail["transitions"] = list(TRANSITIONS.get(source.get("status") or "new", ()))
    detail["members"] = members(client, names, source.get("cluster") or "", links=links)
    updates = [m for m in detail["members"] if m.get("kind") == "update" and m.get("outcome")]
    if updates:
        detail["update"] = _suggestion(updates[-1])
    names_seen = (source.get("personal") or {}).get("names") or []
    detail["history"] = [
        {**e, "note": scrub(e["note"], names_seen)} if e.get("note") else e
        for e in history(client, names, request_id)
    ]
    return detail


def version_token(version: Version) -> str:
    """Return the version a client echoes back to change a request: `seq_no:primary_term`."""
    return f"{version.seq_no}:{version.primary_term}"


def parse_version(token: str) -> Version:
    """Return the Version in TOKEN.

    Raises:
        ValueError: TOKEN is not `seq_no:primary_term`.
    """
    seq_no, _, term = token.partition(":")
    return Version(int(seq_no), int(term))
