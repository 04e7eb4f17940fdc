"""Item pipeline stage: emit each help request once, and again only when it changed."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.statscollectors import StatsCollector

from crawlers.dates import SHANGHAI
from crawlers.items import HelpRequest
from crawlers.state import CrawlState
from qiuzhu import settings


class IncrementalPipeline:
    """Drop items already emitted unchanged; keep the source's high-water mark.

    The seen-set maps item ids to content hashes, so a post that was deleted at its
    source or got a reply is emitted again. The mark moves only when a crawl finishes:
    an interrupted crawl must not make the next one skip what it never reached.
    """

    def __init__(self, folder: Path, stats: StatsCollector) -> None:
        self.folder = folder
        self.stats = stats
        self.state: CrawlState | None = None
        self.newest: datetime | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IncrementalPipeline:
        folder = crawler.settings.get("QIUZHU_CRAWL_STATE_DIR")
        if not folder:
            raise NotConfigured("set QIUZHU_CRAWL_STATE_DIR to the folder for crawl state")
        pipe = cls(Path(folder), crawler.stats)
        crawler.signals.connect(pipe.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(pipe.spider_closed, signal=signals.spider_closed)
        return pipe

    def spider_opened(self, spider: Spider) -> None:
        self.state = CrawlState.load(self.folder, spider.name)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, HelpRequest) or self.state is None:
            return item
        # A relative date misread into the future must not push the mark past real posts.
        if item.posted_at and item.posted_at <= datetime.now(SHANGHAI) + timedelta(days=1):
            self.newest = max(self.newest, item.posted_at) if self.newest else item.posted_at
        digest = item.content_hash()
        if self.state.seen.get(item.id) == digest:
            self.stats.inc_value("qiuzhu/dropped/seen")
            raise DropItem("seen")
        self.state.remember(item.id, digest, item.posted_at)
        return item

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.state is None:
            return
        if reason == "finished" and self.newest is not None:
            mark = self.state.high_water
            self.state.high_water = max(mark, self.newest) if mark else self.newest
            # Twice the spiders' overlap: a margin for posts whose dates move a little.
            source = getattr(spider, "source", None)
            overlap = getattr(source, "overlap_hours", None) or settings.get("CRAWL_OVERLAP_HOURS")
            forgotten = self.state.prune(timedelta(hours=2 * float(overlap)))
            self.stats.set_value("qiuzhu/state/forgotten", forgotten)
        self.state.save()
