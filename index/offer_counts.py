"""How many valid offers could serve each row of the dispatcher's list, at list speed.

The rule is `index.offers`'s: an offer of a shared need, valid (open, not used up, not
expired), in the request's city or naming none, not linked to the request already. The
list shows the count on every request row, so it must not cost a second search per page:
each process keeps the valid offers grouped by city and set of needs (with their expiry),
read at most every `TTL` seconds and at once after this process links an offer or marks
one used up. A count may lag another process's write by up to `TTL`; a request's own list
of matches (`offers.matches`) is always read fresh. `exact_body` is the same count as one
Elasticsearch search, which the tests hold the grouped count to.
"""

from __future__ import annotations

import math
import threading
import time
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch

from index.client import answering
from index.mapping import Names

#: Seconds the grouped offers are reused before they are read again.
TTL = 10.0
#: Offers read per page when the groups are built.
_PAGE = 5000


@dataclass
class _Groups:
    """Valid offers by city code ("" for none), then by set of needs: sorted expiries
    (seconds since the epoch; infinity for none). And each offer's own, for links."""

    by_city: dict[str, dict[frozenset[str], list[float]]] = field(default_factory=dict)
    offers: dict[str, tuple[str, frozenset[str], float]] = field(default_factory=dict)
    built: float = 0.0


_CACHE: dict[str, _Groups] = {}
_LOCK = threading.Lock()


def invalidate(names: Names) -> None:
    """Forget the grouped offers of a backlog: the next count reads them again."""
    with _LOCK:
        _CACHE.pop(names.requests, None)


def _expiry(value: Any) -> float:
    if not value:
        return math.inf
    text = value[0] if isinstance(value, list) else value
    if isinstance(text, int | float):
        return float(text) / 1000
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()


def _build(client: Elasticsearch, names: Names, now: datetime) -> _Groups:
    from index.offers import valid_offers

    groups = _Groups(built=time.monotonic())
    grouped: dict[str, dict[frozenset[str], list[float]]] = defaultdict(lambda: defaultdict(list))
    body: dict[str, Any] = {
        "query": {"bool": {"filter": valid_offers(now)}},
        "_source": False,
        "docvalue_fields": ["city_code", "needs", "offer.expires_at"],
        "sort": ["_doc"],
        "size": _PAGE,
        "track_total_hits": False,
    }
    with answering(client):
        while True:
            hits = client.search(index=names.requests, body=body, ignore_unavailable=True)
            page = hits["hits"]["hits"]
            for hit in page:
                fields = hit.get("fields") or {}
                city = (fields.get("city_code") or [""])[0]
                needs = frozenset(fields.get("needs") or [])
                until = _expiry(fields.get("offer.expires_at"))
                grouped[city][needs].append(until)
                groups.offers[hit["_id"]] = (city, needs, until)
            if len(page) < _PAGE:
                break
            body["search_after"] = page[-1]["sort"]
    for city, by_needs in grouped.items():
        groups.by_city[city] = {needs: sorted(times) for needs, times in by_needs.items()}
    return groups


def _groups(client: Elasticsearch, names: Names, now: datetime) -> _Groups:
    with _LOCK:
        cached = _CACHE.get(names.requests)
        if cached is not None and time.monotonic() - cached.built < TTL:
            return cached
    built = _build(client, names, now)
    with _LOCK:
        _CACHE[names.requests] = built
    return built


def _serves(city: str, needs: frozenset[str], row_city: str, row_needs: set[str]) -> bool:
    return bool(needs & row_needs) and (not row_city or city in (row_city, ""))


def count_offers(
    client: Elasticsearch, names: Names, rows: list[dict[str, Any]], now: datetime | None = None
) -> None:
    """Set `offers` on each request row of ROWS: how many valid offers not linked to it yet
    could serve it."""
    rows = [r for r in rows if r.get("kind") == "request" and r.get("needs")]
    if not rows:
        return
    now = now or datetime.now(UTC)
    groups = _groups(client, names, now)
    moment = now.timestamp()
    for row in rows:
        row_city = row.get("city_code") or ""
        row_needs = set(row["needs"])
        cities = (row_city, "") if row_city else tuple(groups.by_city)
        count = 0
        for city in cities:
            for needs, expiries in groups.by_city.get(city, {}).items():
                if needs & row_needs:
                    count += len(expiries) - bisect_left(expiries, moment)
        for linked in row.get("links") or []:
            offer = groups.offers.get(linked)
            if offer and offer[2] >= moment and _serves(offer[0], offer[1], row_city, row_needs):
                count -= 1
        row["offers"] = count


def exact_body(rows: list[dict[str, Any]], now: datetime) -> dict[str, Any] | None:
    """Return one search that counts the valid offers near each request row, or None: the
    same count as `count_offers`, a `filters` bucket per row."""
    from index.offers import _near, _not_linked, valid_offers

    buckets = {}
    for row in rows:
        if row.get("kind") != "request" or not row.get("needs"):
            continue
        near, _ = _near(row)
        clauses = [{"terms": {"needs": row["needs"]}}, *near, *_not_linked(row)]
        buckets[row["id"]] = {"bool": {"filter": clauses}}
    if not buckets:
        return None
    return {
        "query": {"bool": {"filter": valid_offers(now)}},
        "size": 0,
        "track_total_hits": False,
        "aggs": {"near": {"filters": {"filters": buckets}}},
    }
