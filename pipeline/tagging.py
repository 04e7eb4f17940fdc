"""Item pipeline stage: classify each help request (kind, needs, urgency, places, dedup keys).

Runs `classify.analyze.analyze_post` on the item's fields and hands the analysed post to the
indexing stage on the item itself (`analysed(item)`): `HelpRequest` is a dataclass shared
with classify/ and index/, so the analysis travels beside its fields, not in them. Enabled
with the indexing stage (QIUZHU_CRAWL_INDEX), since nothing else reads the analysis.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.settings import BaseSettings
from scrapy.statscollectors import StatsCollector

from crawlers.items import HelpRequest
from qiuzhu import settings as qiuzhu_settings
from qiuzhu.errors import InvalidInput

log = logging.getLogger(__name__)

_ATTR = "_qiuzhu_analysed"
NOT_CONFIGURED = (
    "classifying and indexing crawled requests is off: set QIUZHU_CRAWL_INDEX=true "
    "(or -s QIUZHU_CRAWL_INDEX=true) and point QIUZHU_ES_URLS at the cluster"
)


def indexing_enabled(scrapy_settings: BaseSettings) -> bool:
    """Tell whether this crawl classifies and indexes (a -s override wins over the setting)."""
    value = scrapy_settings.get("QIUZHU_CRAWL_INDEX")
    if value is None:
        return bool(qiuzhu_settings.get("CRAWL_INDEX"))
    return scrapy_settings.getbool("QIUZHU_CRAWL_INDEX")


def analysed(item: HelpRequest) -> dict[str, Any] | None:
    """Return the analysed post the tagging stage attached to ITEM, or None."""
    value = getattr(item, _ATTR, None)
    return value if isinstance(value, dict) else None


class TaggingPipeline:
    """Analyse each help request with the NLP stage; the spaCy pipeline is built once."""

    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats
        self._failed_once = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> TaggingPipeline:
        if not indexing_enabled(crawler.settings):
            raise NotConfigured(NOT_CONFIGURED)
        return cls(crawler.stats)

    def open_spider(self) -> None:
        from classify.nlp import get_nlp

        get_nlp()  # built here once, not on the first item

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, HelpRequest):
            return item
        from classify.analyze import analyze_post

        try:
            post = analyze_post(item.to_dict())
        except InvalidInput:
            self.stats.inc_value("qiuzhu/dropped/not_analysable")
            raise DropItem("not_analysable") from None
        except Exception as exc:  # a bug in classify/ must not stop the crawl
            if not self._failed_once:
                self._failed_once = True
                # The type only: the message may quote the post.
                log.error(
                    "analysing a request failed (%s); such items are dropped", type(exc).__name__
                )
            self.stats.inc_value("qiuzhu/dropped/analyze_error")
            raise DropItem("analyze_error") from None
        setattr(item, _ATTR, post)
        self.stats.inc_value("qiuzhu/tagged")
        return item
