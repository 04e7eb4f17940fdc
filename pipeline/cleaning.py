"""Item pipeline stage: clean a help request's text and parse its template fields."""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector

from classify.template import parse_template
from crawlers.items import HelpRequest
from crawlers.text import clean_text


class CleaningPipeline:
    """Strip HTML, normalise whitespace, drop items without text, fill `item.template`.

    A post deleted at its source keeps its place even without text: the backlog must
    show that it is gone.
    """

    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CleaningPipeline:
        return cls(crawler.stats)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, HelpRequest):
            return item
        item.text = clean_text(item.text)
        item.title = clean_text(item.title).replace("\n", " ")
        item.author = clean_text(item.author).replace("\n", " ")
        if not item.text and not item.deleted:
            self.stats.inc_value("qiuzhu/posts/empty")
            self.stats.inc_value("qiuzhu/dropped/no_text")
            raise DropItem("no_text")
        parsed = {k: v for k, v in parse_template(item.text).items() if v}
        item.template = {**parsed, **{k: v for k, v in item.template.items() if v}}
        return item
