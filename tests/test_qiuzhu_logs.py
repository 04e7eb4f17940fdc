"""One logging set-up: LOG_LEVEL, -v and -q govern every logger; lines are masked; no items."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys

import pytest
from fixtures_crawl import demo_server_fixture  # noqa: F401

from crawlers.items import HelpRequest
from crawlers.logformat import PrivateLogFormatter
from qiuzhu import logs
from qiuzhu.settings import ROOT

# A number on its own: the digits of a float in Scrapy's stats (elapsed_time_seconds
# 5.184908933671) once matched a bare pattern.
PHONE = re.compile(r"(?<![\d.])1[3-9]\d[-\s]?\d{4}[-\s]?\d{4}(?![\d])")
LEVEL = re.compile(r"^\S+ \S+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) ", re.M)


@pytest.fixture
def restore_logging(monkeypatch):
    """Let a test configure logging; put pytest's levels and handlers back afterwards."""
    monkeypatch.delenv("QIUZHU_LOG_LEVEL", raising=False)
    root = logging.getLogger()
    saved = root.level, list(root.handlers), logging.getLogger("scrapy").level
    yield
    if logs._HANDLER is not None:
        root.removeHandler(logs._HANDLER)
        logs._HANDLER = None
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]
    logging.getLogger("scrapy").setLevel(saved[2])
    os.environ.pop("QIUZHU_LOG_LEVEL", None)


@pytest.mark.parametrize(
    ("setting", "verbose", "quiet", "level"),
    [
        ("INFO", 0, 0, logging.INFO),
        ("INFO", 1, 0, logging.DEBUG),
        ("INFO", 3, 0, logging.DEBUG),
        ("INFO", 0, 1, logging.WARNING),
        ("WARNING", 1, 0, logging.INFO),
        ("ERROR", 0, 5, logging.CRITICAL),
    ],
)
def test_verbose_and_quiet_move_the_setting(monkeypatch, setting, verbose, quiet, level):
    monkeypatch.setenv("QIUZHU_LOG_LEVEL", setting)
    assert logs.chosen_level(verbose, quiet) == level


def test_a_library_logger_set_to_debug_obeys_the_level(restore_logging):
    stream = io.StringIO()
    logs.configure(logging.INFO, stream)
    # Scrapy's own set-up puts its loggers at DEBUG; the handler's level still governs.
    logging.getLogger("scrapy.core.scraper").setLevel(logging.DEBUG)
    logging.getLogger("scrapy.core.scraper").debug("Scraped from <200 http://x>")
    logging.getLogger("crawlers.spiders.base").info("source demo: 3 pages")
    assert "Scraped" not in stream.getvalue()
    assert "source demo: 3 pages" in stream.getvalue()
    assert os.environ["QIUZHU_LOG_LEVEL"] == "INFO"  # what workers started now inherit


def test_every_line_and_traceback_has_its_numbers_masked(restore_logging):
    stream = io.StringIO()
    logs.configure(logging.INFO, stream)
    log = logging.getLogger("qiuzhu.test")
    log.warning("bad value %r", "电话 138-0000-4321 住7栋2单元302")
    try:
        raise ValueError("ID 420102199001011236 and 13800004321")
    except ValueError:
        log.exception("failed")
    out = stream.getvalue()
    assert not PHONE.search(out) and "19900101" not in out, out
    assert "138-****-****" in out and "420***************" in out and "*栋*单元***" in out


def test_scraped_items_are_not_logged_and_dropped_ones_by_id_alone():
    formatter = PrivateLogFormatter()
    item = HelpRequest(
        source="demo", source_id="42", url="http://x/42", text="程秀兰 138-0000-1101"
    )
    assert formatter.scraped(item, None, None) is None
    error = formatter.item_error(item, ValueError("x"), None, None)
    line = error["msg"] % error["args"]
    assert line == "Error processing demo:42"


def _crawl(demo_server, tmp_path, *args, env=None):
    environ = {
        **os.environ,
        "QIUZHU_DEMO_SITE_URL": demo_server.url,
        "QIUZHU_VAR_DIR": str(tmp_path / f"var-{len(list(tmp_path.iterdir()))}"),
        **(env or {}),
    }
    if "QIUZHU_LOG_LEVEL" not in (env or {}):
        environ.pop("QIUZHU_LOG_LEVEL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=environ,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stderr, set(LEVEL.findall(proc.stderr))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "env", "lowest"),
    [
        (["crawl"], {}, "INFO"),
        (["-v", "crawl"], {}, "DEBUG"),
        (["-q", "crawl"], {}, "WARNING"),
        (["crawl", "-s", "LOG_LEVEL=WARNING"], {}, "WARNING"),
        (["crawl"], {"QIUZHU_LOG_LEVEL": "WARNING"}, "WARNING"),
        (["-v", "crawl"], {"QIUZHU_LOG_LEVEL": "WARNING"}, "INFO"),
    ],
)
def test_crawl_logs_at_the_level_asked_and_never_an_item(demo_server, tmp_path, args, env, lowest):
    log, seen = _crawl(demo_server, tmp_path, *args, "weibo-topic-demo", "forum-gbk-demo", env=env)
    order = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
    # The lowest level asked for is heard (every crawl has its bad pages), none below it.
    assert lowest in seen and min(order.index(level) for level in seen) == order.index(lowest)
    assert "Scraped from" not in log
    assert not PHONE.search(log)
    for private in ("程秀兰", "喻建国", "陈玉珍", "发烧九天", "呼吸困难"):
        assert private not in log
