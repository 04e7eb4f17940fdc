"""Analysts' counts over the backlog: by district, need and day; backlog age; resolution.

A "request" here is a duplicate cluster (counted with a cardinality on `cluster`), so a
post shared twenty times counts once; `posts` counts the posts themselves. Counts default
to kind=request (offers, updates and noise are left out) unless the filters name kinds.
Days are calendar days in Wuhan time. Nothing here returns a field that holds personal data.
"""

from __future__ import annotations

import statistics
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch, helpers
from elasticsearch.dsl import Q

from index.client import answering
from index.mapping import Names
from index.search import Filters, filter_clauses, text_query
from index.workflow import OPEN

TIME_ZONE = "+08:00"
UNLOCATED = "（未定位）"
#: Upper bounds, in hours, of the backlog-age buckets.
AGE_BUCKETS = ((6, "< 6 小时"), (24, "6–24 小时"), (72, "1–3 天"), (168, "3–7 天"))


def query(filters: Filters) -> dict[str, Any]:
    """Return the query (as a dict) selecting what FILTERS select, requests by default."""
    filters.validate()
    if not filters.kind:
        filters = replace(filters, kind=["request"])
    text = text_query(filters.text, filters.masked_text)
    return Q("bool", must=[text] if text else [], filter=filter_clauses(filters)).to_dict()


def _search(client: Elasticsearch, names: Names, body: dict[str, Any]) -> dict[str, Any]:
    with answering(client):
        body = {**body, "size": 0}
        return dict(client.search(index=names.requests, body=body, ignore_unavailable=True))


def _requests() -> dict[str, Any]:
    return {"cardinality": {"field": "cluster", "precision_threshold": 10000}}


def overview_body(filters: Filters) -> dict[str, Any]:
    """Return the search body of `overview` (pure: no I/O)."""
    return {
        "query": query(filters),
        "size": 0,
        "track_total_hits": True,
        "aggs": {
            "requests": _requests(),
            "unlocated": {
                "filter": {"bool": {"must_not": [{"exists": {"field": "district"}}]}},
                "aggs": {"requests": _requests()},
            },
            "open": {
                "filter": {"terms": {"status": list(OPEN)}},
                "aggs": {"requests": _requests()},
            },
            "newest": {"max": {"field": "posted_at"}},
            "oldest": {"min": {"field": "posted_at"}},
        },
    }


def overview(client: Elasticsearch, names: Names, filters: Filters) -> dict[str, Any]:
    """Return totals, the share left without a district, and the newest post time."""
    result = _search(client, names, overview_body(filters))
    aggs = result["aggregations"]
    requests = int(aggs["requests"]["value"])
    unlocated = int(aggs["unlocated"]["requests"]["value"])
    return {
        "posts": int(result["hits"]["total"]["value"]),
        "requests": requests,
        "open": int(aggs["open"]["requests"]["value"]),
        "unlocated": unlocated,
        "unlocated_share": round(unlocated / requests, 4) if requests else 0.0,
        "newest": aggs["newest"].get("value_as_string"),
        "oldest": aggs["oldest"].get("value_as_string"),
    }


def daily() -> dict[str, Any]:
    """Return a `date_histogram` aggregation of posts per calendar day in the crisis's zone."""
    return {
        "date_histogram": {
            "field": "posted_at",
            "calendar_interval": "day",
            "time_zone": TIME_ZONE,
            "format": "yyyy-MM-dd",
            "min_doc_count": 1,
        }
    }


def grid_body(filters: Filters) -> dict[str, Any]:
    """Return the search body of `by_district_need_day` (pure: no I/O)."""
    histogram = daily()
    return {
        "query": query(filters),
        "size": 0,
        "aggs": {
            "grid": {
                "terms": {"field": "district", "size": 100, "missing": UNLOCATED},
                "aggs": {
                    "requests": _requests(),
                    "needs": {
                        "terms": {"field": "needs", "size": 20},
                        "aggs": {
                            "requests": _requests(),
                            "days": {**histogram, "aggs": {"requests": _requests()}},
                        },
                    },
                },
            },
            "daily": {**histogram, "aggs": {"requests": _requests()}},
            "needs": {"terms": {"field": "needs", "size": 20}, "aggs": {"requests": _requests()}},
        },
    }


def by_district_need_day(client: Elasticsearch, names: Names, filters: Filters) -> dict[str, Any]:
    """Return requests per district × need, per day, and per district × need × day."""
    aggs = _search(client, names, grid_body(filters))["aggregations"]
    cells: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for district in aggs["grid"]["buckets"]:
        for need in district["needs"]["buckets"]:
            cells.append(
                {
                    "district": district["key"],
                    "need": need["key"],
                    "requests": int(need["requests"]["value"]),
                    "posts": need["doc_count"],
                }
            )
            rows.extend(
                {
                    "district": district["key"],
                    "need": need["key"],
                    "day": day["key_as_string"],
                    "requests": int(day["requests"]["value"]),
                    "posts": day["doc_count"],
                }
                for day in need["days"]["buckets"]
            )
    return {
        "districts": [
            {"district": b["key"], "requests": int(b["requests"]["value"])}
            for b in aggs["grid"]["buckets"]
        ],
        "needs": [
            {"need": b["key"], "requests": int(b["requests"]["value"])}
            for b in aggs["needs"]["buckets"]
        ],
        "cells": cells,
        "daily": [
            {
                "day": b["key_as_string"],
                "requests": int(b["requests"]["value"]),
                "posts": b["doc_count"],
            }
            for b in aggs["daily"]["buckets"]
        ],
        "rows": rows,
    }


def backlog_age(
    client: Elasticsearch, names: Names, filters: Filters, as_of: datetime | None = None
) -> dict[str, Any]:
    """Return how long open requests have waited, in buckets, as of AS_OF.

    AS_OF defaults to the newest post in the selection, so a historical backlog reads as
    it did on its last day rather than years later.
    """
    base = query(filters)
    if as_of is None:
        newest = overview(client, names, filters)["newest"]
        as_of = datetime.fromisoformat(newest) if newest else datetime.now().astimezone()
    ranges, previous = [], 0
    for hours, label in AGE_BUCKETS:
        ranges.append(
            {
                "key": label,
                "to": (as_of - timedelta(hours=previous)).isoformat(),
                "from": (as_of - timedelta(hours=hours)).isoformat(),
            }
        )
        previous = hours
    ranges.append({"key": "> 7 天", "to": (as_of - timedelta(hours=previous)).isoformat()})
    body = {
        "query": {
            "bool": {
                "filter": [
                    base,
                    {"terms": {"status": list(OPEN)}},
                    {"term": {"is_canonical": True}},
                ]
            }
        },
        "aggs": {
            "age": {
                "date_range": {"field": "posted_at", "ranges": ranges},
                "aggs": {"requests": _requests()},
            },
            "oldest": {"min": {"field": "posted_at"}},
        },
    }
    aggs = _search(client, names, body)["aggregations"]
    order = [label for _, label in AGE_BUCKETS] + ["> 7 天"]
    oldest = aggs["oldest"].get("value_as_string")
    waited = (as_of - datetime.fromisoformat(oldest)).total_seconds() / 3600 if oldest else None
    return {
        "as_of": as_of.isoformat(),
        # Youngest first, in the order of AGE_BUCKETS (Elasticsearch orders by `from`).
        "buckets": sorted(
            (
                {"age": b["key"], "requests": int(b["requests"]["value"])}
                for b in aggs["age"]["buckets"]
            ),
            key=lambda b: order.index(b["age"]),
        ),
        "open": sum(int(b["requests"]["value"]) for b in aggs["age"]["buckets"]),
        "longest_wait_hours": round(waited, 1) if waited is not None else None,
    }


def resolution_times(client: Elasticsearch, names: Names, filters: Filters) -> dict[str, Any]:
    """Return hours from posting to the first `resolved` status, over selected requests."""
    first_resolved: dict[str, str] = {}
    with answering(client):
        if not client.indices.exists(index=names.events):
            return _resolution_summary([])
        composite: dict[str, Any] = {
            "size": 1000,
            "sources": [{"request": {"terms": {"field": "request_id"}}}],
        }
        while True:
            response = client.search(
                index=names.events,
                size=0,
                query={
                    "bool": {
                        "filter": [{"term": {"action": "status"}}, {"term": {"new": "resolved"}}]
                    }
                },
                aggs={"r": {"composite": composite, "aggs": {"first": {"min": {"field": "at"}}}}},
            )
            agg = response["aggregations"]["r"]
            for bucket in agg["buckets"]:
                first_resolved[bucket["key"]["request"]] = bucket["first"]["value_as_string"]
            if "after_key" not in agg or not agg["buckets"]:
                break
            composite["after"] = agg["after_key"]
        hours: list[float] = []
        ids = sorted(first_resolved)
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            for hit in helpers.scan(
                client,
                index=names.requests,
                query={"query": {"bool": {"filter": [query(filters), {"ids": {"values": chunk}}]}}},
                _source=["posted_at"],
            ):
                posted = hit["_source"].get("posted_at")
                if posted:
                    delta = datetime.fromisoformat(
                        first_resolved[hit["_id"]]
                    ) - datetime.fromisoformat(posted)
                    hours.append(max(delta.total_seconds() / 3600, 0.0))
    return _resolution_summary(hours)


def _resolution_summary(hours: list[float]) -> dict[str, Any]:
    if not hours:
        return {"resolved": 0, "median_hours": None, "p90_hours": None, "mean_hours": None}
    ordered = sorted(hours)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return {
        "resolved": len(ordered),
        "median_hours": round(statistics.median(ordered), 1),
        "p90_hours": round(p90, 1),
        "mean_hours": round(statistics.fmean(ordered), 1),
    }


def community_supplies(
    client: Elasticsearch, names: Names, filters: Filters, size: int = 200
) -> list[dict[str, Any]]:
    """Return, per community, the food and supplies requests: counts, open, latest post."""
    selected = replace(filters, needs=filters.needs or ["food", "supplies"])
    body = {
        "query": {"bool": {"filter": [query(selected), {"exists": {"field": "community"}}]}},
        "aggs": {
            "community": {
                "terms": {"field": "community", "size": size, "order": {"requests": "desc"}},
                "aggs": {
                    "requests": _requests(),
                    "district": {"terms": {"field": "district", "size": 1}},
                    "street": {"terms": {"field": "street", "size": 1}},
                    "code": {"terms": {"field": "community_code", "size": 1}},
                    "needs": {
                        "terms": {"field": "needs", "include": selected.needs},
                        "aggs": {"requests": _requests()},
                    },
                    "open": {
                        "filter": {"terms": {"status": list(OPEN)}},
                        "aggs": {"requests": _requests()},
                    },
                    "latest": {"max": {"field": "posted_at"}},
                },
            }
        },
    }
    aggs = _search(client, names, body)["aggregations"]

    def first(bucket: dict[str, Any]) -> str | None:
        return bucket["buckets"][0]["key"] if bucket["buckets"] else None

    return [
        {
            "community": b["key"],
            "community_code": first(b["code"]),
            "street": first(b["street"]),
            "district": first(b["district"]),
            "requests": int(b["requests"]["value"]),
            "open": int(b["open"]["requests"]["value"]),
            "needs": {n["key"]: int(n["requests"]["value"]) for n in b["needs"]["buckets"]},
            "latest": b["latest"].get("value_as_string"),
        }
        for b in aggs["community"]["buckets"]
    ]


def place_counts(
    client: Elasticsearch, names: Names, level: str, parent: str = ""
) -> dict[str, int]:
    """Return posts per value of LEVEL (district, street, community), under PARENT if given."""
    upper = {"street": "district", "community": "street"}.get(level)
    filters = [{"term": {upper: parent}}] if upper and parent else []
    body = {
        "query": {"bool": {"filter": filters}},
        "aggs": {"values": {"terms": {"field": level, "size": 500}}},
    }
    aggs = _search(client, names, body)["aggregations"]
    return {b["key"]: b["doc_count"] for b in aggs["values"]["buckets"]}
