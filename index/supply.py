"""Analysts' requests beside offers, per district and need: where help is missing, where it
waits unused.

A *waiting* request is an open, canonical request nobody has answered yet (new or
triaged); a *valid* offer is one that could still be linked (index/offers.py). Each row
counts both for one district and need, with the gap (requests less offers). The place
and time filters of the analysts' view apply; kind and status do not (they are what the
two counts define).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch

from index.client import answering
from index.export import cell
from index.mapping import Names
from index.offers import WAITING, valid_offers
from index.search import Filters, filter_clauses
from index.stats import UNLOCATED

HEADER = ("district", "need", "waiting_requests", "valid_offers", "gap")


def _waiting() -> dict[str, Any]:
    return {
        "bool": {
            "filter": [
                {"term": {"kind": "request"}},
                {"terms": {"status": list(WAITING)}},
                {"term": {"is_canonical": True}},
            ]
        }
    }


def body(filters: Filters, now: datetime) -> dict[str, Any]:
    """Return the search body of `supply` (pure: no I/O)."""
    scope = replace(filters, kind=[], status=[], overdue=False)
    offers = {"bool": {"filter": valid_offers(now)}}
    sides = {"filters": {"filters": {"requests": _waiting(), "offers": offers}}}
    return {
        "query": {
            "bool": {
                "filter": [clause.to_dict() for clause in filter_clauses(scope)],
                "should": [_waiting(), offers],
                "minimum_should_match": 1,
            }
        },
        "size": 0,
        "aggs": {
            "district": {
                "terms": {"field": "district", "size": 200, "missing": UNLOCATED},
                "aggs": {
                    "needs": {"terms": {"field": "needs", "size": 30}, "aggs": {"sides": sides}}
                },
            },
            "sides": sides,
        },
    }


def supply(
    client: Elasticsearch, names: Names, filters: Filters, now: datetime | None = None
) -> dict[str, Any]:
    """Return waiting requests and valid offers by district and need, most missing first."""
    with answering(client):
        response = client.search(
            index=names.requests,
            body=body(filters, now or datetime.now(UTC)),
            ignore_unavailable=True,
        )
    aggs = response.get("aggregations") or {}
    rows = []
    for district in aggs.get("district", {}).get("buckets", []):
        for need in district["needs"]["buckets"]:
            sides = need["sides"]["buckets"]
            requests, offers = sides["requests"]["doc_count"], sides["offers"]["doc_count"]
            if requests or offers:
                rows.append(
                    {
                        "district": district["key"],
                        "need": need["key"],
                        "requests": requests,
                        "offers": offers,
                        "gap": requests - offers,
                    }
                )
    rows.sort(key=lambda r: (-r["gap"], -r["requests"], r["district"], r["need"]))
    totals = (aggs.get("sides") or {}).get("buckets") or {}
    return {
        "requests": totals.get("requests", {}).get("doc_count", 0),
        "offers": totals.get("offers", {}).get("doc_count", 0),
        "rows": rows,
    }


def csv_lines(figures: dict[str, Any]) -> Iterator[str]:
    """Yield the rows of FIGURES as CSV lines, the header first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    for row in figures["rows"]:
        writer.writerow(
            [cell(row["district"]), cell(row["need"]), row["requests"], row["offers"], row["gap"]]
        )
    yield buffer.getvalue()
