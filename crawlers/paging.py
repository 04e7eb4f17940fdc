"""Which posts a crawl reads, and when a paged source's crawl stops paging.

Pure Python, no Scrapy: the spiders feed every post they meet to `Paging.admit`, every
list row to `ListPage.row`, and ask `Paging.more` before they request the next page.

A post is *old* when it was posted before the cutoff (the source's high-water mark less
its overlap window) and an earlier crawl emitted it, or when it lies behind the seen-set's
memory (the floor, `memory` before the mark): it is neither fetched nor emitted. So a
post the seen-set does not know is read even below the cutoff, on every page a crawl
reads: one published later than the overlap window allows. A post waiting for a retry
is always read.

Paging stops, by the source's `order`:

- newest_first (the default): after the first page that reaches a post older than the
  cutoff, since every later page is older still. Every page is checked against that
  order; a post newer than the one before it means the order is wrong, and the crawl
  then reads every page (and says so), so a wrong `order` costs pages, never posts.
- oldest_first: never early; new posts are on the last pages.
- unordered: after a page holding nothing inside the window (only posts older than the
  cutoff); every `full_read_hours` a full re-read reads every page, for the unseen posts
  an unordered list can hide behind such a page.

A list that could not be read to its end (a page failed for good) is read back to its
own older cutoff next time (`held`), so a page lost to a timeout loses no post.

Whatever the order, paging ends at the end of the list: an empty page, a page holding
only rows this crawl listed already (a site that answers every page number past the
last with the last page), no next page; or at `max_pages`, which is reported when the
rule wanted more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

#: What to do with a post: read it, skip it as older than the cutoff, or skip it as met
#: already in this crawl.
FOLLOW, OLD, REPEAT = "follow", "old", "repeat"


def memory(overlap_hours: float, full_read_hours: float | None) -> timedelta:
    """Return how far behind the mark the seen-set remembers posts and a full re-read reaches.

    Twice the overlap window (a margin for posts whose dates move a little), plus twice
    the time between full re-reads where the source has them, so that a full re-read
    that comes late still recognises every post it meets.
    """
    return timedelta(hours=2 * (overlap_hours + (full_read_hours or 0.0)))


def full_read_due(last: datetime | None, hours: float | None, now: datetime) -> bool:
    """Tell whether a full re-read is due, HOURS after the LAST one ended."""
    if hours is None:
        return False
    if last is None:
        return True
    # The nightly run starts a few seconds either side of 24 h after the last one.
    slack = min(timedelta(hours=1), timedelta(hours=hours) / 10)
    return now - last >= timedelta(hours=hours) - slack


@dataclass
class Paging:
    """The reading plan of one crawl of one source.

    Attributes:
        order: the source's declared order ("" for kinds read whole).
        cutoff: posts before it are old; None reads every post (a first crawl).
        held: older cutoffs of lists (by start URL) an earlier crawl could not read whole.
        seen: ids emitted by earlier crawls (the seen-set).
        retry: ids an earlier crawl could not read.
        full_read: whether this crawl reads every list page.
        floor: unseen posts down to this time are read even below the cutoff.
        max_pages: the most pages read per list, or None.
    """

    order: str = ""
    cutoff: datetime | None = None
    held: dict[str, datetime] = field(default_factory=dict)
    seen: frozenset[str] = frozenset()
    retry: frozenset[str] = frozenset()
    full_read: bool = False
    floor: datetime | None = None
    max_pages: int | None = None
    #: Posts met in this crawl (list rows, originals inside reposts, entries, retries).
    met: set[str] = field(default_factory=set)
    #: How the list broke its declared order, once it did ("" while it has not).
    violation: str = ""
    #: Whether the rule ended paging before the end of a list, and whether max_pages did.
    stopped_early: bool = False
    capped: bool = False
    #: Lists a page of which could not be read in this crawl, by start URL.
    unread: set[str] = field(default_factory=set)
    _listed: set[str] = field(default_factory=set)
    _last: dict[str, datetime] = field(default_factory=dict)

    @property
    def read_all(self) -> bool:
        """Tell whether this crawl reads every page of every list."""
        return self.full_read or self.order == "oldest_first" or bool(self.violation)

    @property
    def complete(self) -> bool:
        """Tell whether the crawl reached the end of every list (so far)."""
        return not (self.stopped_early or self.capped)

    def cutoff_for(self, list_key: str) -> datetime | None:
        """Return the cutoff of the list LIST_KEY: the older of its held one and the source's."""
        held = self.held.get(list_key)
        if held is None or self.cutoff is None:
            return self.cutoff
        return min(held, self.cutoff)

    def hold(self) -> dict[str, datetime]:
        """Return the cutoffs to read back to next time for the lists not read whole."""
        held: dict[str, datetime] = {}
        for key in self.unread:
            cutoff = self.cutoff_for(key)
            if cutoff is not None:
                held[key] = cutoff
        return held

    def admit(self, post_id: str, posted_at: datetime | None, list_key: str = "") -> str:
        """Return FOLLOW, OLD or REPEAT for a post met in this crawl (in list LIST_KEY)."""
        if post_id in self.met:
            return REPEAT
        self.met.add(post_id)
        cutoff = self.cutoff_for(list_key)
        if post_id in self.retry or cutoff is None or posted_at is None:
            return FOLLOW
        if posted_at >= cutoff:
            return FOLLOW
        if self.floor is not None and posted_at >= self.floor and post_id not in self.seen:
            return FOLLOW
        return OLD

    def page(self, list_key: str) -> ListPage:
        """Return the accounting of the next page of the list LIST_KEY (its start URL)."""
        return ListPage(self, list_key)

    def more(self, page: ListPage, page_no: int) -> bool:
        """Tell whether to request the page after PAGE (the PAGE_NO-th of its list)."""
        if page.rows == 0 or page.unlisted == 0:
            return False  # the end of the list: empty, or the same page again
        if self.read_all:
            wanted = True
        elif self.order == "unordered":
            wanted = page.inside > 0
        else:
            wanted = not page.past_cutoff
        if not wanted:
            self.stopped_early = True
            return False
        if self.max_pages is not None and page_no >= self.max_pages:
            self.capped = True
            return False
        return True

    def _check_order(self, list_key: str, posted_at: datetime) -> None:
        last = self._last.get(list_key)
        self._last[list_key] = posted_at
        if last is None or self.violation or self.order not in ("newest_first", "oldest_first"):
            return
        wrong = posted_at > last if self.order == "newest_first" else posted_at < last
        if wrong:
            self.violation = (
                f"a post of {posted_at:%Y-%m-%d %H:%M} follows one of {last:%Y-%m-%d %H:%M}"
            )


@dataclass
class ListPage:
    """What one list page held, for `Paging.more`."""

    paging: Paging
    list_key: str
    rows: int = 0
    #: Rows this crawl had not listed before (0: the same page again).
    unlisted: int = 0
    #: Rows inside the window (or undated), and those of them no earlier crawl emitted.
    inside: int = 0
    fresh: int = 0
    past_cutoff: bool = False

    def row(self, post_id: str, posted_at: datetime | None) -> str:
        """Return FOLLOW, OLD or REPEAT for one row of this page, and account for it."""
        paging = self.paging
        self.rows += 1
        first = post_id not in paging._listed
        if not first:  # a page served again: its rows say nothing about the order
            return paging.admit(post_id, posted_at, self.list_key)
        paging._listed.add(post_id)
        self.unlisted += 1
        inside = True
        cutoff = paging.cutoff_for(self.list_key)
        if posted_at is not None:
            paging._check_order(self.list_key, posted_at)
            if cutoff is not None and posted_at < cutoff:
                self.past_cutoff = True
                inside = False
        if inside:
            self.inside += 1
            self.fresh += post_id not in paging.seen
        return paging.admit(post_id, posted_at, self.list_key)
