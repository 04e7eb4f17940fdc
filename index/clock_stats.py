"""Analysts' share of requests answered within their urgency's target (index/clocks.py).

A request (a duplicate cluster, counted once by its canonical member) is *decided* once a
dispatcher answered it, or once it waits past its target unanswered: either way it is known
whether it was answered in time. Requests still inside their target are not counted yet.
The share is `within / decided`, by district, need, team and day of posting.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from elasticsearch import Elasticsearch

from index import clocks
from index.client import answering
from index.export import cell
from index.mapping import Names
from index.search import Filters
from index.stats import UNLOCATED, daily, query

#: A request not yet given a team.
UNASSIGNED = "（未分组）"
DIMENSIONS = ("district", "needs", "team", "day")


def _within() -> dict[str, Any]:
    return {"filter": {"term": {"answered_in_time": True}}}


def body(filters: Filters) -> dict[str, Any]:
    """Return the search body of `within_target` (pure: no I/O)."""
    decided = {
        "bool": {
            "filter": [query(filters), {"term": {"is_canonical": True}}],
            "should": [{"exists": {"field": "answered_at"}}, clocks.overdue_query()],
            "minimum_should_match": 1,
        }
    }
    per = {"aggs": {"within": _within()}}
    return {
        "query": decided,
        "size": 0,
        "track_total_hits": True,
        "aggs": {
            "within": _within(),
            "district": {"terms": {"field": "district", "size": 100, "missing": UNLOCATED}, **per},
            "needs": {"terms": {"field": "needs", "size": 30}, **per},
            "team": {"terms": {"field": "team", "size": 50, "missing": UNASSIGNED}, **per},
            "day": {**daily(), **per},
        },
    }


def _row(value: str, decided: int, within: int) -> dict[str, Any]:
    share = round(within / decided, 4) if decided else None
    return {"value": value, "decided": decided, "within": within, "share": share}


def within_target(client: Elasticsearch, names: Names, filters: Filters) -> dict[str, Any]:
    """Return decided requests, those answered within target, and the share, overall and per
    district, need, team and day."""
    with answering(client):
        result = client.search(index=names.requests, body=body(filters), ignore_unavailable=True)
    aggs = result.get("aggregations") or {}
    decided = int(result["hits"]["total"]["value"])
    out: dict[str, Any] = {
        "targets": {u: int(t.total_seconds()) for u, t in clocks.targets().items()},
        **_row("all", decided, int(aggs.get("within", {}).get("doc_count", 0))),
    }
    out.pop("value")
    for name in DIMENSIONS:
        buckets = aggs.get(name, {}).get("buckets", [])
        out[name] = [
            _row(str(b.get("key_as_string") or b["key"]), b["doc_count"], b["within"]["doc_count"])
            for b in buckets
        ]
    return out


def csv_lines(figures: dict[str, Any]) -> Iterator[str]:
    """Yield FIGURES (from `within_target`) as CSV lines: dimension, value, counts, share."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(*cells: Any) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(cells)
        return buffer.getvalue()

    yield line("dimension", "value", "decided", "within_target", "share")
    yield line("all", "", figures["decided"], figures["within"], _share(figures["share"]))
    for name in DIMENSIONS:
        for row in figures[name]:
            share = _share(row["share"])
            yield line(name, cell(row["value"]), row["decided"], row["within"], share)


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"
