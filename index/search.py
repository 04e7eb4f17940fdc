"""Search the backlog: pure query builders, and one function that runs them.

`build_search` returns an `elasticsearch.dsl.Search` and does no I/O, so the query a
dispatcher's input turns into can be read and tested with `.to_dict()`. Free text goes
through `simple_query_string`, which never fails on user syntax: over `text` (one token per
Han character, so any substring is found), and over `text_seg` (jieba words) for ranking.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any

from elasticsearch import Elasticsearch
from elasticsearch.dsl import A, Q, Query, Search

from index import clocks
from index.client import answering
from index.mapping import PLACE_LEVELS, URGENCY_RANK, Names
from qiuzhu.errors import InvalidInput

SORTS = ("urgency", "recent", "relevance")
MAX_SIZE = 200
MAX_WINDOW = 10_000
MAX_TEXT = 200
FACETS = ("district", "street", "community", "needs", "urgency", "kind", "status", "team", "source")

#: The only fields a search by a role without contact rights matches.
MASKED_TEXT_FIELDS = ("text_masked",)

#: Fields that hold personal data; never sent to roles that may not see contact data.
PERSONAL_SOURCE = (
    "personal",
    "text",
    "text_seg",
    "raw",
    "template.address",
    "author_hash",
    "title",
)


@dataclass
class Filters:
    """What a dispatcher or analyst narrows the backlog to; empty means no filter."""

    text: str = ""
    province: list[str] = field(default_factory=list)
    city: list[str] = field(default_factory=list)
    district: list[str] = field(default_factory=list)
    street: list[str] = field(default_factory=list)
    community: list[str] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)
    urgency: list[str] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    team: list[str] = field(default_factory=list)
    source: list[str] = field(default_factory=list)
    cluster: list[str] = field(default_factory=list)
    since: datetime | date | None = None
    until: datetime | date | None = None
    located: bool | None = None
    #: Only requests waiting past their urgency's answer target (index/clocks.py).
    overdue: bool = False
    #: Match the text against `text_masked` alone: for roles without contact rights, whose
    #: search must not tell whether a post holds a name, phone or address.
    masked_text: bool = False

    def validate(self) -> None:
        """Raise InvalidInput when a filter cannot be right."""
        if len(self.text) > MAX_TEXT:
            raise InvalidInput(
                f"The search text is {len(self.text)} characters; at most {MAX_TEXT} are accepted."
            )
        bad = [u for u in self.urgency if u not in URGENCY_RANK]
        if bad:
            raise InvalidInput(f"Unknown urgency {bad[0]!r}: use one of {', '.join(URGENCY_RANK)}.")
        if self.since and self.until and _as_dt(self.since) > _as_dt(self.until):
            raise InvalidInput("`since` is after `until`.")
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list) and len(value) > 50:
                raise InvalidInput(f"At most 50 values are accepted for {f.name}.")


def _as_dt(value: datetime | date) -> datetime:
    return value if isinstance(value, datetime) else datetime.combine(value, datetime.min.time())


def filter_clauses(filters: Filters) -> list[Query]:
    """Return the filter clauses (no scoring) for FILTERS."""
    clauses: list[Query] = []
    for name in (*PLACE_LEVELS, "needs", "urgency", "kind", "status", "team", "source", "cluster"):
        values = getattr(filters, name)
        if values:
            clauses.append(Q("terms", **{name: list(values)}))
    if filters.since or filters.until:
        bounds = {}
        if filters.since:
            bounds["gte"] = filters.since.isoformat()
        if filters.until:
            bounds["lte"] = filters.until.isoformat()
        clauses.append(Q("range", posted_at=bounds))
    if filters.located is True:
        clauses.append(Q("exists", field="district"))
    elif filters.located is False:
        clauses.append(~Q("exists", field="district"))
    if filters.overdue:
        clauses.append(Q(clocks.overdue_query()))
    return clauses


def text_query(text: str, masked: bool = False) -> Query | None:
    """Return the scoring query for free text, or None for none.

    With MASKED (a role without contact rights), only `text_masked` is matched: the raw
    text, its words (`text_seg`), the title and the address hold names and numbers.
    """
    text = text.strip()
    if not text:
        return None
    if masked:
        return Q(
            "bool",
            must=[
                Q(
                    "simple_query_string",
                    query=text,
                    fields=list(MASKED_TEXT_FIELDS),
                    default_operator="and",
                )
            ],
            should=[Q("match_phrase", text_masked={"query": text, "boost": 3})],
        )
    return Q(
        "bool",
        must=[
            Q(
                "simple_query_string",
                query=text,
                fields=["text", "title", "template.address"],
                default_operator="and",
            )
        ],
        should=[
            Q("simple_query_string", query=text, fields=["text_seg^2"], default_operator="or"),
            Q("match_phrase", text={"query": text, "boost": 3}),
        ],
    )


def build_search(
    names: Names,
    filters: Filters,
    *,
    sort: str = "urgency",
    page: int = 1,
    size: int = 20,
    collapse: bool = True,
    facets: bool = True,
    personal: bool = True,
) -> Search:
    """Return the search for one page of the backlog under FILTERS.

    With COLLAPSE, one row per duplicate cluster (the row shows the member the sort puts
    first; the cluster's urgency is the highest of its members). Without PERSONAL, fields
    holding personal data are left out of the response.

    Raises:
        InvalidInput: a parameter is out of range.
    """
    filters.validate()
    if sort not in SORTS:
        raise InvalidInput(f"Unknown sort {sort!r}: use one of {', '.join(SORTS)}.")
    if not 1 <= size <= MAX_SIZE:
        raise InvalidInput(f"Page size must be between 1 and {MAX_SIZE}.")
    if page < 1 or page * size > MAX_WINDOW:
        raise InvalidInput(f"Pages go from 1 to {MAX_WINDOW // size} at this page size.")
    search = Search(index=names.requests)
    query = text_query(filters.text, filters.masked_text)
    urgency_field = "cluster_urgency_rank" if collapse else "urgency_rank"
    # Only the relevance sort reads the text's score; the others match the text as a
    # filter. Every sort puts a critical request waiting past its target first: it alone
    # scores (OVERDUE_BOOST), whatever the text scores.
    clauses = filter_clauses(filters)
    if query and sort != "relevance":
        clauses.append(query)
    search = search.query(
        Q(
            "bool",
            # match_all when nothing else must match: a bool query of `should` clauses
            # alone would match only what they match.
            must=[query if query and sort == "relevance" else Q("match_all")],
            filter=clauses,
            should=[Q(clocks.overdue_first(urgency_field))],
        )
    )
    if sort == "urgency":
        search = search.sort(f"-{urgency_field}", "_score", "posted_at", "id")
    elif sort == "recent":
        search = search.sort("_score", "-posted_at", "id")
    else:
        search = search.sort("_score", f"-{urgency_field}", "posted_at")
    if collapse:
        search = search.extra(collapse={"field": "cluster"})
    # The dedup card is for the writer's duplicate decisions, not for readers.
    search = search.source(excludes=["dedup_card", *(() if personal else PERSONAL_SOURCE)])
    search = search.extra(track_total_hits=True, from_=(page - 1) * size, size=size)
    if facets:
        for name in FACETS:
            search.aggs.bucket(name, A("terms", field=name, size=50))
        search.aggs.metric("clusters", A("cardinality", field="cluster"))
        # The header's overdue queue counts the whole backlog, whatever the filters.
        queue = search.aggs.bucket("overdue", A("global"))
        queue.bucket("all", A("filter", filter=Q(clocks.overdue_query())))
        queue.bucket("critical", A("filter", filter=Q(clocks.overdue_query(only="critical"))))
    return search


@dataclass
class SearchResult:
    """One page of the backlog."""

    total: int
    clusters: int
    hits: list[dict[str, Any]]
    facets: dict[str, list[tuple[str, int]]]
    overdue: dict[str, int] = field(default_factory=dict)


def run_search(
    client: Elasticsearch, names: Names, filters: Filters, **kwargs: Any
) -> SearchResult:
    """Run `build_search` and return its page, total and facet counts."""
    search = build_search(names, filters, **kwargs)
    with answering(client):
        response = client.search(
            index=names.requests, body=search.to_dict(), ignore_unavailable=True
        )
    aggs = response.get("aggregations", {})
    facets = {
        name: [(b["key"], b["doc_count"]) for b in aggs.get(name, {}).get("buckets", [])]
        for name in FACETS
        if name in aggs
    }
    clusters = int(aggs.get("clusters", {}).get("value", 0))
    hits = [dict(h["_source"], _seq_no=h.get("_seq_no")) for h in response["hits"]["hits"]]
    return SearchResult(
        total=response["hits"]["total"]["value"],
        clusters=clusters,
        hits=[{k: v for k, v in h.items() if v is not None} for h in hits],
        facets=facets,
        overdue=overdue_counts(aggs),
    )


def overdue_counts(aggs: dict[str, Any]) -> dict[str, int]:
    """Return the overdue queue's counts from a page's aggregations (empty without facets)."""
    queue = aggs.get("overdue")
    if not queue:
        return {}
    return {"all": queue["all"]["doc_count"], "critical": queue["critical"]["doc_count"]}
