"""The demo, crawled and ingested as `make demo` does, then served: nothing personal leaks.

Every log line and run report written by the crawl, the ingest and an API run is read for
any phone number, any person the demo posts name and any 12-character run of any demo
post's text; an analyst's every response for the names and numbers. The demo's posts are
invented (demo/site/posts.yaml names its persons).
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from helpers_demo import demo_env, free_port, run_demo

from qiuzhu.settings import ROOT

POSTS = yaml.safe_load((ROOT / "demo" / "site" / "posts.yaml").read_text(encoding="utf-8"))
PERSONS: list[str] = POSTS["persons"]
AUTHORS = sorted({p["user"] for kind in ("weibo", "forum", "board", "sheet") for p in POSTS[kind]})
# Any phone number, as written or with its digits run together, and the demo's own
# numbers even in part (138-0000-NNNN: the last eight digits).
# A number on its own: the digits of a float in Scrapy's stats (elapsed_time_seconds
# 0.16457886603...) once matched a bare pattern (as in tests/test_qiuzhu_logs.py).
PHONE = re.compile(r"(?<![\d.])1[3-9]\d[-\s]?\d{4}[-\s]?\d{4}(?!\d)|0000-?1[0-9]{3}")
HOUSE = re.compile(r"\d+栋\d+单元")
RUN = 12


def _plain(text: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def _runs() -> set[str]:
    """Return every 12-character run of every demo post's text (HTML removed)."""
    runs: set[str] = set()
    for kind in ("weibo", "feed", "forum", "board", "sheet"):
        for post in POSTS[kind]:
            text = _plain(str(post.get("text") or ""))
            runs.update(text[i : i + RUN] for i in range(len(text) - RUN + 1))
    return runs


def _leaks(text: str, runs: set[str], *, post_text: bool = True) -> list[str]:
    found = [m.group() for m in PHONE.finditer(text)]
    found += [m.group() for m in HOUSE.finditer(text)]
    found += [person for person in PERSONS if person in text]
    if post_text:
        found += [a for a in AUTHORS if a in text]
        flat = " ".join(text.split())
        found += sorted(run for run in runs if run in flat)[:5]
    return found


@pytest.fixture(scope="module")
def demo_run(es_urls, es_client, tmp_path_factory):
    """Run `qiuzhu -v demo --no-serve` (DEBUG: the harshest level) into a private backlog."""
    from index.admin import drop
    from index.mapping import names

    var = tmp_path_factory.mktemp("demo-var")
    env, prefix = demo_env(es_urls, var, QIUZHU_INGEST_PROCESSES="2")
    env.pop("QIUZHU_LOG_LEVEL", None)
    proc = run_demo(env, "-v", "demo", "--no-serve")
    yield {"proc": proc, "var": var, "env": env, "prefix": prefix}
    drop(es_client, names(prefix))


@pytest.mark.slow
def test_the_demo_crawl_and_ingest_logs_and_reports_leak_nothing(demo_run):
    runs = _runs()
    var: Path = demo_run["var"]
    written = [p for p in (var / "ingest").rglob("*") if p.is_file()]
    logs = [p for p in written if p.suffix == ".log"]
    reports = [p for p in written if p.suffix in (".json", ".unsent")]
    # One log and one crawl report per demo source, and the run's record.
    assert len(logs) == 9 and len(reports) >= 10, sorted(p.name for p in written)
    assert sum(p.stat().st_size for p in logs) > 10_000  # DEBUG lines were written
    for path in [*logs, *reports]:
        text = path.read_text(encoding="utf-8")
        assert not _leaks(text, runs), (path.name, _leaks(text, runs))
    stderr = demo_run["proc"].stderr
    assert "DEBUG" in stderr and not _leaks(stderr, runs), _leaks(stderr, runs)


@pytest.mark.slow
def test_the_demo_table_shows_masked_text_only(demo_run):
    table = demo_run["proc"].stdout
    assert "Open requests:" in table and "**" in table
    # The dispatcher's table shows the masked text: no name, number or house number.
    assert not _leaks(table, set(), post_text=False), _leaks(table, set(), post_text=False)


def _get(url: str, token: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read().decode("utf-8")


@pytest.mark.slow
def test_an_api_run_logs_nothing_and_analysts_receive_no_names(demo_run, tmp_path):
    from index import users
    from index.client import make_client
    from index.mapping import names

    env = {**demo_run["env"], "QIUZHU_API_WORKERS": "1"}
    port = free_port()
    client = make_client(env["QIUZHU_ES_URLS"].split(","))
    backlog = names(demo_run["prefix"])
    users.add_user(client, backlog, "ana", "analyst", "analyst-password", replace=True)
    users.add_user(client, backlog, "disp", "dispatcher", "dispatcher-password", replace=True)
    tokens = {name: users.create_token(client, backlog, name) for name in ("ana", "disp")}
    # A file, not a pipe: at DEBUG the server writes more than a pipe holds unread.
    log_path = tmp_path / "serve.log"
    log_file = log_path.open("w", encoding="utf-8")
    serve = subprocess.Popen(
        [sys.executable, "-m", "cli", "-v", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/health", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        status, body = _get(f"{base}/api/requests?collapse=false&size=200", tokens["ana"])
        rows = json.loads(body)["rows"]
        assert status == 200 and len(rows) > 30
        responses = [body]
        for row in rows:
            responses.append(_get(f"{base}/api/requests/{row['id']}", tokens["ana"])[1])
        for path in (
            "/api/export.csv",
            "/api/stats/overview",
            "/api/stats/grid",
            "/api/stats/communities",
            "/api/clusters/" + rows[0]["cluster"],
        ):
            responses.append(_get(base + path, tokens["ana"])[1])
        for response in responses:
            assert not _leaks(response, set(), post_text=False), _leaks(response, set(), False)
        # A dispatcher's reveal returns the phone, and records it; no log line carries it.
        revealed = urllib.request.Request(
            f"{base}/api/requests/{rows[0]['id']}/contact",
            method="POST",
            headers={"Authorization": f"Bearer {tokens['disp']}"},
        )
        with urllib.request.urlopen(revealed, timeout=30) as response:
            assert response.status == 200
    finally:
        serve.terminate()
        serve.wait(timeout=30)
        log_file.close()
        client.close()
    log = log_path.read_text(encoding="utf-8")
    assert "DEBUG" in log, log[-2000:]
    assert not _leaks(log, _runs()), _leaks(log, _runs())
