"""One ingestion run: replay the spool, crawl each source in its own process, record it all.

`ingest()` is what `qiuzhu ingest`, the scheduler's job and a demo call. It takes the
locks of its sources (all or none), replays what earlier runs spooled, crawls the sources
(the workers classify, deduplicate against the whole backlog and index as they go), then
writes the run record and releases the locks. A source that fails is in the record and
makes the exit code non-zero; the others are indexed all the same.

Importing `index.runs` here (and `index.locks` through `ingest.locks`) declares their
indices, so `ensure` creates them with their strict mappings before anything is written.
"""

from __future__ import annotations

import logging
import signal
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crawlers.registry import load_sources, select_sources
from crawlers.state import CrawlState, state_dir
from index import runs
from ingest import records
from ingest.locks import Heartbeat, Owner, release_all, take_all
from ingest.spool import SettledSpool
from ingest.workers import Outcome, Pool, child_env
from qiuzhu import settings
from qiuzhu.errors import InvalidInput, Unavailable

log = logging.getLogger(__name__)

#: Exit codes of a finished run (a run that cannot start raises a QiuzhuError instead).
EXIT_OK, EXIT_SOURCE_FAILED = 0, 1


@dataclass
class RunResult:
    """What a run did: its record, as stored in Elasticsearch and under VAR_DIR."""

    record: dict[str, Any]
    record_path: Path

    @property
    def exit_code(self) -> int:
        return EXIT_SOURCE_FAILED if self.record["failed_sources"] else EXIT_OK

    def summary(self) -> str:
        return records.format_run(self.record)


def new_run_id() -> str:
    """Return a run id that sorts by start time and is unique across machines."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def default_sources() -> list[str]:
    """Return the sources of the INGEST_SOURCES setting (empty: every enabled one)."""
    raw: str = settings.get("INGEST_SOURCES")
    return [s.strip() for s in raw.split(",") if s.strip()]


def _high_water(source: str) -> datetime | None:
    return CrawlState.load(state_dir(), source).high_water


def ingest(
    sources: Sequence[str] | None = None,
    *,
    es_urls: Sequence[str] | None = None,
    prefix: str | None = None,
    registry: Path | str | None = None,
    trigger: str = "python",
    processes: int | None = None,
    worker_env: Mapping[str, str] | None = None,
    crawl_settings: Mapping[str, str] | None = None,
    stop: threading.Event | None = None,
    handle_signals: bool = False,
    echo: Callable[[str], None] | None = None,
) -> RunResult:
    """Run one ingestion of SOURCES (default INGEST_SOURCES, else every enabled source).

    Args:
        es_urls, prefix: the cluster and index prefix (default ES_URLS, INDEX_PREFIX).
        registry: the source registry (default CRAWL_SOURCES).
        trigger: who started the run, kept in the record (cli, schedule, python).
        processes: sources crawled at once (default INGEST_PROCESSES).
        worker_env: more environment for the crawl workers (e.g. QIUZHU_DEMO_SITE_URL).
        crawl_settings: Scrapy settings for every worker (`-s KEY=VALUE`).
        stop: set it to stop the run as SIGTERM would; HANDLE_SIGNALS sets it on
            SIGTERM and SIGINT (only from the main thread).
        echo: where progress lines go (default: the log).

    Raises:
        SourcesLocked: another run holds a source's lock (nothing was done).
        Unavailable: Elasticsearch did not answer at the start (nothing was done).
        ConfigError: the registry is wrong or names no such source, or the backlog needs
            `qiuzhu index migrate` (nothing was done).
    """
    from index.admin import ensure, require_current
    from index.client import make_client, require
    from index.mapping import names as make_names

    say = echo or log.info
    stop = stop or threading.Event()
    urls = list(es_urls or settings.get("ES_URLS"))
    names = make_names(prefix)
    registry_path = Path(registry) if registry else Path(settings.get("CRAWL_SOURCES"))
    wanted = list(sources or default_sources())
    chosen = [s.id for s in select_sources(load_sources(registry_path), wanted)]
    if not chosen:
        raise InvalidInput(f"{registry_path} has no enabled source: enable one or name some.")
    client = make_client(urls)
    require(client)
    ensure(client, names)
    # Every write would be refused by the older strict mapping, and spooled: say so now.
    require_current(client, names)
    _send_unsent(client, names)
    run_id = new_run_id()
    owner = Owner.current(run_id)
    ttl: float = settings.get("LOCK_TTL")
    take_all(client, names, chosen, owner, ttl)
    record = records.new_record(run_id, owner.host, owner.pid, trigger, chosen)
    say(f"Run {run_id}: {len(chosen)} source(s): {', '.join(chosen)}")
    restore = _install_signals(stop) if handle_signals else None
    heartbeat = Heartbeat(
        client, names, chosen, owner, ttl, beat=lambda: _touch(client, names, run_id)
    )
    sent = False
    try:
        _save(client, names, record)
        heartbeat.start()
        spool = SettledSpool()
        record["replay"].update(_replay(client, names, spool, say))
        pool = Pool(
            folder=settings.var_dir("ingest", "logs", run_id),
            env=child_env(
                QIUZHU_ES_URLS=",".join(urls),
                QIUZHU_INDEX_PREFIX=names.prefix,
                QIUZHU_SPOOL_DIR=str(spool.folder),
                QIUZHU_CRAWL_SOURCES=str(registry_path),
                QIUZHU_VAR_DIR=str(settings.get("VAR_DIR")),
                QIUZHU_CRAWL_STATE_DIR=str(state_dir()),
                **dict(worker_env or {}),
            ),
            processes=processes or settings.get("INGEST_PROCESSES"),
            timeout=settings.get("INGEST_SOURCE_TIMEOUT"),
            grace=settings.get("INGEST_STOP_GRACE"),
            overrides=dict(crawl_settings or {}),
            stop=stop,
        )
        before: dict[str, datetime | None] = {}
        outcomes = pool.run(chosen, on_start=lambda s: before.__setitem__(s, _high_water(s)))
        entries = [_entry(source, outcomes[source], before.get(source)) for source in chosen]
        record["relinked"] = _reconcile(client, names, record["started_at"], say)
        for entry in entries:
            say(records.format_source(entry))
        record["replay"]["pending_after"] = spool.pending()
        records.finish(record, entries, interrupted=stop.is_set())
        if heartbeat.lost:
            record["message"] = f"locks lost to another run: {', '.join(sorted(heartbeat.lost))}"
    except BaseException:
        record["status"] = "crashed"
        record["ended_at"] = records.now_iso()
        raise
    finally:
        heartbeat.stop()
        if restore is not None:
            restore()
        sent = _save(client, names, record, quiet=True)
        path = records.keep_local(record, sent)
        release_all(client, names, chosen, owner)
        client.close()
    say(records.format_run(record, details=False))
    if not sent:
        say(f"Elasticsearch did not take the run record; it is kept in {path} and sent next run.")
    return RunResult(record, path)


def _entry(source: str, outcome: Outcome | None, before: datetime | None) -> dict[str, Any]:
    if outcome is None:
        return records.source_entry(
            source,
            None,
            None,
            exit_code=None,
            duration=0.0,
            high_water_before=None,
            high_water_after=_high_water(source),
        )
    return records.source_entry(
        source,
        outcome.crawl,
        outcome.indexed,
        exit_code=outcome.exit_code,
        duration=outcome.duration,
        high_water_before=before,
        high_water_after=_high_water(source),
        message=outcome.message,
        log_path=outcome.log_path,
        stopped=outcome.stopped,
    )


def _reconcile(client: Any, names: Any, since: str, say: Callable[[str], None]) -> int:
    """Link what parallel crawls wrote beside each other; 0 when the cluster is down."""
    from classify.dedup import same_episode
    from index.backlog import reconcile

    try:
        moved = reconcile(client, names, since, same_episode)
    except Unavailable:
        say("Elasticsearch stopped answering before duplicates across sources were linked")
        return 0
    if moved:
        say(f"Linked {moved} request(s) to duplicates another source wrote at the same time.")
    return moved


def _replay(
    client: Any, names: Any, spool: SettledSpool, say: Callable[[str], None]
) -> dict[str, int]:
    from classify.dedup import same_episode
    from index.backlog import replay

    pending = spool.pending()
    if not pending:
        return {"written": 0, "spooled": 0, "pending_before": 0}
    say(f"Replaying {pending} spooled request(s) first")
    try:
        report = replay(client, names, spool, same_episode)
    except Unavailable:
        log.warning("Elasticsearch stopped answering during the replay; the spool is kept")
        return {"written": 0, "spooled": 0, "pending_before": pending}
    return {
        "written": report.written,
        "missing": report.missing,
        "spooled": report.spooled,
        "pending_before": pending,
    }


def _save(client: Any, names: Any, record: dict[str, Any], quiet: bool = False) -> bool:
    try:
        runs.save(client, names, record)
    except Unavailable:
        if not quiet:
            raise
        return False
    return True


def _touch(client: Any, names: Any, run_id: str) -> None:
    runs.touch(client, names, run_id, records.now_iso())


def _send_unsent(client: Any, names: Any) -> None:
    for record in records.unsent():
        if record.get("status") == "running":
            record["status"] = "crashed"
        if _save(client, names, record, quiet=True):
            records.keep_local(record, sent=True)
            log.info("Sent the record of run %s, kept locally until now", record["run_id"])


def _install_signals(stop: threading.Event) -> Callable[[], None] | None:
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, _frame: Any) -> None:
        if not stop.is_set():
            log.warning(
                "Received %s: finishing the current batches, spooling the rest, releasing locks",
                signal.Signals(signum).name,
            )
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


def ingest_demo(
    es_urls: Sequence[str],
    demo_site_url: str,
    prefix: str | None = None,
    echo: Callable[[str], None] | None = None,
    registry: Path | None = None,
) -> RunResult:
    """Ingest every demo source of REGISTRY (default: the crisis profile's demo sources),
    served at DEMO_SITE_URL, into the cluster at ES_URLS.

    The demo site must be running (`qiuzhu demo-site`, or `start_demo_site()` in a
    thread). A second call is incremental: only new or changed posts are indexed again.
    """
    from qiuzhu import profiles

    return ingest(
        None,
        es_urls=es_urls,
        prefix=prefix,
        registry=registry or profiles.current().demo_sources,
        trigger="demo",
        worker_env={"QIUZHU_DEMO_SITE_URL": demo_site_url.rstrip("/")},
        echo=echo,
    )
