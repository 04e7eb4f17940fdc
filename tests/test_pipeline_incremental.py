import contextlib
from datetime import datetime

import pytest
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.utils.test import get_crawler

from crawlers.dates import SHANGHAI
from crawlers.items import HelpRequest
from crawlers.state import CrawlState
from pipeline.incremental import IncrementalPipeline, items_durable, items_held


class FakeSpider:
    name = "board-demo"


def item(source_id, day, **kwargs):
    return HelpRequest(
        source="board-demo",
        source_id=source_id,
        url=f"http://127.0.0.1/{source_id}",
        text=f"求助 {source_id}",
        posted_at=datetime(2020, 2, day, 12, tzinfo=SHANGHAI),
        **kwargs,
    )


def open_pipeline(folder):
    crawler = get_crawler(settings_dict={"QIUZHU_CRAWL_STATE_DIR": str(folder)})
    pipe = IncrementalPipeline.from_crawler(crawler)
    pipe.spider_opened(FakeSpider())
    return pipe, crawler.stats


def emitted(pipe, items):
    out = []
    for one in items:
        with contextlib.suppress(DropItem):
            out.append(pipe.process_item(one).source_id)
            pipe.item_done(one)  # it left the last stage
    return out


def test_second_run_emits_only_new_and_changed_items(tmp_path):
    pipe, _ = open_pipeline(tmp_path)
    assert emitted(pipe, [item("1", 3), item("2", 4)]) == ["1", "2"]
    pipe.spider_closed(FakeSpider(), "finished")

    pipe, stats = open_pipeline(tmp_path)
    again = [item("1", 3), item("2", 4, reply_state="已回复"), item("3", 5)]
    assert emitted(pipe, again) == ["2", "3"]
    assert stats.get_value("qiuzhu/dropped/seen") == 1
    pipe.spider_closed(FakeSpider(), "finished")

    pipe, _ = open_pipeline(tmp_path)
    assert emitted(pipe, [item("1", 3, deleted=True), item("3", 5)]) == ["1"]


def test_the_same_item_twice_in_one_run_is_emitted_once(tmp_path):
    pipe, _ = open_pipeline(tmp_path)
    assert emitted(pipe, [item("1", 3), item("1", 3)]) == ["1"]


def test_high_water_mark_moves_only_when_a_crawl_finishes(tmp_path):
    pipe, _ = open_pipeline(tmp_path)
    emitted(pipe, [item("1", 3)])
    pipe.spider_closed(FakeSpider(), "finished")
    assert CrawlState.load(tmp_path, "board-demo").high_water == item("1", 3).posted_at

    pipe, _ = open_pipeline(tmp_path)
    emitted(pipe, [item("2", 9)])
    pipe.spider_closed(FakeSpider(), "closespider_itemcount")
    state = CrawlState.load(tmp_path, "board-demo")
    assert state.high_water == item("1", 3).posted_at
    assert "board-demo:2" in state.seen


def test_unreadable_state_starts_afresh(tmp_path):
    (tmp_path / "board-demo.json").write_text("{not json")
    pipe, _ = open_pipeline(tmp_path)
    assert emitted(pipe, [item("1", 3)]) == ["1"]


def test_without_a_state_folder_the_stage_is_not_configured():
    with pytest.raises(NotConfigured, match="QIUZHU_CRAWL_STATE_DIR"):
        IncrementalPipeline.from_crawler(get_crawler(settings_dict={"QIUZHU_CRAWL_STATE_DIR": ""}))


def test_a_finished_crawl_forgets_items_far_behind_its_mark(tmp_path):
    pipe, _ = open_pipeline(tmp_path)
    old, recent = item("1", 1), item("2", 20)
    assert emitted(pipe, [old, recent]) == ["1", "2"]
    pipe.spider_closed(FakeSpider(), "finished")

    # The mark is 20 Feb; with the default 24 h overlap, 1 Feb lies far behind the window.
    state = CrawlState.load(tmp_path, "board-demo")
    assert set(state.seen) == {"board-demo:2"}
    assert set(state.posted) == {"board-demo:2"}
    assert state.high_water == recent.posted_at

    # An interrupted crawl forgets nothing: the mark did not move.
    pipe, _ = open_pipeline(tmp_path)
    assert emitted(pipe, [item("3", 2)]) == ["3"]
    pipe.spider_closed(FakeSpider(), "shutdown")
    assert set(CrawlState.load(tmp_path, "board-demo").seen) == {"board-demo:2", "board-demo:3"}


def test_undated_items_stay_in_the_seen_set(tmp_path):
    pipe, _ = open_pipeline(tmp_path)
    undated = HelpRequest(
        source="board-demo", source_id="row-9", url="http://127.0.0.1/s", text="求助 row-9"
    )
    assert emitted(pipe, [undated, item("2", 20)]) == ["row-9", "2"]
    pipe.spider_closed(FakeSpider(), "finished")
    assert set(CrawlState.load(tmp_path, "board-demo").seen) == {"board-demo:row-9", "board-demo:2"}


def test_each_item_is_counted_new_changed_or_seen(tmp_path):
    pipe, stats = open_pipeline(tmp_path)
    emitted(pipe, [item("1", 3), item("2", 4)])
    pipe.spider_closed(FakeSpider(), "finished")
    pipe, stats = open_pipeline(tmp_path)
    emitted(pipe, [item("1", 3), item("2", 4, reply_state="已回复"), item("3", 5)])
    counts = {k: stats.get_value(f"qiuzhu/posts/{k}") for k in ("new", "changed", "seen")}
    assert counts == {"new": 1, "changed": 1, "seen": 1}


def test_a_dry_run_reads_the_state_and_never_writes_it(tmp_path):
    pipe, _ = open_pipeline(tmp_path)
    emitted(pipe, [item("1", 3)])
    pipe.spider_closed(FakeSpider(), "finished")
    before = (tmp_path / "board-demo.json").read_bytes()
    crawler = get_crawler(
        settings_dict={"QIUZHU_CRAWL_STATE_DIR": str(tmp_path), "QIUZHU_DRY_RUN": True}
    )
    dry = IncrementalPipeline.from_crawler(crawler)
    dry.spider_opened(FakeSpider())
    assert emitted(dry, [item("1", 3), item("2", 9)]) == ["2"]
    dry.spider_closed(FakeSpider(), "finished")
    assert (tmp_path / "board-demo.json").read_bytes() == before
    assert crawler.stats.get_value("qiuzhu/state/dry_run") is True


def test_the_state_file_is_readable_by_its_owner_only(tmp_path):
    pipe, _ = open_pipeline(tmp_path)
    emitted(pipe, [item("1", 3)])
    pipe.spider_closed(FakeSpider(), "finished")
    assert (tmp_path / "board-demo.json").stat().st_mode & 0o777 == 0o600


def spider_for_state(folder, source_id="board-demo", **settings):
    from fixtures_crawl import demo_source, make_spider

    source = demo_source(source_id)
    return make_spider(source, QIUZHU_CRAWL_STATE_DIR=str(folder), **settings)


def test_retries_held_lists_and_full_reads_are_kept_between_crawls(tmp_path):
    spider = spider_for_state(tmp_path)
    crawler = spider.crawler
    pipe = IncrementalPipeline.from_crawler(crawler)
    pipe.spider_opened(spider)
    assert spider.paging.full_read  # a first crawl reads everything
    emitted(pipe, [item("1", 3), item("2", 4)])
    spider.post_failed("9", {"source_id": "9", "listed": {"tid": 9}})
    spider.paging.unread.add("http://127.0.0.1:9/board/api/list")
    pipe.spider_closed(spider, "finished")
    state = CrawlState.load(tmp_path, "board-demo")
    assert state.retry == {
        "board-demo:9": {"attempts": 1, "request": {"source_id": "9", "listed": {"tid": 9}}}
    }
    assert state.held == {}  # a first crawl has no cutoff to hold
    assert state.full_read_at is None  # a list was not read to its end

    spider = spider_for_state(tmp_path)
    assert not spider.paging.full_read and spider.paging.cutoff is not None
    (retry,) = spider.retries()
    assert retry.cb_kwargs == {"source_id": "9", "listed": {"tid": 9}}
    assert spider.crawler.stats.get_value("qiuzhu/posts/found") == 1
    pipe = IncrementalPipeline.from_crawler(spider.crawler)
    pipe.spider_opened(spider)
    spider.post_failed("9", {"source_id": "9", "listed": {"tid": 9}})
    spider.paging.unread.add("http://127.0.0.1:9/board/api/list")
    pipe.spider_closed(spider, "finished")
    state = CrawlState.load(tmp_path, "board-demo")
    assert state.retry["board-demo:9"]["attempts"] == 2
    assert state.held == {"http://127.0.0.1:9/board/api/list": spider.paging.cutoff}
    # The next crawl reads that list back to the held cutoff.
    assert spider_for_state(tmp_path).paging.held == state.held


def test_a_post_that_keeps_failing_is_given_up_after_the_retry_runs(tmp_path):
    from crawlers.state import RETRY_RUNS

    for run in range(RETRY_RUNS + 1):
        spider = spider_for_state(tmp_path)
        spider.retries()
        pipe = IncrementalPipeline.from_crawler(spider.crawler)
        pipe.spider_opened(spider)
        emitted(pipe, [item(f"ok-{run}", 3)])
        spider.post_failed("9", {"source_id": "9", "listed": {}})
        pipe.spider_closed(spider, "finished")
    assert spider.crawler.stats.get_value("qiuzhu/retry/given_up") == 1
    assert CrawlState.load(tmp_path, "board-demo").retry == {}


def test_a_full_read_is_due_again_after_its_interval(tmp_path):
    from datetime import timedelta

    spider = spider_for_state(tmp_path)
    pipe = IncrementalPipeline.from_crawler(spider.crawler)
    pipe.spider_opened(spider)
    emitted(pipe, [item("1", 3)])
    pipe.spider_closed(spider, "finished")
    state = CrawlState.load(tmp_path, "board-demo")
    assert state.full_read_at is not None
    assert not spider_for_state(tmp_path).paging.full_read  # newest first: none due
    assert spider_for_state(tmp_path, QIUZHU_FULL_READ=True).paging.full_read
    state.full_read_at -= timedelta(hours=30)
    state.save()
    assert not spider_for_state(tmp_path).paging.full_read  # no full_read_hours


def test_undated_items_a_whole_read_no_longer_meets_are_forgotten(tmp_path):
    spider = spider_for_state(tmp_path, source_id="sheet-volunteers-csv-demo")
    pipe = IncrementalPipeline.from_crawler(spider.crawler)
    pipe.spider_opened(spider)
    row = HelpRequest(source=spider.name, source_id="r1", url="u", text="求助 r1")
    pipe.process_item(row)
    pipe.item_done(row)
    spider.paging.met.add(row.id)
    pipe.spider_closed(spider, "finished")
    assert set(CrawlState.load(tmp_path, spider.name).seen) == {row.id}

    spider = spider_for_state(tmp_path, source_id="sheet-volunteers-csv-demo")
    pipe = IncrementalPipeline.from_crawler(spider.crawler)
    pipe.spider_opened(spider)
    pipe.spider_closed(spider, "finished")  # the sheet no longer has the row
    assert CrawlState.load(tmp_path, spider.name).seen == {}


def crawl_through_signals(folder, items, durable, reason):
    """Send ITEMS through the stage and the signals a crawl sends; the stage holding them
    reports DURABLE (ids) written or spooled; then close with REASON; return the state."""
    from scrapy import signals

    crawler = get_crawler(settings_dict={"QIUZHU_CRAWL_STATE_DIR": str(folder)})
    pipe = IncrementalPipeline.from_crawler(crawler)
    spider = FakeSpider()
    pipe.spider_opened(spider)
    for one in items:
        pipe.process_item(one)
        crawler.signals.send_catch_log(items_held, ids=[one.id])
        crawler.signals.send_catch_log(signals.item_scraped, item=one, response=None, spider=spider)
    crawler.signals.send_catch_log(items_durable, ids=durable)
    pipe.spider_closed(spider, reason)
    return CrawlState.load(folder, "board-demo"), crawler.stats


def test_a_stop_remembers_only_what_was_written_or_spooled(tmp_path):
    one, two, three = item("1", 3), item("2", 4), item("3", 5)
    state, stats = crawl_through_signals(tmp_path, [one, two, three], [one.id], "shutdown")
    # Two and three were still in the indexing buffer when the stop was forced.
    assert set(state.seen) == {one.id}
    assert stats.get_value("qiuzhu/state/not_remembered") == 2
    pipe, _ = open_pipeline(tmp_path)
    assert emitted(pipe, [item("1", 3), item("2", 4), item("3", 5)]) == ["2", "3"]


def test_items_dropped_by_a_later_stage_are_remembered(tmp_path):
    from scrapy import signals

    crawler = get_crawler(settings_dict={"QIUZHU_CRAWL_STATE_DIR": str(tmp_path)})
    pipe = IncrementalPipeline.from_crawler(crawler)
    spider = FakeSpider()
    pipe.spider_opened(spider)
    first, copy = item("1", 3), item("1", 3)
    pipe.process_item(first)
    with pytest.raises(DropItem) as seen:
        pipe.process_item(copy)  # the same post met again while the first is on its way
    send = crawler.signals.send_catch_log
    send(signals.item_dropped, item=copy, response=None, exception=seen.value, spider=spider)
    assert pipe.pending  # the copy's drop does not vouch for the first
    send(
        signals.item_dropped,
        item=first,
        response=None,
        exception=DropItem("not_indexable"),
        spider=spider,
    )
    pipe.spider_closed(spider, "finished")
    assert set(CrawlState.load(tmp_path, "board-demo").seen) == {first.id}
