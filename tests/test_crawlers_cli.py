"""`qiuzhu sources`, `qiuzhu crawl` and `qiuzhu demo-site`."""

import json
import os
import subprocess
import sys
import urllib.request

import pytest
from click.testing import CliRunner
from fixtures_crawl import demo_server_fixture  # noqa: F401

from cli import main
from qiuzhu.settings import ROOT


def test_sources_lists_the_registry():
    result = CliRunner().invoke(main, ["sources"])
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.output.splitlines()]
    assert rows[4][:3] == ["forum-gbk-demo", "html", "enabled"]
    assert len(rows) == 9


def test_crawl_of_an_unknown_source_is_a_clear_error():
    result = CliRunner().invoke(main, ["crawl", "no-such-source"])
    assert result.exit_code == 2
    assert "unknown source 'no-such-source'" in result.output


def test_bad_registry_is_a_clear_error(tmp_path):
    bad = tmp_path / "s.yaml"
    bad.write_text("sources:\n  - id: x\n    kind: feed\n")
    result = CliRunner().invoke(main, ["sources", "--registry", str(bad)])
    assert result.exit_code == 2
    assert "source 'x', field 'start_urls'" in result.output


@pytest.mark.slow
def test_crawl_command_writes_jsonl_and_prints_reports(demo_server, tmp_path):
    out = tmp_path / "items.jsonl"
    env = {**os.environ, "QIUZHU_DEMO_SITE_URL": demo_server.url, "QIUZHU_VAR_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "crawl", "feed-news-demo", "-o", str(out)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "feed-news-demo: 1 pages, 5 items; posts 5: 5 new" in proc.stdout
    items = [json.loads(line) for line in out.read_text().splitlines()]
    assert items[0]["source_id"] == "tag:demo.qiuzhu,2020:atom-001"


@pytest.mark.slow
def test_demo_site_command_serves_on_the_given_port():
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "demo-site", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        url = line.split("on ", 1)[1].split("/ ", 1)[0]
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{url}/robots.txt", timeout=5) as answer:
            assert b"Disallow: /private/" in answer.read()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


def _cli_crawl(demo_server, tmp_path, *args):
    env = {**os.environ, "QIUZHU_DEMO_SITE_URL": demo_server.url, "QIUZHU_VAR_DIR": str(tmp_path)}
    env.pop("QIUZHU_CRAWL_STATE_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "cli", "crawl", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_state_dir_keeps_the_crawl_state_apart(demo_server, tmp_path):
    trial = tmp_path / "trial-state"
    proc = _cli_crawl(demo_server, tmp_path, "feed-news-demo", "--state-dir", str(trial))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (trial / "feed-news-demo.json").exists()
    assert not (tmp_path / "crawl-state").exists()
    assert f"crawl state: {trial}" in proc.stderr
    again = _cli_crawl(demo_server, tmp_path, "feed-news-demo", "--state-dir", str(trial))
    line = "feed-news-demo: 1 pages, 0 items; posts 5: 0 new, 0 changed, 3 seen, 2 old"
    assert line in again.stdout


@pytest.mark.slow
def test_dry_run_reports_what_a_crawl_would_find_and_writes_no_state(demo_server, tmp_path):
    state = tmp_path / "crawl-state"
    first = _cli_crawl(demo_server, tmp_path, "feed-news-demo", "--dry-run")
    assert first.returncode == 0, first.stderr[-2000:]
    assert "posts 5: 5 new" in first.stdout
    assert "Dry run: the crawl state was read, not written" in first.stdout
    assert not state.exists()
    _cli_crawl(demo_server, tmp_path, "feed-news-demo")
    before = (state / "feed-news-demo.json").read_bytes()
    out = tmp_path / "dry.jsonl"
    dry = _cli_crawl(demo_server, tmp_path, "feed-news-demo", "--dry-run", "-o", str(out))
    assert dry.returncode == 0
    assert "posts 5: 0 new, 0 changed, 3 seen, 2 old" in dry.stdout
    assert (state / "feed-news-demo.json").read_bytes() == before
    assert out.read_text() == ""


@pytest.mark.slow
def test_crawl_without_indexing_logs_the_disabled_stages_once(demo_server, tmp_path):
    proc = _cli_crawl(demo_server, tmp_path, "feed-news-demo", "board-demo")
    assert proc.returncode == 0
    assert "Disabled pipeline" not in proc.stderr and "WARNING scrapy.middleware" not in proc.stderr
    assert proc.stderr.count("classifying and indexing off (QIUZHU_CRAWL_INDEX)") == 1
