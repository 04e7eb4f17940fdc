"""What every source spider shares: its registry entry, its reading plan, error accounting.

A spider instance serves one source: its `name` is the source id. Bad input (a failed
download, a malformed page or record) is logged once with the source and URL, never the
post's text, and counted as `qiuzhu/errors/<reason>`; the crawl goes on.

Every post a crawl meets ends in one outcome counted as `qiuzhu/posts/<outcome>`:
spiders count `found` (each post once), `old` (before the cutoff: not read) and `failed`
(its page could not be read; retried by the next runs); the item pipelines count `new`,
`changed`, `seen` and `empty`. The report checks that they add up.
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
from crawlers.paging import FOLLOW, OLD, REPEAT, ListPage, Paging, full_read_due, memory
from crawlers.registry import PAGED, Source
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
        #: The source's state as this crawl found it (None: no state folder).
        self.crawl_state: CrawlState | None = None
        self.paging = Paging(order=source.order, max_pages=source.max_pages, full_read=True)
        #: Posts to retry next run, by item id (`post_failed`, `truncated`).
        self.retry_later: dict[str, dict[str, Any]] = {}
        #: Item ids that need no retry any more: read whole, deleted, or not retryable.
        self.settled: set[str] = set()
        self._retrying: dict[str, dict[str, Any]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> SourceSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        folder = crawler.settings.get("QIUZHU_CRAWL_STATE_DIR")
        if folder:
            spider.crawl_state = CrawlState.load(Path(folder), spider.source.id)
        spider.paging = spider.plan(crawler.settings.getbool("QIUZHU_FULL_READ"))
        return spider

    def plan(self, force_full_read: bool = False) -> Paging:
        """Return this crawl's reading plan from the source's state.

        A first crawl reads everything. Later ones read back to the high-water mark less
        the overlap window, and unseen posts down to the seen-set's memory; a full re-read
        (due every `full_read_hours`, or asked for) reads every list page.
        """
        source = self.source
        state = self.crawl_state
        paging = Paging(order=source.order, max_pages=source.max_pages)
        if state is None or state.high_water is None:
            paging.full_read = True
            return paging
        paging.cutoff = state.high_water - timedelta(hours=source.overlap_hours)
        paging.held = {k: v for k, v in state.holds().items() if k in source.start_urls}
        paging.seen = frozenset(state.seen)
        paging.retry = frozenset(state.retry)
        paging.floor = state.high_water - memory(source.overlap_hours, source.full_read_hours)
        now = datetime.now(SHANGHAI)
        paging.full_read = force_full_read or full_read_due(
            state.full_read_at, source.full_read_hours, now
        )
        return paging

    def closed(self, reason: str) -> None:
        """Leave how this crawl paged in its stats, for the report."""
        stats, paging = self.crawler.stats, self.paging
        if self.crawler.settings.get("JOBDIR"):
            # A resumed crawl also answers requests an earlier process made and counted.
            stats.set_value("qiuzhu/paging/resumable", True)
        if paging.unread:
            stats.set_value("qiuzhu/paging/unread_lists", len(paging.unread))
        if self.source.kind not in PAGED:
            return
        stats.set_value("qiuzhu/paging/order", self.source.order)
        if paging.full_read:
            stats.set_value("qiuzhu/paging/full_read", True)
        if paging.stopped_early:
            stats.set_value("qiuzhu/paging/stopped_early", True)
        if paging.violation:
            stats.set_value("qiuzhu/paging/out_of_order", paging.violation)
        if paging.capped:
            stats.set_value("qiuzhu/paging/capped", self.source.max_pages)

    async def start(self) -> AsyncIterator[Any]:
        for request in self.retries():
            yield request
        for url in self.source.start_urls:
            yield self.first_page(url)

    def first_page(self, url: str) -> Request:
        """Return the request of the first page of the list at start URL."""
        return self.list_request(url, self.parse, url, dont_filter=True)

    # --- requests and accounting ------------------------------------------------------

    def request(self, url: str, callback: Callable[..., Any], **kwargs: Any) -> Request:
        """Return a request whose failures are counted and logged by `on_error`."""
        kwargs.setdefault("errback", self.on_error)
        return Request(url, callback=callback, **kwargs)

    def list_request(
        self, url: str, callback: Callable[..., Any], list_key: str, **kwargs: Any
    ) -> Request:
        """Return a request of a page of the list LIST_KEY (its start URL)."""
        kwargs["meta"] = {**kwargs.get("meta", {}), "qiuzhu_list": list_key}
        return self.request(url, callback, **kwargs)

    def post_request(
        self,
        url: str,
        callback: Callable[..., Any],
        source_id: str,
        retry: dict[str, Any] | None,
        **kwargs: Any,
    ) -> Request:
        """Return a request that reads post SOURCE_ID; RETRY is what retrying it needs."""
        kwargs["meta"] = {
            **kwargs.get("meta", {}),
            "qiuzhu_post": source_id,
            "qiuzhu_retry": retry,
        }
        return self.request(url, callback, **kwargs)

    def on_error(self, failure: Failure) -> None:
        """Count and log a request that failed for good (after retries)."""
        request = getattr(failure, "request", None)
        url = request.url if request is not None else "?"
        reason = failure_reason(failure)
        self.bad_input(reason, url)
        meta = request.meta if request is not None else {}
        if "qiuzhu_list" in meta:
            self.paging.unread.add(meta["qiuzhu_list"])
        if "qiuzhu_post" in meta:
            # robots.txt forbids it for good: retrying would only ask again.
            retry = None if reason == "robots_forbidden" else meta.get("qiuzhu_retry")
            self.post_failed(meta["qiuzhu_post"], retry)

    @staticmethod
    def request_meta(response: Response) -> dict[str, Any]:
        """Return the meta of the request RESPONSE answers ({} for one built by hand)."""
        try:
            return response.meta
        except AttributeError:  # not tied to a request: a test feeding a saved page
            return {}

    def list_key(self, response: Response) -> str:
        """Return the start URL of the list whose page RESPONSE is."""
        return str(self.request_meta(response).get("qiuzhu_list") or response.url)

    def list_unread(self, response: Response) -> None:
        """Note that the list page RESPONSE could not be used: the list is read back next run."""
        self.paging.unread.add(self.list_key(response))

    def count(self, outcome: str, n: int = 1) -> None:
        """Count N posts of OUTCOME (`qiuzhu/posts/<outcome>`)."""
        self.crawler.stats.inc_value(f"qiuzhu/posts/{outcome}", n)

    def admit(
        self,
        source_id: object,
        posted_at: datetime | None,
        page: ListPage | None = None,
        list_key: str = "",
    ) -> bool:
        """Tell whether to read post SOURCE_ID (a row of PAGE, when it is one); count it.

        A post met before in this crawl is not read again nor counted twice; one posted
        before the cutoff is counted `old`.
        """
        item_id = f"{self.name}:{source_id}"
        if page is not None:
            verdict = page.row(item_id, posted_at)
        else:
            verdict = self.paging.admit(item_id, posted_at, list_key)
        if verdict == REPEAT:
            return False
        self.count("found")
        if verdict == OLD:
            self.count("old")
            return False
        return verdict == FOLLOW

    def post_failed(
        self, source_id: str, retry: dict[str, Any] | None, outcome: str = "failed"
    ) -> None:
        """Count a post whose page could not be read; keep RETRY for the next run (None: never).

        OUTCOME is `failed` (nothing emitted) or `truncated` (emitted without its full text).
        """
        item_id = f"{self.name}:{source_id}"
        self.count(outcome)
        if retry is None:
            self.settled.add(item_id)
            return
        attempts = int(self._retrying.get(item_id, {}).get("attempts", 0)) + 1
        self.retry_later[item_id] = {"attempts": attempts, "request": retry}

    def retries(self) -> list[Request]:
        """Return the requests that retry what earlier crawls could not read."""
        requests = []
        for item_id, entry in (self.crawl_state.retry if self.crawl_state else {}).items():
            request = self.retry_request(entry.get("request") or {})
            if request is None:
                self.settled.add(item_id)
                continue
            self._retrying[item_id] = entry
            self.paging.met.add(item_id)
            self.count("found")
            requests.append(request)
        return requests

    def retry_request(self, data: dict[str, Any]) -> Request | None:
        """Return the request that reads again a post kept for a retry (DATA, from `post_failed`).

        Kinds that read posts from their own pages override this; None drops the entry.
        """
        return None

    def retry_state(self) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """Return the retries to keep for the next run, and the item ids given up now.

        An entry left over from an earlier crawl that this one neither read nor failed
        (it stopped first) is kept as it was.
        """
        from crawlers.state import RETRY_RUNS

        earlier = self.crawl_state.retry if self.crawl_state else {}
        keep = {
            k: v for k, v in earlier.items() if k not in self.settled and k not in self.retry_later
        }
        given_up = []
        for item_id, entry in self.retry_later.items():
            if item_id in self.settled:  # read whole after all, through another page
                continue
            if entry["attempts"] > RETRY_RUNS:
                given_up.append(item_id)
            else:
                keep[item_id] = entry
        return keep, given_up

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
        """Return a `HelpRequest` of this source; one not `truncated` needs no retry."""
        item = HelpRequest(
            source=self.name,
            source_id=str(source_id),
            url=url,
            crawled_at=datetime.now(SHANGHAI),
            **fields,
        )
        if not item.truncated:
            self.settled.add(item.id)
        return item
