"""Bulk writes to the backlog that never lose a request.

Every request is written as an update with a deterministic `_id` (source + source id): the
crawled part as a partial `doc`, the whole document as the `upsert`. Writing the same
request twice is therefore harmless, which is what makes replay exactly-once in effect.

Items answered with 429 or a 5xx, and chunks that meet a connection error, are retried with
exponential backoff; what still fails is appended to a spool file (JSONL, readable only by
its owner, since it holds personal data) and replayed by `replay`. Once the cluster stops
answering altogether, the rest of the batch goes straight to the spool instead of waiting
out every retry.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from elastic_transport import TransportError
from elasticsearch import Elasticsearch, helpers

from index.documents import workflow_defaults
from index.mapping import WORKFLOW_FIELDS
from qiuzhu import settings

log = logging.getLogger(__name__)

Action = dict[str, Any]


@dataclass
class BulkReport:
    """What one bulk write did, by outcome."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    spooled: int = 0
    missing: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    spool_file: Path | None = None
    unreachable: bool = False

    @property
    def written(self) -> int:
        return self.created + self.updated + self.unchanged

    def merge(self, other: BulkReport) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.spooled += other.spooled
        self.missing += other.missing
        self.errors.update(other.errors)
        self.spool_file = other.spool_file or self.spool_file
        self.unreachable = self.unreachable or other.unreachable


def update_action(index: str, crawled: dict[str, Any]) -> Action:
    """Return the bulk action that writes CRAWLED without touching workflow fields."""
    return {
        "_op_type": "update",
        "_index": index,
        "_id": crawled["id"],
        "doc": crawled,
        "upsert": {**crawled, **workflow_defaults(crawled)},
        "retry_on_conflict": 5,
    }


def create_action(index: str, crawled: dict[str, Any]) -> Action:
    """Return the cheaper action for a request not in the backlog yet: create it whole.

    Should another writer create it first, the answer is a 409 and `write` sends the
    `update_action` instead, so workflow fields are never overwritten.
    """
    return {
        "_op_type": "create",
        "_index": index,
        "_id": crawled["id"],
        "_source": {**crawled, **workflow_defaults(crawled)},
    }


def crawled_of(action: Action) -> dict[str, Any] | None:
    """Return the crawled part a request action writes, or None for other actions."""
    if action.get("_op_type") == "update" and "upsert" in action:
        return dict(action["doc"])
    if action.get("_op_type") == "create":
        return {k: v for k, v in action["_source"].items() if k not in WORKFLOW_FIELDS}
    return None


def mark_action(index: str, request_id: str, fields: dict[str, Any]) -> Action:
    """Return the action that sets FIELDS on a request already in the backlog, if it is."""
    return {
        "_op_type": "update",
        "_index": index,
        "_id": request_id,
        "doc": fields,
        "retry_on_conflict": 5,
    }


class Spool:
    """Append-only JSONL files of actions that could not be written."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or settings.get("SPOOL_DIR")
        self._file: Path | None = None

    def _open_file(self) -> Path:
        if self._file is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.folder.chmod(0o700)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
            self._file = self.folder / f"spool-{stamp}-{os.getpid()}.jsonl"
        return self._file

    def append(self, actions: Iterable[tuple[Action, str]]) -> Path:
        """Append (action, reason) pairs; return the file they went to."""
        path = self._open_file()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as out:
            for action, reason in actions:
                record = {
                    "action": action,
                    "reason": reason,
                    "spooled_at": datetime.now(UTC).isoformat(),
                }
                out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            out.flush()
            os.fsync(out.fileno())
        return path

    def files(self) -> list[Path]:
        """Return the spool files, oldest first."""
        if not self.folder.exists():
            return []
        return sorted(self.folder.glob("spool-*.jsonl"))

    def pending(self) -> int:
        """Return how many actions wait in the spool."""
        total = 0
        for path in self.files():
            with path.open(encoding="utf-8") as fh:
                total += sum(1 for line in fh if line.strip())
        return total

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the spool's lock, so two replays never send the same file at once."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _retryable(status: Any) -> bool:
    return not isinstance(status, int) or status == 429 or status >= 500


def _reason(info: dict[str, Any]) -> str:
    error = info.get("error")
    if isinstance(error, dict):
        return str(error.get("type", "error"))
    if info.get("exception") is not None:
        return type(info["exception"]).__name__
    return str(error or "error")[:80]


def _chunks(actions: Iterable[Action], size: int) -> Iterator[list[Action]]:
    it = iter(actions)
    while chunk := list(islice(it, size)):
        yield chunk


def write(
    client: Elasticsearch,
    actions: Iterable[Action],
    spool: Spool | None = None,
    *,
    chunk_size: int | None = None,
    retries: int | None = None,
    backoff: float = 0.5,
) -> BulkReport:
    """Write ACTIONS in chunks; retry what is retryable and spool what still fails."""
    spool = spool or Spool()
    chunk_size = chunk_size or settings.get("BULK_CHUNK")
    retries = settings.get("BULK_RETRIES") if retries is None else retries
    report = BulkReport()
    for chunk in _chunks(actions, chunk_size):
        if report.unreachable:
            report.spool_file = spool.append((a, "unreachable") for a in chunk)
            report.spooled += len(chunk)
            report.errors["unreachable"] += len(chunk)
            continue
        _write_chunk(client, chunk, spool, report, retries, backoff)
    if report.spooled:
        log.warning(
            "%d request(s) could not be indexed and were spooled to %s (%s); "
            "`qiuzhu index replay` sends them again",
            report.spooled,
            report.spool_file,
            ", ".join(f"{k}: {v}" for k, v in report.errors.most_common()),
        )
    return report


def _write_chunk(
    client: Elasticsearch,
    chunk: list[Action],
    spool: Spool,
    report: BulkReport,
    retries: int,
    backoff: float,
) -> None:
    pending = chunk
    final: list[tuple[Action, str]] = []
    for attempt in range(retries + 1):
        failed: list[tuple[Action, str]] = []
        results = helpers.streaming_bulk(
            client,
            pending,
            chunk_size=len(pending),
            raise_on_error=False,
            raise_on_exception=False,
            max_retries=0,
            yield_ok=True,
        )
        done = 0
        try:
            for action, (ok, result) in zip(pending, results, strict=False):
                done += 1
                info = next(iter(result.values()))
                if ok:
                    outcome = info.get("result")
                    if outcome == "created":
                        report.created += 1
                    elif outcome == "noop":
                        report.unchanged += 1
                    else:
                        report.updated += 1
                elif info.get("status") == 404 and "upsert" not in action:
                    # A partial update (a deletion mark) of a request never indexed.
                    report.missing += 1
                elif info.get("status") == 409 and action["_op_type"] == "create":
                    # Created meanwhile by another writer: update it like any re-ingestion.
                    doc = crawled_of(action)
                    assert doc is not None
                    failed.append((update_action(action["_index"], doc), "exists"))
                elif _retryable(info.get("status")):
                    failed.append((action, _reason(info)))
                else:
                    final.append((action, _reason(info)))
        except TransportError as exc:
            # streaming_bulk raises connection failures instead of yielding them per item.
            failed.extend((action, type(exc).__name__) for action in pending[done:])
        if not failed:
            break
        connection_lost = all(r in ("ConnectionError", "ConnectionTimeout") for _, r in failed)
        if attempt == retries or (connection_lost and attempt >= 1):
            final.extend(failed)
            report.unreachable = report.unreachable or connection_lost
            break
        time.sleep(min(backoff * 2**attempt, 30.0))
        pending = [a for a, _ in failed]
    if final:
        report.spool_file = spool.append(final)
        report.spooled += len(final)
        report.errors.update(reason for _, reason in final)


def replay(
    client: Elasticsearch,
    spool: Spool | None = None,
    send: Callable[[list[Action], Spool], BulkReport] | None = None,
) -> BulkReport:
    """Send every spooled action again (with SEND, default `write`); failures are re-spooled.

    A file is removed only after its actions were written or spooled again, so a crash
    mid-replay loses nothing (the next replay sends them again, which is harmless).
    """
    spool = spool or Spool()
    send = send or (lambda actions, retry: write(client, actions, retry))
    total = BulkReport()
    with spool.locked():
        for path in spool.files():
            actions = []
            with path.open(encoding="utf-8") as fh:
                for number, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        actions.append(json.loads(line)["action"])
                    except (ValueError, KeyError, TypeError):
                        # A torn last line from a crash mid-append: keep it for a person.
                        log.error(
                            "Spool file %s line %d is not a spooled action; kept in %s",
                            path.name,
                            number,
                            path.with_suffix(".corrupt"),
                        )
                        with path.with_suffix(".corrupt").open("a") as bad:
                            bad.write(line)
            retry_spool = Spool(spool.folder)
            report = send(actions, retry_spool) if actions else BulkReport()
            total.merge(report)
            path.unlink()
            log.info(
                "Replayed %s: %d written, %d spooled again",
                path.name,
                report.written,
                report.spooled,
            )
            if report.unreachable:
                break
    return total
