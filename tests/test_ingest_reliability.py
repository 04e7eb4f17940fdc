"""`qiuzhu ingest` as real processes against the demo site and the real Elasticsearch.

Failing sources, two runs at once, a run killed with SIGKILL and one stopped with SIGTERM:
every test checks the backlog holds each expected request exactly once (count and ids).
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fixtures_crawl import demo_server_fixture, run_crawl  # noqa: F401

from qiuzhu.settings import ROOT

pytestmark = pytest.mark.slow

SOURCES = ("feed-news-demo", "weibo-search-demo", "board-demo")


# --- helpers, shared with the outage and scheduler tests ---------------------------------


def ingest_env(demo_url, var_dir, **extra):
    """Return the environment of an ingest process (ES and prefix come from `backlog`)."""
    # Share the checkout's gazetteer cache, so each worker does not rebuild the index.
    shared = ROOT / "var" / "cache"
    var_dir.mkdir(parents=True, exist_ok=True)
    if shared.is_dir() and not (var_dir / "cache").exists():
        (var_dir / "cache").symlink_to(shared)
    return {
        **os.environ,
        "QIUZHU_DEMO_SITE_URL": demo_url,
        "QIUZHU_VAR_DIR": str(var_dir),
        "QIUZHU_INGEST_BATCH": "2",
        "QIUZHU_INGEST_PROCESSES": "2",
        **{k: str(v) for k, v in extra.items()},
    }


def start_ingest(env, log_path, *args):
    """Start `qiuzhu ingest ARGS` with ENV; its output goes to LOG_PATH."""
    with open(log_path, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cli", "ingest", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def run_ingest(env, log_path, *args, timeout=240):
    proc = start_ingest(env, log_path, *args)
    code = proc.wait(timeout=timeout)
    return code, Path(log_path).read_text(encoding="utf-8", errors="replace")


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def count_now(client, index):
    try:
        client.indices.refresh(index=index)
        return int(client.count(index=index)["count"])
    except Exception:  # not created yet, or the node is stopping
        return 0


def run_records(client, names):
    from index.runs import recent_runs

    client.indices.refresh(index=names.runs, ignore_unavailable=True)
    return recent_runs(client, names, 50)


def worker_pids(log_text):
    return [int(pid) for pid in re.findall(r"Crawling \S+ \(pid (\d+)\)", log_text)]


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie awaiting its (dead) parent's reaping counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def expected(demo_server, tmp_path_factory):
    """Return the ids each demo source yields that the backlog can hold (deleted ones aside)."""
    result = run_crawl(demo_server, tmp_path_factory.mktemp("reference"), *SOURCES)
    assert result.returncode == 0, result.log[-2000:]
    return {
        source: {item["id"] for item in result.of(source) if item["text"]} for source in SOURCES
    }


# --- a source answering 500s, one serving garbage, one that hangs ------------------------


class _Broken(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/hang"):
            time.sleep(150)
            return
        if self.path.startswith("/garbage"):
            body = b"\x00\x93<rss><chan\xff\xfe garbage <<<"
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
        else:
            body = b"Internal Server Error"
            self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


@pytest.fixture
def broken_site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Broken)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_failing_sources_do_not_stop_the_others(backlog, demo_server, broken_site, tmp_path):
    registry = tmp_path / "sources.yaml"
    registry.write_text(
        f"""
defaults: {{rate_limit: {{delay: 0.05, concurrency: 2}}, timeout: 30}}
sources:
  - {{id: hangs, kind: feed, timeout: 120, start_urls: ["{broken_site}/hang/feed.rss"]}}
  - {{id: answers-500, kind: feed, start_urls: ["{broken_site}/500/feed.rss"]}}
  - {{id: serves-garbage, kind: feed, start_urls: ["{broken_site}/garbage/feed.rss"]}}
  - {{id: news, kind: feed, start_urls: ["{demo_server.url}/feeds/news.atom"]}}
""",
        encoding="utf-8",
    )
    env = ingest_env(
        demo_server.url,
        tmp_path / "var",
        # Long enough for a worker to start (spaCy, gazetteer) and crawl on a busy machine.
        QIUZHU_INGEST_SOURCE_TIMEOUT=25,
        QIUZHU_INGEST_STOP_GRACE=2,
    )
    code, out = run_ingest(env, tmp_path / "ingest.log", "--registry", str(registry))
    assert code == 1, out[-3000:]
    assert backlog.count() == 5
    assert all(i.startswith("news:") for i in backlog.ids())
    [record] = run_records(backlog.client, backlog.names)
    by_source = {s["source"]: s for s in record["sources"]}
    assert record["status"] == "failed"
    assert sorted(record["failed_sources"]) == ["answers-500", "hangs", "serves-garbage"]
    assert by_source["news"]["status"] == "ok" and by_source["news"]["new"] == 5
    assert by_source["answers-500"]["errors"].get("http_500", 0) >= 1
    assert by_source["serves-garbage"]["errors"].get("bad_xml", 0) >= 1
    assert "INGEST_SOURCE_TIMEOUT" in by_source["hangs"]["message"]
    assert "failed: hangs, answers-500, serves-garbage" in out
    for index in (backlog.names.runs, backlog.names.locks):
        mapping = backlog.client.indices.get_mapping(index=index)[index]["mappings"]
        assert mapping["dynamic"] == "strict"


# --- two runs at once ------------------------------------------------------------------


def test_two_runs_on_the_same_sources_one_runs_the_other_says_why(
    backlog, demo_server, expected, tmp_path
):
    env = ingest_env(demo_server.url, tmp_path / "var")
    procs = [start_ingest(env, tmp_path / f"run{i}.log", "--sources", SOURCES[0]) for i in (1, 2)]
    codes = [proc.wait(timeout=240) for proc in procs]
    logs = [(tmp_path / f"run{i}.log").read_text() for i in (1, 2)]
    assert sorted(codes) == [0, 5], logs
    refused = logs[codes.index(5)]
    assert f"{SOURCES[0]} is held by run" in refused and "until" in refused
    assert "Traceback" not in refused
    assert backlog.ids() == sorted(expected[SOURCES[0]])


def test_two_runs_on_disjoint_sources_both_complete(backlog, demo_server, expected, tmp_path):
    env = ingest_env(demo_server.url, tmp_path / "var")
    procs = [start_ingest(env, tmp_path / f"run-{s}.log", "--sources", s) for s in SOURCES[:2]]
    codes = [proc.wait(timeout=240) for proc in procs]
    assert codes == [0, 0], [(tmp_path / f"run-{s}.log").read_text()[-2000:] for s in SOURCES[:2]]
    want = expected[SOURCES[0]] | expected[SOURCES[1]]
    assert backlog.ids() == sorted(want) and backlog.count() == len(want)
    assert len(run_records(backlog.client, backlog.names)) == 2


def test_a_run_on_a_backlog_with_an_older_mapping_writes_nothing_and_says_to_migrate(
    backlog, demo_server, tmp_path
):
    index = backlog.names.requests_version(1)
    backlog.client.indices.put_mapping(
        index=index, meta={"qiuzhu_kind": "requests", "qiuzhu_mapping": "older"}
    )
    env = ingest_env(demo_server.url, tmp_path / "var")
    code, text = run_ingest(env, tmp_path / "run.log", "--sources", SOURCES[0])
    assert code == 2, text
    assert "qiuzhu index migrate" in text and "Traceback" not in text
    assert backlog.count() == 0
    assert not list((tmp_path / "var").rglob("spool-*.jsonl"))  # nothing spooled either


# --- runs stopped half-way ---------------------------------------------------------------


def test_a_run_killed_half_way_is_repeated_without_doubles(
    backlog, demo_server, expected, tmp_path
):
    env = ingest_env(demo_server.url, tmp_path / "var", QIUZHU_INGEST_PROCESSES=1)
    args = ("--sources", ",".join(SOURCES), "-s", "DOWNLOAD_DELAY=0.3")
    proc = start_ingest(env, tmp_path / "killed.log", *args)
    wait_for(lambda: count_now(backlog.client, backlog.names.requests) > 0, 120, "a first batch")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    workers = worker_pids((tmp_path / "killed.log").read_text())
    assert workers
    # The crawl workers die with the run (parent-death signal), after spooling their buffer.
    wait_for(lambda: not any(alive(pid) for pid in workers), 60, "the workers to exit")
    code, out = run_ingest(env, tmp_path / "again.log", *args)
    assert code == 0, out[-3000:]
    assert "Took over the lock" in out
    want = set().union(*expected.values())
    assert backlog.ids() == sorted(want) and backlog.count() == len(want)


def test_sigterm_finishes_the_batch_spools_the_rest_and_releases_the_locks(
    backlog, demo_server, expected, tmp_path
):
    from index import locks

    env = ingest_env(demo_server.url, tmp_path / "var", QIUZHU_INGEST_PROCESSES=1)
    # board-demo first: fifteen pages, so the stop reaches it half-way.
    args = ("--sources", f"{SOURCES[2]},{SOURCES[1]}", "-s", "DOWNLOAD_DELAY=0.3")
    proc = start_ingest(env, tmp_path / "stopped.log", *args)
    wait_for(lambda: count_now(backlog.client, backlog.names.requests) > 0, 120, "a first batch")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    out = (tmp_path / "stopped.log").read_text()
    assert "Received SIGTERM" in out and "Traceback" not in out
    [record] = run_records(backlog.client, backlog.names)
    assert record["status"] == "interrupted"
    states = {s["source"]: s["status"] for s in record["sources"]}
    assert states == {SOURCES[2]: "interrupted", SOURCES[1]: "skipped"}
    assert [locks.read(backlog.client, backlog.names, s) for s in SOURCES[1:]] == [None, None]
    code, out = run_ingest(env, tmp_path / "again.log", *args)
    assert code == 0, out[-3000:]
    want = expected[SOURCES[1]] | expected[SOURCES[2]]
    assert backlog.ids() == sorted(want) and backlog.count() == len(want)


def test_a_worker_told_to_stop_twice_spools_its_buffer_and_remembers_only_what_it_kept(
    backlog, demo_server, tmp_path
):
    from crawlers.state import CrawlState
    from index.bulk import Spool

    spool, state_dir = tmp_path / "spool", tmp_path / "state"
    env = ingest_env(
        demo_server.url,
        tmp_path / "var",
        QIUZHU_SPOOL_DIR=spool,
        QIUZHU_CRAWL_STATE_DIR=state_dir,
        QIUZHU_INGEST_BATCH=3,
    )
    log_path = tmp_path / "worker.log"
    command = [sys.executable, "-m", "crawlers.run", "board-demo"]
    command += ["-s", "QIUZHU_CRAWL_INDEX=true", "-s", "DOWNLOAD_DELAY=0.3"]
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    wait_for(lambda: count_now(backlog.client, backlog.names.requests) > 0, 120, "a first batch")
    proc.send_signal(signal.SIGTERM)
    wait_for(lambda: "Received SIGTERM" in log_path.read_text(errors="replace"), 30, "the stop")
    # A second stop signal, as the parent-death signal sends for each thread of a killed run.
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    text = log_path.read_text(errors="replace")
    assert "unclean shutdown" not in text and "Traceback" not in text
    spooled = {
        json.loads(line)["action"]["_id"]
        for path in Spool(spool).files()
        for line in path.read_text(encoding="utf-8").splitlines()
    }
    assert spooled  # the buffer was not written, it went to the spool
    seen = set(CrawlState.load(state_dir, "board-demo").seen)
    assert seen and seen <= set(backlog.ids()) | spooled
