import contextlib
from datetime import datetime

import pytest
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.utils.test import get_crawler

from crawlers.dates import SHANGHAI
from crawlers.items import HelpRequest
from crawlers.state import CrawlState
from pipeline.incremental import IncrementalPipeline


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
