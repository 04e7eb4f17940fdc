"""Crawl each source in its own process, a few at a time, and collect what each one did.

A worker is `python -m crawlers.run SOURCE` with the tagging and indexing stages on, so a
crash, a hang or a memory blow-up in one source's spider cannot take the others down. Its
output goes to a log file per source; its crawl report and indexing counts to JSON files
the supervisor reads when it ends. A worker that outlives INGEST_SOURCE_TIMEOUT is asked
to stop (SIGTERM: it finishes its batch and spools the rest), then killed. Workers die
with the supervisor (Linux parent-death signal), so a killed run leaves no orphans.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qiuzhu.settings import ROOT

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Outcome:
    """How one worker ended."""

    source: str
    exit_code: int | None
    duration: float
    crawl: dict[str, Any] | None
    indexed: dict[str, Any] | None
    log_path: Path
    message: str | None = None
    #: True when the run asked it to stop (SIGTERM, not a timeout): its report still counts.
    stopped: bool = False


@dataclass
class _Worker:
    source: str
    proc: subprocess.Popen[bytes]
    started: float
    report: Path
    index_report: Path
    log_path: Path
    stop_sent: float | None = None
    timed_out: bool = False


@dataclass
class Pool:
    """Run one crawl process per source, at most PROCESSES at once.

    Attributes:
        folder: where reports and logs of this run go (one set of files per source).
        env: environment of the workers (ES URLs, index prefix, spool, registry).
        timeout: seconds one source may take.
        grace: seconds a worker asked to stop may take before it is killed.
        stop: set it to stop: running workers get SIGTERM, waiting ones are skipped.
    """

    folder: Path
    env: Mapping[str, str]
    processes: int = 2
    timeout: float = 3600.0
    grace: float = 30.0
    overrides: Mapping[str, str] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def command(self, source: str, report: Path) -> list[str]:
        """Return the command line of the worker crawling SOURCE."""
        settings = {
            "QIUZHU_CRAWL_INDEX": "true",
            "QIUZHU_INDEX_REPORT_DIR": str(self.folder),
            **self.overrides,
        }
        cmd = [sys.executable, "-m", "crawlers.run", source, "--report", str(report)]
        for key, value in settings.items():
            cmd += ["-s", f"{key}={value}"]
        return cmd

    def _start(self, source: str) -> _Worker:
        self.folder.mkdir(parents=True, exist_ok=True)
        report = self.folder / f"{source}.crawl.json"
        log_path = self.folder / f"{source}.log"
        with log_path.open("ab") as out:
            proc = subprocess.Popen(
                self.command(source, report),
                cwd=ROOT,
                env=dict(self.env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
                # Its own session: a Ctrl-C at the terminal reaches the supervisor only,
                # which then asks each worker to stop exactly once.
                start_new_session=True,
            )
        log.info("Crawling %s (pid %d); log: %s", source, proc.pid, log_path)
        return _Worker(
            source,
            proc,
            time.monotonic(),
            report,
            self.folder / f"{source}.index.json",
            log_path,
        )

    def run(
        self, sources: list[str], on_start: Callable[[str], None] | None = None
    ) -> dict[str, Outcome | None]:
        """Crawl SOURCES; return each one's outcome (None: not started because of a stop)."""
        waiting = list(sources)
        running: list[_Worker] = []
        done: dict[str, Outcome | None] = {}
        while waiting or running:
            if self.stop.is_set():
                for source in waiting:
                    done[source] = None
                waiting = []
            while waiting and len(running) < max(1, self.processes):
                source = waiting.pop(0)
                if on_start is not None:
                    on_start(source)
                running.append(self._start(source))
            for worker in list(running):
                if worker.proc.poll() is not None:
                    running.remove(worker)
                    done[worker.source] = self._outcome(worker)
                    continue
                self._supervise(worker)
            time.sleep(0.2)
        return {source: done.get(source) for source in sources}

    def _supervise(self, worker: _Worker) -> None:
        now = time.monotonic()
        if worker.stop_sent is None:
            if self.stop.is_set():
                log.info("Asking the crawl of %s to stop", worker.source)
                worker.proc.send_signal(signal.SIGTERM)
                worker.stop_sent = now
            elif now - worker.started > self.timeout:
                log.warning(
                    "The crawl of %s took longer than %.0f s: stopping it",
                    worker.source,
                    self.timeout,
                )
                worker.timed_out = True
                worker.proc.send_signal(signal.SIGTERM)
                worker.stop_sent = now
        elif now - worker.stop_sent > self.grace:
            log.warning(
                "The crawl of %s did not stop in %.0f s: killing it", worker.source, self.grace
            )
            worker.proc.kill()
            worker.stop_sent = float("inf")  # killed: do not kill again

    def _outcome(self, worker: _Worker) -> Outcome:
        duration = time.monotonic() - worker.started
        code = worker.proc.returncode
        message = None
        if worker.timed_out:
            message = f"stopped after {self.timeout:.0f} s (INGEST_SOURCE_TIMEOUT)"
        elif code < 0 and not (worker.stop_sent is not None and code == -signal.SIGTERM):
            message = f"the crawl process died of signal {-code}"
        elif code != 0:
            message = f"the crawl process exited with {code}: see {worker.log_path}"
        return Outcome(
            worker.source,
            code,
            duration,
            _read_json(worker.report),
            _read_json(worker.index_report),
            worker.log_path,
            message,
            stopped=worker.stop_sent is not None and not worker.timed_out,
        )


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and len(data) == 1 and isinstance(next(iter(data.values())), dict):
        # crawlers.run writes {source: report}
        inner = next(iter(data.values()))
        return dict(inner)
    return dict(data) if isinstance(data, dict) else None


def child_env(**values: str) -> dict[str, str]:
    """Return this process's environment with VALUES set (QIUZHU_ settings for workers)."""
    env = dict(os.environ)
    env.update(values)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env
