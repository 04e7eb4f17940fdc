"""Run records: one document per ingestion run in `Names.runs`, under a strict mapping.

A record says when a run started and ended, on which host, what it replayed, and for each
source its pages, items, new, updated, duplicates, spooled, dropped and errors by reason,
its high-water marks and how it ended. `ingest.records` builds and formats them; this
module stores them, and the console and `qiuzhu runs` read them back (`recent_runs`).
"""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

from index.admin import register_side_index
from index.client import answering
from index.mapping import DATE, INTEGER, KEYWORD, STORED, Names

FLOAT = {"type": "float"}
#: Counts by reason: the keys vary, so they are kept in the source and not indexed.
BY_REASON = {"type": "object", "enabled": False}
COUNTS = ("pages", "items", "new", "updated", "unchanged", "duplicates", "spooled")

SOURCE_PROPERTIES: dict[str, Any] = {
    "source": KEYWORD,
    "status": KEYWORD,
    **{name: INTEGER for name in COUNTS},
    # Posts the crawl found, by outcome (new, changed, seen, old, failed, ...).
    "posts": BY_REASON,
    "dropped": BY_REASON,
    "errors": BY_REASON,
    "warnings": STORED,
    "finish_reason": KEYWORD,
    "exit_code": INTEGER,
    "duration_s": FLOAT,
    "high_water_before": DATE,
    "high_water_after": DATE,
    "message": STORED,
    "log": STORED,
}

RUN_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "run_id": KEYWORD,
        "status": KEYWORD,
        "trigger": KEYWORD,
        "host": KEYWORD,
        "pid": INTEGER,
        "started_at": DATE,
        "ended_at": DATE,
        "heartbeat_at": DATE,
        "duration_s": FLOAT,
        "requested": KEYWORD,
        "failed_sources": KEYWORD,
        "message": STORED,
        "relinked": INTEGER,
        "replay": {
            "properties": {
                "written": INTEGER,
                # deletion marks of requests the backlog never held
                "missing": INTEGER,
                "spooled": INTEGER,
                "pending_before": INTEGER,
                "pending_after": INTEGER,
            }
        },
        "totals": {
            "properties": {
                **{name: INTEGER for name in COUNTS},
                "dropped": INTEGER,
                "errors": INTEGER,
            }
        },
        "sources": {"type": "nested", "properties": SOURCE_PROPERTIES},
    },
}
register_side_index("runs", RUN_MAPPING)


def save(client: Elasticsearch, names: Names, record: dict[str, Any]) -> None:
    """Write RECORD (whole) under its `run_id`, visible to searches when this returns.

    Raises:
        Unavailable: Elasticsearch did not answer.
    """
    with answering(client):
        client.index(index=names.runs, id=record["run_id"], document=record, refresh=True)


def touch(client: Elasticsearch, names: Names, run_id: str, at: str) -> None:
    """Set the `heartbeat_at` of run RUN_ID to AT (ISO 8601)."""
    with answering(client):
        client.update(index=names.runs, id=run_id, doc={"heartbeat_at": at})


def get(client: Elasticsearch, names: Names, run_id: str) -> dict[str, Any] | None:
    """Return the record of RUN_ID, or None."""
    with answering(client):
        try:
            return dict(client.get(index=names.runs, id=run_id)["_source"])
        except NotFoundError:
            return None


def recent_runs(client: Elasticsearch, names: Names, limit: int = 50) -> list[dict[str, Any]]:
    """Return the newest ingestion runs, or an empty list when no run was recorded yet."""
    with answering(client):
        if not client.indices.exists(index=names.runs):
            return []
        response = client.search(
            index=names.runs,
            size=limit,
            sort=[
                {"started_at": {"order": "desc", "unmapped_type": "date"}},
                {"_doc": "asc"},
            ],
        )
    return [{"id": h["_id"], **h["_source"]} for h in response["hits"]["hits"]]


def ping(client: Elasticsearch) -> str:
    """Return the cluster status colour (raises `Unavailable` when it does not answer)."""
    with answering(client):
        return str(client.options(request_timeout=3).cluster.health()["status"])
