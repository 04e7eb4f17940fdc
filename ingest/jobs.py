"""The scheduler's job: one `qiuzhu ingest` in a fresh process, stoppable from outside.

The job store keeps a textual reference to `scheduled_run`, so it must stay importable
under this name. Each run is its own process: a Twisted reactor cannot restart, and a run
that crashes cannot take the scheduler with it. `stop_running` asks the runs in progress
to stop (SIGTERM: they finish their batch, spool the rest and release their locks).
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading

from qiuzhu.settings import ROOT

log = logging.getLogger(__name__)

#: Reference the job store keeps (module:function).
JOB_FUNC = "ingest.jobs:scheduled_run"
_EXIT_MEANING = {
    0: "succeeded",
    1: "ended with failed sources (see `qiuzhu runs`)",
    2: "could not start: a setting or the registry is wrong",
    3: "could not start: Elasticsearch did not answer",
    5: "did not start: another run holds its sources",
}
_running: set[subprocess.Popen[bytes]] = set()
_lock = threading.Lock()


def scheduled_run(kind: str = "nightly") -> int:
    """Run `qiuzhu ingest` for the sources of INGEST_SOURCES; return its exit code."""
    cmd = [sys.executable, "-m", "cli", "ingest", "--trigger", f"schedule-{kind}"]
    log.info("Starting the %s ingest run", kind)
    proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, start_new_session=True)
    with _lock:
        _running.add(proc)
    try:
        code = proc.wait()
    finally:
        with _lock:
            _running.discard(proc)
    meaning = _EXIT_MEANING.get(code, f"exited with {code}")
    level = logging.INFO if code == 0 else logging.WARNING
    log.log(level, "The %s ingest run (pid %d) %s", kind, proc.pid, meaning)
    return code


def stop_running(timeout: float = 120.0) -> int:
    """Ask every run in progress to stop, wait up to TIMEOUT, kill what remains; count them."""
    with _lock:
        procs = list(_running)
    for proc in procs:
        log.info("Asking the ingest run (pid %d) to stop", proc.pid)
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log.warning(
                "The ingest run (pid %d) did not stop in %.0f s; killing it", proc.pid, timeout
            )
            proc.kill()
            proc.wait()
    return len(procs)
