"""The summary every member of a duplicate cluster carries, kept up to date in linear time.

Every member carries its cluster's summary (SUMMARY_FIELDS: size, canonical flag, highest
urgency, sources, latest post time, latest update), so a page of the backlog collapsed by
cluster needs no second query, whichever member the sort shows. `refresh` recomputes it for
the clusters a batch touched.

A cluster of at most BIG_CLUSTER members is read whole and every member whose summary
differs is rewritten. A viral request reposted thousands of times cannot be treated so: its
size moves with every join, so every batch would rewrite every member, and an ingest would
grow quadratically. Above BIG_CLUSTER the summary comes from aggregations and the writes are
amortized:

- exact on every member, always: `cluster_urgency_rank`, `is_canonical`, the set of
  `cluster_sources` and `cluster_update`. A critical request is never hidden because it
  was filed as a duplicate: a critical post joining a cluster raises every member at once.
- exact on the canonical member, always: every summary field.
- may trail on the other members: `cluster_size`, by at most STALE_GROWTH (10 %), with
  `cluster_last_at` and the order of `cluster_sources` (most frequent first). A member is
  rewritten once the cluster has grown by more than 10 % since it was written, so each
  member is rewritten a bounded number of times as the cluster grows geometrically. The
  sources' order is not kept exact because on evenly used sources it changes on a large
  share of joins, which would make the writes quadratic again.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from elasticsearch import Elasticsearch, helpers

from index.bulk import mark_action
from index.client import answering
from index.mapping import Names

BEIJING = timezone(timedelta(hours=8))

SUMMARY_FIELDS = (
    "cluster_size",
    "is_canonical",
    "cluster_urgency_rank",
    "cluster_sources",
    "cluster_last_at",
    "cluster_first_at",
    "cluster_update",
)
_MEMBER_FIELDS = [
    "cluster",
    "posted_at",
    "urgency_rank",
    "source",
    "kind",
    "outcome",
    "id",
    *SUMMARY_FIELDS,
]
#: Clusters with more members than this keep their summary by aggregations, amortized.
BIG_CLUSTER = 64
#: Growth of a big cluster after which a member's size and latest time are rewritten.
STALE_GROWTH = 0.1
_CHUNK = 500  # clusters refreshed together
# Hits read by one search (the index's default result window); more go page by page.
_ONE_SEARCH = 10_000
_EDGE = 20  # earliest and latest members read by the aggregation itself
_SOURCES = 1_000
# Elasticsearch reads a time without an offset as UTC, `_when` as Beijing time: its order
# can differ from the real one by up to this much, so ends are decided in Python.
_NAIVE_SHIFT_MS = 8 * 3600 * 1000


def _when(value: str | None) -> datetime:
    """Return an ISO time as an aware datetime (naive ones are Beijing time); late if None."""
    if not value:
        return datetime.max.replace(tzinfo=UTC)
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=BEIJING)


def _order(doc: dict[str, Any]) -> tuple[datetime, str]:
    return (_when(doc.get("posted_at")), doc.get("id") or "")


def summary(docs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Return each member of one cluster with the summary fields it should carry.

    The canonical post is the earliest; the cluster's urgency is the highest of its
    members', so a critical post is never hidden in a cluster. Every member also carries
    the cluster's sources, its latest post time and its latest update reporting an outcome,
    so a page of the backlog needs no second query to show them.
    """
    docs = sorted(docs, key=_order)
    top = max(int(d.get("urgency_rank") or 1) for d in docs)
    counts = Counter(d["source"] for d in docs if d.get("source"))
    sources = sorted(counts, key=lambda name: (-counts[name], name))
    times = [d["posted_at"] for d in docs if d.get("posted_at")]
    updates = [d for d in docs if d.get("kind") == "update" and len(docs) > 1]
    last = max(times, key=_when) if times else None
    want = {
        "cluster_size": len(docs),
        "cluster_urgency_rank": top,
        "cluster_sources": sources,
        "cluster_last_at": last,
        # The canonical's time: the cluster's one waiting clock runs from it.
        "cluster_first_at": docs[0].get("posted_at"),
        "cluster_update": _update(updates[-1]) if updates else None,
    }
    return [(doc, {**want, "is_canonical": i == 0}) for i, doc in enumerate(docs)]


def _update(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc.get("id"), "outcome": doc.get("outcome"), "posted_at": doc.get("posted_at")}


def refresh(client: Elasticsearch, names: Names, clusters: Iterable[str]) -> int:
    """Recompute the summary fields of CLUSTERS on their members; return documents changed.

    Clusters above BIG_CLUSTER members are kept as the module's docstring says.
    """
    with answering(client):
        client.indices.refresh(index=names.requests)
        actions, big = prepare(client, names, clusters)
        wanted = sorted(big)
        for start in range(0, len(wanted), _CHUNK):
            for cluster, aggregate in aggregated(
                client, names, wanted[start : start + _CHUNK]
            ).items():
                actions.extend(_amortized_writes(client, names, cluster, aggregate))
        if not actions:
            return 0
        done, _ = helpers.bulk(client, actions, raise_on_error=True)
    return int(done)


def prepare(
    client: Elasticsearch,
    names: Names,
    clusters: Iterable[str],
    docs: Iterable[dict[str, Any]] = (),
) -> tuple[list[dict[str, Any]], set[str]]:
    """Return the updates the small CLUSTERS' members need, and the big clusters, untouched.

    DOCS are the batch about to be written: they count as members (in place of their older
    versions) and get their summary fields set in place, so a post joining a cluster is
    written once, not written and then rewritten. The updates are bulk actions for members
    already in the backlog. Reads what the last index refresh published.
    """
    batch: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for doc in docs:
        batch[doc["cluster"]].append(doc)
    wanted = sorted(set(clusters))
    actions: list[dict[str, Any]] = []
    big: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        with answering(client):
            counts = _member_counts(client, names, chunk)
            big.update(c for c in chunk if counts.get(c, 0) + len(batch[c]) > BIG_CLUSTER)
            members: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
            old = [c for c in chunk if c not in big and counts.get(c)]
            query = {"terms": {"cluster": old}}
            for hit in _hits(client, names, query, _MEMBER_FIELDS) if old else ():
                source = hit["_source"]
                members[source["cluster"]][hit["_id"]] = {"_id": hit["_id"], **source}
        for cluster in chunk:
            if cluster in big:
                continue
            # A post written again keeps its place in the cluster, with what it says now.
            known = members[cluster]
            known.update((doc["id"], doc) for doc in batch[cluster])
            for doc, want in summary(list(known.values())) if known else ():
                if "_id" not in doc:
                    doc.update(want)
                elif any(doc.get(k) != v for k, v in want.items()):
                    actions.append(mark_action(names.requests, doc["_id"], want))
    return actions, big


def _member_counts(client: Elasticsearch, names: Names, clusters: list[str]) -> dict[str, int]:
    response = client.search(
        index=names.requests,
        size=0,
        query={"terms": {"cluster": clusters}},
        aggs={"n": {"terms": {"field": "cluster", "size": len(clusters)}}},
        track_total_hits=False,
    )
    return {b["key"]: b["doc_count"] for b in response["aggregations"]["n"]["buckets"]}


def _by_time(order: str, missing: str) -> dict[str, Any]:
    return {"posted_at": {"order": order, "missing": missing, "unmapped_type": "date"}}


def _edge(fields: list[str], *sort: dict[str, Any]) -> dict[str, Any]:
    return {"top_hits": {"size": _EDGE, "sort": list(sort), "_source": {"includes": fields}}}


def aggregated(
    client: Elasticsearch, names: Names, clusters: list[str]
) -> dict[str, dict[str, Any]]:
    """Return the summary of each of CLUSTERS from aggregations, without reading its members.

    Each value has `want` (the summary fields its canonical member carries, as `summary`
    gives them), `canonical` (that member's current source, with `_id`) and `carried`
    (every value of `cluster_sources` some member carries now).
    """
    if not clusters:
        return {}
    update_fields = ["id", "outcome", "posted_at"]
    aggs = {
        "urgency": {"max": {"field": "urgency_rank"}},
        "sources": {
            "terms": {
                "field": "source",
                "size": _SOURCES,
                "order": [{"_count": "desc"}, {"_key": "asc"}],
                "exclude": [""],
            }
        },
        "carried": {"terms": {"field": "cluster_sources", "size": _SOURCES}},
        "first": _edge(_MEMBER_FIELDS, _by_time("asc", "_last"), {"id": "asc"}),
        "last": _edge(["id", "posted_at"], _by_time("desc", "_last"), {"id": "asc"}),
        "updates": {
            "filter": {"term": {"kind": "update"}},
            "aggs": {"last": _edge(update_fields, _by_time("desc", "_first"), {"id": "desc"})},
        },
    }
    response = client.search(
        index=names.requests,
        size=0,
        query={"terms": {"cluster": clusters}},
        aggs={"c": {"terms": {"field": "cluster", "size": len(clusters)}, "aggs": aggs}},
        track_total_hits=False,
    )
    found = {}
    for bucket in response["aggregations"]["c"]["buckets"]:
        cluster = bucket["key"]
        first = _around(client, names, cluster, bucket["first"], _MEMBER_FIELDS, earliest=True)
        canonical = min(first, key=_order)
        last = _around(client, names, cluster, bucket["last"], ["id", "posted_at"])
        times = sorted((d for d in last if d.get("posted_at")), key=_order)
        updates = _around(
            client, names, cluster, bucket["updates"]["last"], update_fields, kind="update"
        )
        found[cluster] = {
            "canonical": canonical,
            "carried": {b["key"] for b in bucket["carried"]["buckets"]},
            "want": {
                "cluster_size": bucket["doc_count"],
                "cluster_urgency_rank": max(1, int(bucket["urgency"]["value"] or 1)),
                "cluster_sources": [b["key"] for b in bucket["sources"]["buckets"]],
                "cluster_last_at": (
                    max((d["posted_at"] for d in times), key=_when) if times else None
                ),
                "cluster_first_at": canonical.get("posted_at"),
                "cluster_update": _update(max(updates, key=_order)) if updates else None,
            },
        }
    return found


def _around(
    client: Elasticsearch,
    names: Names,
    cluster: str,
    agg: dict[str, Any],
    fields: list[str],
    earliest: bool = False,
    kind: str | None = None,
) -> list[dict[str, Any]]:
    """Return every member that may be the cluster's earliest (or latest) in real time.

    AGG is a top_hits in Elasticsearch's time order. A member without a time is the latest
    for `_when`: sorted last by the earliest's top_hits and first by the update's.
    """
    hits = agg["hits"]["hits"]
    docs = [{"_id": h["_id"], **h["_source"]} for h in hits]
    timed = [h for h in hits if h["_source"].get("posted_at")]
    if not timed or (kind and not hits[0]["_source"].get("posted_at")):
        return docs
    edge = int(timed[0]["sort"][0])
    bound = edge + _NAIVE_SHIFT_MS if earliest else edge - _NAIVE_SHIFT_MS
    tail = hits[-1]
    if len(hits) < _EDGE or not tail["_source"].get("posted_at"):
        return docs
    if (tail["sort"][0] > bound) if earliest else (tail["sort"][0] < bound):
        return docs
    # More members than the top_hits holds lie within the shift of the edge: read them all.
    window = {"lte" if earliest else "gte": bound, "format": "epoch_millis"}
    query: dict[str, Any] = {
        "bool": {"filter": [{"term": {"cluster": cluster}}, {"range": {"posted_at": window}}]}
    }
    if kind:
        query["bool"]["filter"].append({"term": {"kind": kind}})
    return [{"_id": h["_id"], **h["_source"]} for h in _hits(client, names, query, fields)]


def _hits(
    client: Elasticsearch, names: Names, query: dict[str, Any], fields: list[str]
) -> Iterator[dict[str, Any]]:
    """Yield every hit of QUERY, a page of _ONE_SEARCH at a time."""
    after: list[Any] | None = None
    while True:
        hits = client.search(
            index=names.requests,
            query=query,
            source={"includes": fields},
            size=_ONE_SEARCH,
            sort=[{"id": "asc"}],
            search_after=after,
            track_total_hits=False,
        )["hits"]["hits"]
        yield from hits
        if len(hits) < _ONE_SEARCH:
            return
        after = hits[-1]["sort"]


def _stale(cluster: str, aggregate: dict[str, Any]) -> dict[str, Any]:
    """Return the query for the members other than the canonical whose summary is stale."""
    want = aggregate["want"]
    size, sources, update = want["cluster_size"], want["cluster_sources"], want["cluster_update"]
    trailing = math.ceil(size / (1 + STALE_GROWTH) - 1e-9)
    should: list[dict[str, Any]] = [
        {"range": {"cluster_size": {"lt": trailing}}},
        {"range": {"cluster_size": {"gt": size}}},
        {"bool": {"must_not": [{"exists": {"field": "cluster_size"}}]}},
        {"bool": {"must_not": [{"term": {"cluster_urgency_rank": want["cluster_urgency_rank"]}}]}},
        {"term": {"is_canonical": True}},
    ]
    if sources:
        every = [{"term": {"cluster_sources": source}} for source in sources]
        should.append({"bool": {"must_not": [{"bool": {"filter": every}}]}})
    extra = sorted(aggregate["carried"] - set(sources))
    if extra:
        should.append({"terms": {"cluster_sources": extra}})
    if update is None:
        should.append({"exists": {"field": "cluster_update"}})
    else:
        same = [
            {"term": {f"cluster_update.{key}": update[key]}}
            if update[key] is not None
            else {"bool": {"must_not": [{"exists": {"field": f"cluster_update.{key}"}}]}}
            for key in ("id", "outcome", "posted_at")
        ]
        should.append({"bool": {"must_not": [{"bool": {"filter": same}}]}})
    return {
        "bool": {
            "filter": [{"term": {"cluster": cluster}}],
            "must_not": [{"ids": {"values": [aggregate["canonical"]["_id"]]}}],
            "should": should,
            "minimum_should_match": 1,
        }
    }


def _amortized_writes(
    client: Elasticsearch, names: Names, cluster: str, aggregate: dict[str, Any]
) -> list[dict[str, Any]]:
    """Return the writes that keep a big cluster's summary as the module's docstring says."""
    canonical, want = aggregate["canonical"], aggregate["want"]
    writes = []
    exact = {**want, "is_canonical": True}
    if any(canonical.get(k) != v for k, v in exact.items()):
        writes.append(mark_action(names.requests, canonical["_id"], exact))
    other = {**want, "is_canonical": False}
    for hit in _hits(client, names, _stale(cluster, aggregate), list(SUMMARY_FIELDS)):
        if any(hit["_source"].get(k) != v for k, v in other.items()):
            writes.append(mark_action(names.requests, hit["_id"], other))
    return writes
