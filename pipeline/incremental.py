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
from crawlers.paging import memory
from crawlers.state import CrawlState
from qiuzhu import settings

#: Sent by a later stage that keeps items before writing them (`ids`: their item ids), so
#: they are not taken as done when the item leaves the pipeline.
items_held = object()
#: Sent when held items are written or spooled (`ids`): now they may join the seen-set.
items_durable = object()
SEEN = "seen"


class IncrementalPipeline:
    """Drop items already emitted unchanged; keep the source's crawl state.

    The seen-set maps item ids to content hashes, so a post that was deleted at its
    source, got a reply or came back whole after a truncated copy is emitted again.
    Each item is counted `qiuzhu/posts/new`, `changed` or `seen`.

    At the end of a crawl the state takes the spider's retries and held lists; the mark
    moves, and what lies behind the seen-set's memory is forgotten, only when the crawl
    finished: an interrupted crawl must not make the next one skip what it never reached.
    With READ_ONLY (`qiuzhu crawl --dry-run`) the state is read and never written.

    An item joins the seen-set only once it is safe: dropped by a later stage, or past the
    last stage, or, when a stage holds it (`items_held`, the indexing buffer), once that
    stage wrote or spooled it (`items_durable`). Whatever stops the crawl, the state never
    records as seen a request that is neither in the backlog nor in the spool.
    """

    def __init__(self, folder: Path, stats: StatsCollector, read_only: bool = False) -> None:
        self.folder = folder
        self.stats = stats
        self.read_only = read_only
        self.state: CrawlState | None = None
        self.newest: datetime | None = None
        #: Emitted items not yet safe, by id: content hash and date.
        self.pending: dict[str, tuple[str, datetime | None]] = {}
        self.held: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IncrementalPipeline:
        folder = crawler.settings.get("QIUZHU_CRAWL_STATE_DIR")
        if not folder:
            raise NotConfigured("set QIUZHU_CRAWL_STATE_DIR to the folder for crawl state")
        pipe = cls(Path(folder), crawler.stats, crawler.settings.getbool("QIUZHU_DRY_RUN"))
        crawler.signals.connect(pipe.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(pipe.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(pipe.item_done, signal=signals.item_scraped)
        crawler.signals.connect(pipe.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(pipe.hold, signal=items_held)
        crawler.signals.connect(pipe.commit, signal=items_durable)
        return pipe

    def spider_opened(self, spider: Spider) -> None:
        # The spider planned its crawl from the same file: share it, not a second copy.
        shared = getattr(spider, "crawl_state", None)
        self.state = shared if shared is not None else CrawlState.load(self.folder, spider.name)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, HelpRequest) or self.state is None:
            return item
        # A relative date misread into the future must not push the mark past real posts.
        if item.posted_at and item.posted_at <= datetime.now(SHANGHAI) + timedelta(days=1):
            self.newest = max(self.newest, item.posted_at) if self.newest else item.posted_at
        digest = item.content_hash()
        waiting = self.pending.get(item.id)
        before = waiting[0] if waiting else self.state.seen.get(item.id)
        if before == digest:
            self.stats.inc_value("qiuzhu/posts/seen")
            self.stats.inc_value("qiuzhu/dropped/seen")
            raise DropItem(SEEN)
        self.stats.inc_value("qiuzhu/posts/new" if before is None else "qiuzhu/posts/changed")
        self.pending[item.id] = (digest, item.posted_at)
        return item

    def item_done(self, item: Any) -> None:
        """Take an item that left the pipeline (passed or dropped) as safe unless held."""
        if isinstance(item, HelpRequest) and item.id not in self.held:
            self.commit([item.id])

    def item_dropped(self, item: Any, exception: BaseException) -> None:
        # A copy dropped here as seen says nothing of the copy still on its way.
        if str(exception) != SEEN:
            self.item_done(item)

    def hold(self, ids: list[str]) -> None:
        self.held.update(ids)

    def commit(self, ids: list[str]) -> None:
        """Let IDS join the seen-set: they are written, spooled or deliberately dropped."""
        if self.state is None:
            return
        for item_id in ids:
            self.held.discard(item_id)
            waiting = self.pending.pop(item_id, None)
            if waiting is not None:
                self.state.remember(item_id, *waiting)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        state = self.state
        if state is None:
            return
        finished = reason == "finished"
        now = datetime.now(SHANGHAI)
        if self.pending:
            # Emitted but never written nor spooled (a stage failed, the stop was forced):
            # the next crawl must emit them again.
            self.stats.set_value("qiuzhu/state/not_remembered", len(self.pending))
        self._take_retries(spider, state)
        paging = getattr(spider, "paging", None)
        if paging is not None:
            held = paging.hold()
            if not finished:  # lists it never reached keep the hold they had
                held = {**state.held, **{k: min(v, state.held.get(k, v)) for k, v in held.items()}}
            state.held = held
        if finished:
            if self.newest is not None:
                mark = state.high_water
                state.high_water = max(mark, self.newest) if mark else self.newest
            if paging is not None and paging.complete and not paging.unread:
                if paging.full_read:
                    state.full_read_at = now
                forgotten = state.forget_unmet(paging.met)
                self.stats.set_value("qiuzhu/state/forgotten_undated", forgotten)
            source = getattr(spider, "source", None)
            overlap = getattr(source, "overlap_hours", None) or settings.get("CRAWL_OVERLAP_HOURS")
            keep = memory(float(overlap), getattr(source, "full_read_hours", None))
            self.stats.set_value("qiuzhu/state/forgotten", state.prune(keep))
            if self.stats.get_value("qiuzhu/posts/new", 0):
                state.last_new_at, state.quiet_runs = now, 0
            else:
                state.quiet_runs += 1
        if state.last_new_at is not None:
            self.stats.set_value("qiuzhu/state/last_new_at", state.last_new_at.isoformat())
            self.stats.set_value("qiuzhu/state/quiet_runs", state.quiet_runs)
        if state.held:
            self.stats.set_value("qiuzhu/state/held", sorted(state.held))
        if self.read_only:
            self.stats.set_value("qiuzhu/state/dry_run", True)
            return
        state.save()

    def _take_retries(self, spider: Spider, state: CrawlState) -> None:
        retry_state = getattr(spider, "retry_state", None)
        if retry_state is None:
            return
        keep, given_up = retry_state()
        state.retry = keep
        if keep:
            self.stats.set_value("qiuzhu/retry/pending", len(keep))
        if given_up:
            self.stats.set_value("qiuzhu/retry/given_up", len(given_up))
