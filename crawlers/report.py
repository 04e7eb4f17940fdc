"""The per-source crawl report, read from a crawler's stats at the end of a crawl.

Every post the crawl met is counted once as `found` and once by its outcome: `new` and
`changed` (emitted), `seen` (emitted before, unchanged), `old` (before the cutoff: not
read), `failed` (its page could not be read: retried next run) or `empty` (no text).
`pending` is what is left, 0 for a crawl that ran to its end: the counts add up.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

#: Where each post found ends; `truncated` posts are among the new or changed ones.
OUTCOMES = ("new", "changed", "seen", "old", "failed", "empty")


def _posts(stats: Mapping[str, Any]) -> dict[str, int]:
    posts = {k: int(stats.get(f"qiuzhu/posts/{k}", 0)) for k in ("found", *OUTCOMES)}
    posts["truncated"] = int(stats.get("qiuzhu/posts/truncated", 0))
    posts["pending"] = posts["found"] - sum(posts[k] for k in OUTCOMES)
    return posts


def _warnings(report: Mapping[str, Any], stats: Mapping[str, Any]) -> list[str]:
    out = []
    paging, posts = report["paging"], report["posts"]
    if paging.get("out_of_order"):
        out.append(
            f"its list is not {paging['order']} ({paging['out_of_order']}), so this crawl read "
            "every page: set `order:` in the registry to the order it has (or unordered)"
        )
    if paging.get("capped"):
        out.append(
            f"max_pages ({paging['capped']}) ended paging while the pages still held posts "
            "to read: raise max_pages, or posts may be missed"
        )
    if paging.get("unread_lists"):
        out.append(
            f"{paging['unread_lists']} list(s) could not be read to their end (see errors); "
            "the next crawl reads them back to where this one should have"
        )
    if stats.get("qiuzhu/retry/given_up"):
        out.append(
            f"gave up on {stats['qiuzhu/retry/given_up']} post(s) whose page "
            "could not be read in four crawls in a row (see errors)"
        )
    last_new = stats.get("qiuzhu/state/last_new_at")
    if report["pages"] and posts["new"] == 0 and last_new and report["finish_reason"] == "finished":
        quiet = int(stats.get("qiuzhu/state/quiet_runs", 1))
        out.append(
            f"read {report['pages']} page(s) but found nothing new, {quiet} crawl(s) in a row; "
            f"it last found new posts at {str(last_new)[:16].replace('T', ' ')}: if it should "
            "have, check its `order:` and its selectors"
        )
    if report["finish_reason"] == "finished" and posts["pending"] and not paging.get("resumable"):
        out.append(f"{posts['pending']} of its {posts['found']} posts have no outcome")
    return out


def build_report(stats: Mapping[str, Any]) -> dict[str, Any]:
    """Return the report of one source from its crawl stats.

    Keys: `pages` fetched, `items` emitted, `posts` by outcome (see the module), `dropped`
    and `errors` by reason, `paging` (order, full_read, out_of_order, capped,
    unread_lists), `warnings` for a person to act on, and the `finish_reason` Scrapy gave.
    """

    def by_prefix(prefix: str) -> dict[str, Any]:
        return {k.removeprefix(prefix): v for k, v in sorted(stats.items()) if k.startswith(prefix)}

    report: dict[str, Any] = {
        "pages": int(stats.get("qiuzhu/pages", 0)),
        "items": int(stats.get("item_scraped_count", 0)),
        "posts": _posts(stats),
        "dropped": {k: int(v) for k, v in by_prefix("qiuzhu/dropped/").items()},
        "errors": {k: int(v) for k, v in by_prefix("qiuzhu/errors/").items()},
        "paging": by_prefix("qiuzhu/paging/"),
        "finish_reason": str(stats.get("finish_reason", "")),
    }
    report["warnings"] = _warnings(report, stats)
    return report


def format_report(source_id: str, report: Mapping[str, Any]) -> str:
    """Return REPORT as one line a person reads."""

    def counts(values: Mapping[str, int]) -> str:
        return ", ".join(f"{k} {v}" for k, v in values.items()) or "none"

    posts = report.get("posts") or {}
    outcomes = ", ".join(
        f"{posts.get(k, 0)} {k}"
        for k in (*OUTCOMES, "truncated", "pending")
        if posts.get(k) or k in OUTCOMES[:5]
    )
    how = report["finish_reason"]
    if (report.get("paging") or {}).get("full_read"):
        how += ", full read"
    return (
        f"{source_id}: {report['pages']} pages, {report['items']} items; "
        f"posts {posts.get('found', 0)}: {outcomes}; "
        f"dropped: {counts(report['dropped'])}; errors: {counts(report['errors'])} ({how})"
    )


class SourceReport:
    """Log the per-source report when a spider closes, and keep it on the extension."""

    def __init__(self, crawler: Crawler, stats: StatsCollector) -> None:
        self.crawler = crawler
        self.stats = stats
        self.report: dict[str, Any] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SourceReport:
        ext = cls(crawler, crawler.stats)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        return ext

    def spider_opened(self) -> None:
        # Connected now, after the item pipelines connected theirs: signal handlers run in
        # that order, so the report sees what the pipelines count when the spider closes.
        self.crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        # The signal carries the finish reason, which stats may not hold yet.
        stats = {**self.stats.get_stats(), "finish_reason": reason}
        self.report = build_report(stats)
        logger.info("crawl report %s", format_report(spider.name, self.report))
        for warning in self.report["warnings"]:
            logger.warning("source %s: %s", spider.name, warning)
