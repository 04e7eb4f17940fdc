"""The per-source crawl report, read from a crawler's stats at the end of a crawl."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)


def build_report(stats: Mapping[str, Any]) -> dict[str, Any]:
    """Return the report of one source from its crawl stats.

    Keys: `pages` fetched, `items` emitted, `dropped` and `errors` by reason, and the
    `finish_reason` Scrapy gave.
    """

    def by_prefix(prefix: str) -> dict[str, int]:
        return {
            k.removeprefix(prefix): int(v) for k, v in sorted(stats.items()) if k.startswith(prefix)
        }

    return {
        "pages": int(stats.get("qiuzhu/pages", 0)),
        "items": int(stats.get("item_scraped_count", 0)),
        "dropped": by_prefix("qiuzhu/dropped/"),
        "errors": by_prefix("qiuzhu/errors/"),
        "finish_reason": str(stats.get("finish_reason", "")),
    }


def format_report(source_id: str, report: Mapping[str, Any]) -> str:
    """Return REPORT as one line a person reads."""

    def counts(values: Mapping[str, int]) -> str:
        return ", ".join(f"{k} {v}" for k, v in values.items()) or "none"

    return (
        f"{source_id}: {report['pages']} pages, {report['items']} items, "
        f"dropped: {counts(report['dropped'])}; errors: {counts(report['errors'])}"
        f" ({report['finish_reason']})"
    )


class SourceReport:
    """Log the per-source report when a spider closes, and keep it on the extension."""

    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats
        self.report: dict[str, Any] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SourceReport:
        ext = cls(crawler.stats)
        # The spider_closed signal carries the finish reason, which stats may not hold yet.
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_closed(self, spider: Spider, reason: str) -> None:
        stats = {**self.stats.get_stats(), "finish_reason": reason}
        self.report = build_report(stats)
        logger.info("crawl report %s", format_report(spider.name, self.report))
