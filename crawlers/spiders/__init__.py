"""The spider kinds: one class per kind of source, one instance per registry source."""

from __future__ import annotations

from crawlers.registry import Source
from crawlers.spiders.base import SourceSpider
from crawlers.spiders.feed import FeedSpider
from crawlers.spiders.html import HtmlBoardSpider
from crawlers.spiders.message_board import MessageBoardSpider
from crawlers.spiders.spreadsheet import SpreadsheetSpider
from crawlers.spiders.weibo import WeiboSpider

SPIDERS: dict[str, type[SourceSpider]] = {
    cls.kind: cls
    for cls in (WeiboSpider, FeedSpider, HtmlBoardSpider, MessageBoardSpider, SpreadsheetSpider)
}


def spider_for(source: Source) -> type[SourceSpider]:
    """Return the spider class that crawls sources of SOURCE's kind."""
    return SPIDERS[source.kind]
