"""The reading plan: which posts a crawl reads and when paging stops, in every order."""

from datetime import datetime, timedelta

import pytest

from crawlers.dates import SHANGHAI
from crawlers.paging import FOLLOW, OLD, REPEAT, Paging, full_read_due, memory

T0 = datetime(2021, 7, 22, 8, 0, tzinfo=SHANGHAI)
CUTOFF = T0 - timedelta(hours=24)


def at(hours):
    return T0 + timedelta(hours=hours)


def read(paging, pages, list_key="list"):
    """Feed PAGES (lists of (id, hours)) to PAGING as one list; return verdicts and pages read."""
    verdicts, read_pages = {}, 0
    for number, rows in enumerate(pages, start=1):
        read_pages += 1
        page = paging.page(list_key)
        for post_id, hours in rows:
            verdicts.setdefault(post_id, page.row(post_id, None if hours is None else at(hours)))
        if not paging.more(page, number):
            break
    return verdicts, read_pages


def seen_ids(*ids):
    return frozenset(ids)


NEWEST = [
    [("n1", 2), ("n2", 1), ("s1", -1)],
    [("s2", -10), ("s3", -20)],
    [("o1", -30)],
    [("o2", -40)],
]


def test_newest_first_stops_after_the_page_that_reaches_past_the_cutoff():
    paging = Paging(order="newest_first", cutoff=CUTOFF, seen=seen_ids("s1", "s2", "s3", "o1"))
    verdicts, pages = read(paging, NEWEST)
    assert pages == 3 and paging.stopped_early and not paging.complete
    assert verdicts == {
        "n1": FOLLOW,
        "n2": FOLLOW,
        "s1": FOLLOW,
        "s2": FOLLOW,
        "s3": FOLLOW,
        "o1": OLD,
    }


def test_oldest_first_reads_to_the_end_and_skips_what_is_old():
    oldest = [list(reversed(p)) for p in reversed(NEWEST)]
    paging = Paging(
        order="oldest_first", cutoff=CUTOFF, seen=seen_ids("s1", "s2", "s3", "o1", "o2")
    )
    verdicts, pages = read(paging, oldest)
    assert pages == 4 and paging.complete and not paging.violation
    assert [k for k, v in verdicts.items() if v == OLD] == ["o2", "o1"]


def test_a_list_against_its_declared_order_is_read_to_the_end():
    # Declared newest first, listed oldest first (the case): page 1 is all old.
    oldest = [list(reversed(p)) for p in reversed(NEWEST)]
    paging = Paging(order="newest_first", cutoff=CUTOFF, seen=seen_ids("s1", "s2", "s3"))
    paging_pages = [[("o3", -50), *oldest[0]], *oldest[1:]]
    verdicts, pages = read(paging, paging_pages)
    assert pages == 4 and paging.read_all
    assert "follows one of" in paging.violation
    assert verdicts["n1"] == verdicts["n2"] == FOLLOW


def test_unordered_stops_after_a_page_with_nothing_inside_the_window():
    pages = [
        [("o1", -30), ("n1", 1)],
        [("s1", -2), ("o2", -31)],
        [("o3", -40), ("o4", -41)],
        [("n2", 3)],
    ]
    paging = Paging(order="unordered", cutoff=CUTOFF, seen=seen_ids("s1", "o1", "o2", "o3", "o4"))
    verdicts, read_pages = read(paging, pages)
    assert read_pages == 3 and paging.stopped_early
    assert "n2" not in verdicts  # what the full re-read is for
    full = Paging(order="unordered", cutoff=CUTOFF, full_read=True, seen=paging.seen)
    verdicts, read_pages = read(full, pages)
    assert read_pages == 4 and verdicts["n2"] == FOLLOW and full.complete


@pytest.mark.parametrize("order", ["newest_first", "oldest_first", "unordered"])
def test_paging_ends_on_an_empty_or_a_repeated_page(order):
    paging = Paging(order=order)
    pages = [[("a", 1), ("b", 0)], [("c", -1)], [("c", -1)], [("d", -2)]]
    verdicts, read_pages = read(paging, pages)
    assert read_pages == 3 and set(verdicts) == {"a", "b", "c"} and paging.complete
    empty = Paging(order=order)
    assert read(empty, [[("a", 1)], [], [("b", 0)]])[1] == 2


def test_max_pages_is_reported_when_the_rule_wanted_more():
    paging = Paging(order="oldest_first", max_pages=2)
    _, pages = read(paging, [[("a", -3)], [("b", -2)], [("c", -1)]])
    assert pages == 2 and paging.capped and not paging.complete


def test_a_post_the_seen_set_does_not_know_is_read_below_the_cutoff_down_to_the_floor():
    paging = Paging(
        order="newest_first",
        cutoff=CUTOFF,
        floor=CUTOFF - timedelta(hours=24),
        seen=seen_ids("seen-old"),
        retry=seen_ids("retry-ancient"),
    )
    assert paging.admit("late", at(-30)) == FOLLOW  # published late: not in the seen-set
    assert paging.admit("seen-old", at(-30)) == OLD
    assert paging.admit("ancient", at(-60)) == OLD  # behind the seen-set's memory
    assert paging.admit("retry-ancient", at(-60)) == FOLLOW
    assert paging.admit("undated", None) == FOLLOW
    assert paging.admit("late", at(-30)) == REPEAT


def test_a_list_not_read_to_its_end_is_read_back_further_next_time():
    paging = Paging(order="newest_first", cutoff=CUTOFF, held={"a": CUTOFF - timedelta(hours=48)})
    assert paging.admit("x", at(-50), list_key="a") == FOLLOW
    assert paging.admit("y", at(-50), list_key="b") == OLD
    paging.unread.add("b")
    assert paging.hold() == {"b": CUTOFF}


def test_first_crawl_reads_everything():
    paging = Paging(order="newest_first")
    verdicts, pages = read(paging, NEWEST)
    assert pages == 4 and set(verdicts.values()) == {FOLLOW}


def test_memory_covers_the_overlap_twice_and_the_full_re_read_interval():
    assert memory(24, None) == timedelta(hours=48)
    assert memory(24, 24) == timedelta(hours=96)


@pytest.mark.parametrize(
    ("last_hours_ago", "every", "due"),
    [(None, 24, True), (25, 24, True), (23.5, 24, True), (22, 24, False), (1, None, False)],
)
def test_full_re_read_is_due_every_interval_give_or_take_the_nightly_jitter(
    last_hours_ago, every, due
):
    last = None if last_hours_ago is None else T0 - timedelta(hours=last_hours_ago)
    assert full_read_due(last, every, T0) is due
