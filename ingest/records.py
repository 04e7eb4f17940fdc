"""Run records: build them from the per-source reports, keep a local copy, format them.

Every record is also written as JSON under VAR_DIR/ingest/runs, so a run that lost
Elasticsearch half-way still leaves its record; the next run sends records that never
reached the cluster (`unsent`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qiuzhu import settings

log = logging.getLogger(__name__)

COUNTS = ("pages", "items", "new", "updated", "unchanged", "duplicates", "spooled")
#: Source states: crawled (with or without bad pages), failed, stopped by a signal, not started.
OK, FAILED, INTERRUPTED, SKIPPED = "ok", "failed", "interrupted", "skipped"


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def new_record(run_id: str, host: str, pid: int, trigger: str, requested: list[str]) -> dict:
    """Return the record of a run that starts now."""
    started = now_iso()
    return {
        "run_id": run_id,
        "status": "running",
        "trigger": trigger,
        "host": host,
        "pid": pid,
        "started_at": started,
        "ended_at": None,
        "heartbeat_at": started,
        "duration_s": None,
        "requested": requested,
        "failed_sources": [],
        "message": None,
        "replay": {"written": 0, "spooled": 0, "pending_before": 0, "pending_after": 0},
        "totals": {**{name: 0 for name in COUNTS}, "dropped": 0, "errors": 0},
        "sources": [],
    }


def source_entry(
    source: str,
    crawl: Mapping[str, Any] | None,
    indexed: Mapping[str, Any] | None,
    *,
    exit_code: int | None,
    duration: float,
    high_water_before: datetime | None,
    high_water_after: datetime | None,
    message: str | None = None,
    log_path: Path | None = None,
    stopped: bool = False,
) -> dict[str, Any]:
    """Return one source's part of a run record, with its status decided."""
    crawl = crawl or {}
    indexed = indexed or {}
    entry: dict[str, Any] = {
        "source": source,
        "pages": int(crawl.get("pages", 0)),
        "items": int(crawl.get("items", 0)),
        **{name: int(indexed.get(name, 0)) for name in COUNTS[2:]},
        "posts": dict(crawl.get("posts") or {}),
        "dropped": dict(crawl.get("dropped") or {}),
        "errors": dict(crawl.get("errors") or {}),
        "warnings": list(crawl.get("warnings") or []),
        "finish_reason": crawl.get("finish_reason") or None,
        "exit_code": exit_code,
        "duration_s": round(duration, 2),
        "high_water_before": high_water_before.isoformat() if high_water_before else None,
        "high_water_after": high_water_after.isoformat() if high_water_after else None,
        "message": message,
        "log": str(log_path) if log_path else None,
    }
    entry["status"], reason = _status(entry, bool(crawl), stopped)
    if reason and not entry["message"]:
        entry["message"] = reason
    return entry


def _status(entry: dict[str, Any], reported: bool, stopped: bool) -> tuple[str, str | None]:
    if entry["exit_code"] is None:
        return SKIPPED, "not started: the run was stopped first"
    if entry["finish_reason"] == "shutdown":
        return INTERRUPTED, "stopped by a signal; what was gathered is indexed or spooled"
    # A crawl that had just finished when the stop reached it exits by the signal.
    if not reported or (entry["exit_code"] != 0 and not stopped):
        return FAILED, entry["message"] or f"the crawl process exited with {entry['exit_code']}"
    if entry["finish_reason"] != "finished":
        return FAILED, f"the crawl ended with {entry['finish_reason']}"
    produced = entry["items"] + sum(entry["dropped"].values())
    if produced == 0 and entry["errors"]:
        worst = max(entry["errors"], key=entry["errors"].get)
        return FAILED, f"nothing usable came back ({worst} and others: see errors)"
    return OK, None


def finish(
    record: dict[str, Any], entries: list[dict[str, Any]], interrupted: bool
) -> dict[str, Any]:
    """Fill the totals, failed sources, status and end of RECORD from ENTRIES."""
    record["sources"] = entries
    totals = {name: sum(e[name] for e in entries) for name in COUNTS}
    totals["dropped"] = sum(sum(e["dropped"].values()) for e in entries)
    totals["errors"] = sum(sum(e["errors"].values()) for e in entries)
    record["totals"] = totals
    record["failed_sources"] = [e["source"] for e in entries if e["status"] == FAILED]
    if record["failed_sources"]:
        record["status"] = "failed"
    elif interrupted:
        record["status"] = "interrupted"
    else:
        record["status"] = "succeeded"
    ended = datetime.now(UTC)
    record["ended_at"] = ended.isoformat()
    started = datetime.fromisoformat(record["started_at"])
    record["duration_s"] = round((ended - started).total_seconds(), 2)
    return record


# --- local copies -------------------------------------------------------------------


def local_dir() -> Path:
    return settings.var_dir("ingest", "runs")


def keep_local(record: dict[str, Any], sent: bool) -> Path:
    """Write RECORD under VAR_DIR/ingest/runs; mark it unsent when the cluster missed it."""
    folder = local_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record['run_id']}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(path)
    marker = path.with_suffix(".unsent")
    if sent:
        marker.unlink(missing_ok=True)
    else:
        marker.touch()
    return path


def unsent() -> list[dict[str, Any]]:
    """Return the local records that never reached Elasticsearch, oldest first."""
    records = []
    for marker in sorted(local_dir().glob("*.unsent")):
        try:
            records.append(json.loads(marker.with_suffix(".json").read_text(encoding="utf-8")))
        except (OSError, ValueError):
            log.warning("Run record %s is unreadable; left in place", marker.with_suffix(".json"))
    return records


# --- formatting ----------------------------------------------------------------------


def _local(value: str | None) -> str:
    if not value:
        return "-"
    return datetime.fromisoformat(value).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _counts(values: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(values.items())) or "none"


def format_source(entry: Mapping[str, Any]) -> str:
    """Return one line about one source of a run."""
    line = (
        f"  {entry['source']}: {entry['status']}; {entry['pages']} pages, {entry['items']} items"
        f" → {entry['new']} new, {entry['updated']} updated, {entry['duplicates']} duplicates,"
        f" {entry['spooled']} spooled; dropped: {_counts(entry['dropped'])};"
        f" errors: {_counts(entry['errors'])}"
    )
    posts = entry.get("posts") or {}
    if posts:
        line += (
            f"; posts {posts.get('found', 0)}: {posts.get('new', 0)} new, "
            f"{posts.get('changed', 0)} changed, {posts.get('seen', 0)} seen, "
            f"{posts.get('old', 0)} old, {posts.get('failed', 0)} failed"
        )
    marks = (
        f"; mark {_local(entry.get('high_water_before'))} → {_local(entry.get('high_water_after'))}"
    )
    notes = [f"    warning: {w}" for w in entry.get("warnings") or ()]
    if entry.get("message") and entry["status"] != OK:
        notes.insert(0, f"    {entry['message']}")
    return "\n".join([line + marks, *notes])


def format_run(record: Mapping[str, Any], details: bool = True) -> str:
    """Return a run record as the lines a person reads."""
    totals = record.get("totals") or {}
    replay = record.get("replay") or {}
    took = f"{record['duration_s']:.0f} s" if record.get("duration_s") is not None else "running"
    head = (
        f"{record['run_id']}  {record['status']}  started {_local(record.get('started_at'))}"
        f"  took {took}  ({record.get('trigger')}, pid {record.get('pid')} on {record.get('host')})"
    )
    lines = [
        head,
        f"  totals: {totals.get('items', 0)} items → {totals.get('new', 0)} new, "
        f"{totals.get('updated', 0)} updated, {totals.get('duplicates', 0)} duplicates, "
        f"{totals.get('spooled', 0)} spooled; replayed {replay.get('written', 0)} "
        f"(spool before {replay.get('pending_before', 0)}, after {replay.get('pending_after', 0)})",
    ]
    if record.get("failed_sources"):
        lines.append(f"  failed: {', '.join(record['failed_sources'])}")
    if record.get("message"):
        lines.append(f"  {record['message']}")
    if details:
        lines.extend(format_source(entry) for entry in record.get("sources") or [])
    return "\n".join(lines)
