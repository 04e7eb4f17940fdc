"""Run crawls: `crawl()` for Python callers, `python -m crawlers.run` for a fresh process.

A Twisted reactor cannot be restarted, so `crawl()` runs once per process; callers that
crawl repeatedly (tests, the scheduler) start `python -m crawlers.run` each time.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings

from crawlers.registry import Source, load_sources, select_sources
from crawlers.report import SourceReport, build_report, format_report
from crawlers.spiders import spider_for
from crawlers.state import state_dir as default_state_dir
from qiuzhu import logs
from qiuzhu import settings as qiuzhu_settings
from qiuzhu.errors import InvalidInput

logger = logging.getLogger(__name__)


class _CrawlProcess(CrawlerProcess):
    """A CrawlerProcess that a repeated SIGTERM does not force into an unclean shutdown.

    Scrapy takes a second stop signal as "stop now": the close is cut short, so the
    buffered requests may never reach the spool. A supervisor asks once, but the kernel's
    parent-death signal (`ingest.workers`) may come once for every thread of a killed
    supervisor, so a SIGTERM during the graceful stop is ignored; a second Ctrl-C (SIGINT)
    still forces the stop, and SIGKILL is the supervisor's last word.
    """

    def _signal_kill(self, signum: int, frame: Any) -> None:
        if signum == signal.SIGTERM:
            return
        super()._signal_kill(signum, frame)


def source_settings(source: Source, jobdir: Path | None) -> dict[str, Any]:
    """Return the Scrapy settings the registry entry of SOURCE sets."""
    values: dict[str, Any] = {
        "DOWNLOAD_DELAY": source.download_delay,
        "AUTOTHROTTLE_START_DELAY": max(source.download_delay, 0.1),
        "CONCURRENT_REQUESTS_PER_DOMAIN": source.concurrency,
        "DOWNLOAD_TIMEOUT": source.timeout,
    }
    if jobdir is not None:
        values["JOBDIR"] = str(jobdir / source.id)
    return values


def item_pipelines(scrapy_settings: Settings) -> dict[str, int | None]:
    """Return ITEM_PIPELINES with the stages this crawl cannot use switched off.

    Classifying and indexing run only with QIUZHU_CRAWL_INDEX, the export only with an
    output file; leaving them on would make Scrapy warn, for every source, that each one
    disabled itself.
    """
    from pipeline.tagging import indexing_enabled

    stages: dict[str, int | None] = dict(scrapy_settings.getdict("ITEM_PIPELINES"))
    off = []
    if not indexing_enabled(scrapy_settings):
        off += ["pipeline.tagging.TaggingPipeline", "pipeline.indexing.IndexingPipeline"]
    if not scrapy_settings.get("QIUZHU_OUTPUT"):
        off.append("pipeline.export.JsonLinesExportPipeline")
    for path in off:
        if path in stages:
            stages[path] = None
    return stages


def _describe(scrapy_settings: Settings, count: int, dry_run: bool) -> str:
    from pipeline.tagging import indexing_enabled

    indexing = "on" if indexing_enabled(scrapy_settings) else "off (QIUZHU_CRAWL_INDEX)"
    output = scrapy_settings.get("QIUZHU_OUTPUT") or "not exported (no -o)"
    state = scrapy_settings.get("QIUZHU_CRAWL_STATE_DIR")
    state += " (dry run: read, never written)" if dry_run else ""
    return (
        f"crawling {count} source(s): classifying and indexing {indexing}; "
        f"items: {output}; crawl state: {state}"
    )


def crawl(
    source_ids: Sequence[str] | None = None,
    output: Path | str | None = None,
    settings_overrides: Mapping[str, Any] | None = None,
    jobdir: Path | str | None = None,
    registry: Path | str | None = None,
    *,
    state_dir: Path | str | None = None,
    dry_run: bool = False,
    full_read: bool = False,
) -> dict[str, dict[str, Any]]:
    """Crawl the named sources (default: every enabled one) and return a report per source.

    Args:
        source_ids: registry ids; empty means every enabled source.
        output: JSONL file the items are appended to; None exports nothing.
        settings_overrides: Scrapy settings that win over the project's and the registry's.
        jobdir: folder keeping pending requests so an interrupted crawl resumes (one
            subfolder per source); default the CRAWL_JOBDIR setting, empty for none.
        registry: source registry file; default the CRAWL_SOURCES setting.
        state_dir: folder of the sources' crawl state; default the CRAWL_STATE_DIR setting.
        dry_run: read the crawl state but never write it, index nothing and keep no
            jobdir, for trying a registry: only OUTPUT is written.
        full_read: read every list page of every source, as a due full re-read does.

    Returns:
        For each source id: pages, items, posts by outcome, dropped and errors by reason,
        paging, warnings, finish_reason (see `crawlers.report`).

    Raises:
        ConfigError: the registry is wrong or names no such source.
    """
    sources = select_sources(load_sources(registry), list(source_ids or ()))
    base = Settings()
    base.setmodule("crawlers.settings", priority="project")
    if output:
        base.set("QIUZHU_OUTPUT", str(Path(output).resolve()), priority="cmdline")
    base.set("QIUZHU_CRAWL_STATE_DIR", str(Path(state_dir or default_state_dir())), "cmdline")
    base.set("QIUZHU_DRY_RUN", dry_run, priority="cmdline")
    base.set("QIUZHU_FULL_READ", full_read, priority="cmdline")
    jobdir = jobdir if jobdir is not None else qiuzhu_settings.get("CRAWL_JOBDIR")
    job_path = Path(jobdir) if jobdir and not dry_run else None
    # One level for every logger: `-s LOG_LEVEL=...`, else the one the caller configured
    # (the CLI's -v/-q), else the LOG_LEVEL setting. Scrapy's own set-up (in
    # CrawlerProcess) sets its loggers to DEBUG, so the level is applied after it.
    level = _crawl_level(settings_overrides)
    base.set("LOG_LEVEL", logs.level_name(level), priority="cmdline")
    logs.set_level(level)
    process = _CrawlProcess(base)
    logs.set_level(level)
    crawlers: list[tuple[Source, Crawler]] = []
    for index, source in enumerate(sources):
        per_source = base.copy()
        per_source.setdict(source_settings(source, job_path), priority="spider")
        per_source.setdict(dict(settings_overrides or {}), priority="cmdline")
        if dry_run:
            per_source.set("QIUZHU_CRAWL_INDEX", False, priority=100)
        per_source.set("ITEM_PIPELINES", item_pipelines(per_source), priority=100)
        if index == 0:
            logger.info("%s", _describe(per_source, len(sources), dry_run))
        crawler = Crawler(spider_for(source), per_source, init_reactor=index == 0)
        process.crawl(crawler, source=source)
        crawlers.append((source, crawler))
    if crawlers:
        process.start()
    reports: dict[str, dict[str, Any]] = {}
    for source, crawler in crawlers:
        ext = next((e for e in crawler.extensions.middlewares if isinstance(e, SourceReport)), None)
        reports[source.id] = (
            ext.report if ext and ext.report else build_report(crawler.stats.get_stats())
        )
    return reports


def _crawl_level(overrides: Mapping[str, Any] | None) -> int:
    """Return the level of this crawl's logs, configuring logging when nobody has yet."""
    logs.ensure_configured()
    wanted = (overrides or {}).get("LOG_LEVEL")
    if wanted in (None, ""):
        return logging.getLogger().getEffectiveLevel()
    try:
        return logs.parse_level(wanted)
    except ValueError as exc:
        raise InvalidInput(f"-s LOG_LEVEL={wanted!r}: {exc}.") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Crawl from the command line and print the reports as JSON (one process per crawl)."""
    parser = argparse.ArgumentParser(prog="python -m crawlers.run", description=main.__doc__)
    parser.add_argument("sources", nargs="*", help="source ids (default: all enabled)")
    parser.add_argument("-o", "--output", help="append items to this JSONL file")
    parser.add_argument("--jobdir", help="keep pending requests here to resume")
    parser.add_argument("--registry", help="source registry YAML file")
    parser.add_argument("--state-dir", help="folder of the crawl state (default CRAWL_STATE_DIR)")
    parser.add_argument(
        "--dry-run", action="store_true", help="read the crawl state, never write it"
    )
    parser.add_argument("--full-read", action="store_true", help="read every list page")
    parser.add_argument("--report", help="write the reports as JSON to this file")
    parser.add_argument(
        "-s",
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a Scrapy setting",
    )
    args = parser.parse_args(argv)
    logs.configure()
    overrides = dict(item.split("=", 1) for item in args.set)
    reports = crawl(
        args.sources,
        args.output,
        overrides,
        args.jobdir,
        args.registry,
        state_dir=args.state_dir,
        dry_run=args.dry_run,
        full_read=args.full_read,
    )
    for source_id, report in reports.items():
        print(format_report(source_id, report), file=sys.stderr)
    if args.report:
        Path(args.report).write_text(json.dumps(reports, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
