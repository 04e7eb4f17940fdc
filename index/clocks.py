"""Waiting clocks: how long a request has waited for an answer, against its urgency's target.

A request's clock starts at its post time (its first crawl when the source gives none) and
stops when a dispatcher first answers it: takes it on (`assigned`) or closes it in any way
but as a duplicate. The target per urgency is the setting ANSWER_TARGETS (critical 1 h,
high 6 h, normal 24 h by default). A request still waiting (`new` or `triaged`, never
answered) past its target is *overdue*.

A duplicate cluster has one clock: its canonical member's. When a dispatcher answers any
member, every member is stamped with the answer (`answered_at`, `answered_in_time`), so the
cluster leaves the overdue queue whichever member they opened. The target is that of the
cluster's urgency (its most urgent member), and the queries here need no script: the
overdue rule is Elasticsearch date math (`now-60m`), so a search body stays the same from
one minute to the next and can be built once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch, helpers

from index.client import answering
from index.mapping import URGENCY_RANK, Names
from qiuzhu import settings
from qiuzhu.errors import ConfigError

#: Statuses of a request nobody has answered yet.
WAITING = ("new", "triaged")
#: Statuses that answer a request (a duplicate is filed, not answered).
ANSWERING = ("assigned", "resolved", "unreachable", "closed")
#: Score an overdue critical request gets on top of any relevance, so that it stays first
#: whatever the sort.
OVERDUE_BOOST = 1_000_000.0


def parse_targets(raw: str) -> dict[str, timedelta]:
    """Return the targets in RAW (`critical=1h,high=6h,normal=24h`; units m, h, d).

    Raises:
        ValueError: an urgency, amount or unit is not understood, or an urgency is missing.
    """
    units = {"m": 60, "h": 3600, "d": 86400}
    out: dict[str, timedelta] = {}
    for part in (p.strip() for p in raw.split(",") if p.strip()):
        urgency, _, amount = part.partition("=")
        urgency, amount = urgency.strip(), amount.strip()
        if urgency not in URGENCY_RANK:
            raise ValueError(f"unknown urgency {urgency!r} (use {', '.join(URGENCY_RANK)})")
        unit = amount[-1:] if amount[-1:] in units else "h"
        number = amount[:-1] if amount[-1:] in units else amount
        try:
            value = float(number)
        except ValueError:
            raise ValueError(f"{part!r} is not urgency=amount (1h, 90m, 2d)") from None
        if value <= 0:
            raise ValueError(f"{part!r}: a target must be longer than nothing")
        out[urgency] = timedelta(seconds=value * units[unit])
    missing = [u for u in URGENCY_RANK if u not in out]
    if missing:
        raise ValueError(f"no target for {', '.join(missing)}")
    return out


def targets() -> dict[str, timedelta]:
    """Return the answer target of each urgency (setting ANSWER_TARGETS)."""
    raw = settings.get("ANSWER_TARGETS")
    try:
        return parse_targets(raw)
    except ValueError as exc:
        raise ConfigError(f"QIUZHU_ANSWER_TARGETS={raw!r} is not valid: {exc}.") from None


def _rank_targets() -> dict[int, timedelta]:
    return {URGENCY_RANK[u]: t for u, t in targets().items()}


def _started_before(minutes: int) -> dict[str, Any]:
    """Return the query: the clock started more than MINUTES ago."""
    bound = {"lt": f"now-{minutes}m"}
    return {
        "bool": {
            "should": [
                {"range": {"posted_at": bound}},
                {
                    "bool": {
                        "must_not": [{"exists": {"field": "posted_at"}}],
                        "filter": [{"range": {"crawled_at": bound}}],
                    }
                },
            ],
            "minimum_should_match": 1,
        }
    }


def waiting_query() -> dict[str, Any]:
    """Return the query: a cluster's request nobody has answered yet."""
    return {
        "bool": {
            "filter": [
                {"term": {"kind": "request"}},
                {"term": {"is_canonical": True}},
                {"terms": {"status": list(WAITING)}},
            ],
            "must_not": [{"exists": {"field": "answered_at"}}],
        }
    }


def overdue_query(urgency_field: str = "cluster_urgency_rank", only: str = "") -> dict[str, Any]:
    """Return the query: waiting requests past their urgency's target (ONLY: one urgency)."""
    per_rank = []
    for rank, target in sorted(_rank_targets().items(), reverse=True):
        if only and rank != URGENCY_RANK[only]:
            continue
        minutes = max(1, int(target.total_seconds() // 60))
        per_rank.append(
            {"bool": {"filter": [{"term": {urgency_field: rank}}, _started_before(minutes)]}}
        )
    query = waiting_query()
    query["bool"]["filter"].append({"bool": {"should": per_rank, "minimum_should_match": 1}})
    return query


def overdue_first(urgency_field: str) -> dict[str, Any]:
    """Return the scoring clause that lifts overdue critical requests above every other."""
    return {
        "constant_score": {
            "filter": overdue_query(urgency_field, only="critical"),
            "boost": OVERDUE_BOOST,
        }
    }


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def started_at(source: dict[str, Any]) -> datetime | None:
    """Return when a post's clock started: its cluster's first post time (one request, one
    clock, whichever member a list shows), else its own post time, else its first crawl."""
    own = _when(source.get("posted_at")) or _when(source.get("crawled_at"))
    first = _when(source.get("cluster_first_at"))
    return min(own, first) if own and first else first or own


def _urgency(source: dict[str, Any]) -> str:
    rank = source.get("cluster_urgency_rank") or source.get("urgency_rank")
    by_rank = {r: u for u, r in URGENCY_RANK.items()}
    return by_rank.get(int(rank), "normal") if rank else source.get("urgency") or "normal"


def clock(source: dict[str, Any], now: datetime | None = None) -> dict[str, Any] | None:
    """Return the clock a dispatcher sees on a request, or None (not a request, no time).

    `waited_s` runs until the answer; `left_s` is the time left to the target (negative:
    overdue), shown only while the request waits.
    """
    if source.get("kind") != "request":
        return None
    start = started_at(source)
    if start is None:
        return None
    now = now or datetime.now(UTC)
    target = targets()[_urgency(source)]
    due = start + target
    answered = _when(source.get("answered_at"))
    out: dict[str, Any] = {
        "since": start.isoformat(),
        "due": due.isoformat(),
        "target_s": int(target.total_seconds()),
    }
    if answered is not None:
        out["answered_at"] = answered.isoformat()
        out["waited_s"] = max(0, int((answered - start).total_seconds()))
        out["in_time"] = bool(source.get("answered_in_time"))
        return out
    out["waited_s"] = max(0, int((now - start).total_seconds()))
    if source.get("status") in WAITING:
        out["left_s"] = int((due - now).total_seconds())
        out["overdue"] = now > due
    return out


def answer_fields(
    client: Elasticsearch, names: Names, current: dict[str, Any], new_status: str, now: datetime
) -> dict[str, Any]:
    """Return the fields that stop a request's clock when NEW_STATUS first answers it.

    The clock is the cluster's: it started at its canonical (earliest) member's time, so a
    dispatcher who opens a younger repost is measured against the first call for help.
    """
    if current.get("answered_at") or new_status not in ANSWERING:
        return {}
    if current.get("kind") != "request":
        return {}
    first = current
    if current.get("cluster") and not current.get("is_canonical"):
        with answering(client):
            found = client.search(
                index=names.requests,
                size=1,
                query={
                    "bool": {
                        "filter": [
                            {"term": {"cluster": current["cluster"]}},
                            {"term": {"is_canonical": True}},
                        ]
                    }
                },
                source_includes=["posted_at", "crawled_at"],
            )["hits"]["hits"]
        if found:
            first = {**current, **found[0]["_source"]}
    start = started_at(first)
    due = start + targets()[_urgency(current)] if start else None
    return {"answered_at": now.isoformat(), "answered_in_time": bool(due and now <= due)}


def stamp_cluster(client: Elasticsearch, names: Names, cluster: str, answer: dict[str, Any]) -> int:
    """Stamp ANSWER on every member of CLUSTER that has none (the cluster's clock stops).

    Returns how many members were stamped.
    """
    if not cluster or not answer:
        return 0
    with answering(client):
        client.indices.refresh(index=names.requests)
        actions = (
            {
                "_op_type": "update",
                "_index": names.requests,
                "_id": hit["_id"],
                "doc": answer,
            }
            for hit in helpers.scan(
                client,
                index=names.requests,
                query={
                    "query": {
                        "bool": {
                            "filter": [{"term": {"cluster": cluster}}],
                            "must_not": [{"exists": {"field": "answered_at"}}],
                        }
                    }
                },
                _source=False,
            )
        )
        stamped, _ = helpers.bulk(client, actions, raise_on_error=True, refresh=True)
    return int(stamped)
