"""Fixtures for the crawler tests: the demo site on a free port and crawls in subprocesses.

A Twisted reactor cannot restart, so every crawl runs `python -m crawlers.run` in a fresh
process, pointed at the test's demo site and its own VAR_DIR.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from scrapy.utils.test import get_crawler

from crawlers.demo_site import DemoSite, start_demo_site
from crawlers.registry import Source, load_sources
from qiuzhu.settings import ROOT

#: An html source with only its required fields (tests of the registry and of the spider).
MINIMAL_HTML = """
  - id: forum-x
    kind: html
    start_urls: ["http://127.0.0.1:1/list"]
    id_pattern: "tid=(\\\\d+)"
    list: {rows: "tr.thread", link: "a::attr(href)"}
    fields: {text: "div.post"}
"""


@dataclass
class CrawlResult:
    items: list[dict[str, Any]]
    reports: dict[str, dict[str, Any]]
    log: str
    returncode: int
    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id = {item["id"]: item for item in self.items}

    def of(self, source: str) -> list[dict[str, Any]]:
        return [item for item in self.items if item["source"] == source]


@dataclass
class DemoServer:
    url: str
    site: DemoSite


@pytest.fixture(scope="module", name="demo_server")
def demo_server_fixture() -> Iterator[DemoServer]:
    """Serve a fresh demo site (round 1) on a free 127.0.0.1 port for one test module."""
    with start_demo_site(site=DemoSite(slow_seconds=1.5)) as (url, site):
        yield DemoServer(url, site)


def run_crawl(
    demo: DemoServer,
    var_dir: Path,
    *args: str,
    output: Path | None = None,
    timeout: float = 120,
) -> CrawlResult:
    """Crawl in a subprocess against DEMO with VAR_DIR; return items, reports and the log."""
    output = output or var_dir / f"items-{len(list(var_dir.glob('items-*')))}.jsonl"
    report = output.with_suffix(".report.json")
    env = {
        **os.environ,
        "QIUZHU_DEMO_SITE_URL": demo.url,
        "QIUZHU_VAR_DIR": str(var_dir),
        "PYTHONWARNINGS": "error::DeprecationWarning",
    }
    cmd = [sys.executable, "-m", "crawlers.run", "-o", str(output), "--report", str(report)]
    proc = subprocess.run(
        [*cmd, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    items = []
    if output.exists():
        items = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    reports = json.loads(report.read_text()) if report.exists() else {}
    return CrawlResult(items, reports, proc.stderr, proc.returncode)


@pytest.fixture(scope="module", name="demo_crawl")
def demo_crawl_fixture(
    demo_server: DemoServer, tmp_path_factory: pytest.TempPathFactory
) -> CrawlResult:
    """Crawl every bundled demo source once (round 1)."""
    result = run_crawl(demo_server, tmp_path_factory.mktemp("crawl"))
    assert result.returncode == 0, result.log[-3000:]
    return result


def demo_source(source_id: str, base_url: str = "http://127.0.0.1:9") -> Source:
    """Return a bundled source pointed at BASE_URL, for unit tests that feed responses."""
    os.environ["QIUZHU_DEMO_SITE_URL"] = base_url
    try:
        return load_sources()[source_id]
    finally:
        del os.environ["QIUZHU_DEMO_SITE_URL"]


def make_spider(source: Source, **settings: Any) -> Any:
    """Return the spider of SOURCE bound to an unstarted crawler (stats work)."""
    from crawlers.spiders import spider_for

    cls = spider_for(source)
    crawler = get_crawler(cls, {"QIUZHU_CRAWL_STATE_DIR": "", **settings})
    return cls.from_crawler(crawler, source=source)
