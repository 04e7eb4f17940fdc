"""What every source spider shares: its registry entry, error accounting and paging stop.

A spider instance serves one source: its `name` is the source id. Bad input (a failed
download, a malformed page or record) is logged once with the source and URL, never the
post's text, and counted as `qiuzhu/errors/<reason>`; the crawl goes on.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.http import Request, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawlers.dates import SHANGHAI, parse_posted_at
from crawlers.items import HelpRequest
from crawlers.registry import Source
from crawlers.state import CrawlState

logger = logging.getLogger(__name__)

#: Detail pages answering these mean the post was deleted at the source.
GONE = (404, 410)


def dig(data: Any, path: str) -> Any:
    """Return the value at dotted PATH (`data.list`, `cards.0.mblog`) in DATA, or None."""
    for key in path.split(".") if path else ():
        if isinstance(data, dict):
            data = data.get(key)
        elif isinstance(data, list) and key.isdigit() and int(key) < len(data):
            data = data[int(key)]
        else:
            return None
    return data


def failure_reason(failure: Failure) -> str:
    """Return the stats reason for a failed request."""
    if isinstance(failure.value, HttpError):
        return f"http_{failure.value.response.status}"
    if failure.check(DownloadTimeoutError, TimeoutError):
        return "timeout"
    if failure.check(IgnoreRequest):
        message = str(failure.value)
        if "redirect" in message:
            return "redirect_loop"
        if "robots" in message:
            return "robots_forbidden"
        return "ignored"
    if failure.check(DownloadConnectionRefusedError, CannotResolveHostError, ConnectionError):
        return "connection"
    return "download_failed"


class SourceSpider(scrapy.Spider):
    """Base of the spider kinds: one instance crawls one registry source."""

    kind: ClassVar[str] = ""

    def __init__(self, source: Source, **kwargs: Any) -> None:
        super().__init__(name=source.id, **kwargs)
        self.source = source
        self._logged: set[tuple[str, str]] = set()
        self._cutoff: datetime | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> SourceSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        folder = crawler.settings.get("QIUZHU_CRAWL_STATE_DIR")
        if folder:
            mark = CrawlState.load(Path(folder), spider.source.id).high_water
            if mark is not None:
                spider._cutoff = mark - timedelta(hours=spider.source.overlap_hours)
        return spider

    async def start(self) -> AsyncIterator[Any]:
        for url in self.source.start_urls:
            yield self.request(url, self.parse, dont_filter=True)

    # --- requests and accounting ------------------------------------------------------

    def request(self, url: str, callback: Callable[..., Any], **kwargs: Any) -> Request:
        """Return a request whose failures are counted and logged by `on_error`."""
        kwargs.setdefault("errback", self.on_error)
        return Request(url, callback=callback, **kwargs)

    def on_error(self, failure: Failure) -> None:
        """Count and log a request that failed for good (after retries)."""
        request = getattr(failure, "request", None)
        url = request.url if request is not None else "?"
        self.bad_input(failure_reason(failure), url)

    def bad_input(self, reason: str, url: str, note: str = "") -> None:
        """Count REASON under qiuzhu/errors/ and log it once for URL."""
        self.crawler.stats.inc_value(f"qiuzhu/errors/{reason}")
        if (reason, url) in self._logged:
            return
        self._logged.add((reason, url))
        level = logging.INFO if reason == "robots_forbidden" else logging.WARNING
        logger.log(
            level, "source %s: %s at %s%s", self.name, reason, url, f" ({note})" if note else ""
        )

    def page(self, response: Response, binary: bool = False) -> Response | None:
        """Count a fetched page and return it (as text unless BINARY), or None when unusable.

        An empty body is `empty_page`. A page whose declared charset is wrong (replacement
        characters) is decoded again with the registry's encoding and counted as
        `wrong_encoding`; if that fails too it is `bad_encoding`.
        """
        self.crawler.stats.inc_value("qiuzhu/pages")
        if not response.body.strip():
            self.bad_input("empty_page", response.url)
            return None
        if binary:
            return response
        if not isinstance(response, TextResponse):
            self.bad_input("not_text", response.url)
            return None
        if "\ufffd" not in response.text:
            return response
        if self.source.encoding and response.encoding != self.source.encoding:
            fixed = response.replace(encoding=self.source.encoding)
            assert isinstance(fixed, TextResponse)
            if "\ufffd" not in fixed.text:
                self.bad_input("wrong_encoding", response.url, f"read as {self.source.encoding}")
                return fixed
        self.bad_input("bad_encoding", response.url)
        return None

    # --- items ---------------------------------------------------------------------------

    def text_page(self, response: Response) -> TextResponse | None:
        """Return `page(response)` when it is a usable text page."""
        page = self.page(response)
        return page if isinstance(page, TextResponse) else None

    def when(self, value: object, url: str) -> datetime | None:
        """Parse a publication time; an unreadable one is counted as `bad_date`."""
        try:
            return parse_posted_at(value)
        except ValueError:
            self.bad_input("bad_date", url)
            return None

    def item(self, source_id: object, url: str, **fields: Any) -> HelpRequest:
        """Return a `HelpRequest` of this source."""
        return HelpRequest(
            source=self.name,
            source_id=str(source_id),
            url=url,
            crawled_at=datetime.now(SHANGHAI),
            **fields,
        )

    def too_old(self, posted_at: datetime | None) -> bool:
        """Tell whether POSTED_AT lies before the last complete crawl's mark less the overlap."""
        return self._cutoff is not None and posted_at is not None and posted_at < self._cutoff
