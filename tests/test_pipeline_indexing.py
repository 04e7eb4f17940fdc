"""The indexing stage against the real Elasticsearch: batches, dedup, counts, spool, stop."""

import json

import pytest
from scrapy import Spider
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from crawlers.items import HelpRequest
from pipeline.indexing import IndexingPipeline
from pipeline.tagging import TaggingPipeline

BASE = (
    "【姓名】周大成【年龄】66【所在城市】武汉【所在小区、社区】江岸区后湖街道"
    "【联系方式】13911112222【病情描述】发热八天，胸闷，CT显示双肺感染，一直没有床位"
)
OTHER = BASE.replace("周大成", "吴小红").replace("66", "41").replace("13911112222", "13633334444")
REPOST = "转发求助，请大家帮帮忙！" + BASE


def _item(source_id, text, **fields):
    return HelpRequest(
        source="fixture",
        source_id=source_id,
        url=f"http://127.0.0.1/{source_id}",
        text=text,
        **fields,
    )


def _stages(tmp_path, batch=2, crawling=True):
    crawler = get_crawler(
        Spider,
        settings_dict={
            "QIUZHU_CRAWL_INDEX": True,
            "QIUZHU_INGEST_BATCH": batch,
            "QIUZHU_INDEX_REPORT_DIR": str(tmp_path / "reports"),
        },
    )
    crawler.spider = Spider(name="fixture")
    crawler.crawling = crawling
    tagging = TaggingPipeline.from_crawler(crawler)
    indexing = IndexingPipeline.from_crawler(crawler)
    tagging.open_spider()
    indexing.open_spider()
    return crawler, tagging, indexing


def _feed(tagging, indexing, items):
    for item in items:
        indexing.process_item(tagging.process_item(item))


def test_indexing_is_off_unless_configured(monkeypatch):
    monkeypatch.delenv("QIUZHU_CRAWL_INDEX", raising=False)
    with pytest.raises(NotConfigured, match="QIUZHU_CRAWL_INDEX"):
        IndexingPipeline.from_crawler(get_crawler())


def test_batches_are_indexed_deduplicated_and_counted(backlog, tmp_path):
    crawler, tagging, indexing = _stages(tmp_path, batch=2)
    _feed(tagging, indexing, [_item("1", BASE), _item("2", OTHER), _item("3", REPOST)])
    # The first batch is written at once; the third item waits for the close.
    assert backlog.count() == 2
    indexing.close_spider()
    assert backlog.ids() == ["fixture:1", "fixture:2", "fixture:3"]
    docs = {
        d["_id"]: d["_source"]
        for d in backlog.client.mget(
            index=backlog.names.requests, ids=["fixture:1", "fixture:2", "fixture:3"]
        )["docs"]
    }
    # The repost in the second batch joined the first post's cluster from the backlog.
    assert docs["fixture:3"]["cluster"] == docs["fixture:1"]["cluster"]
    assert docs["fixture:2"]["cluster"] != docs["fixture:1"]["cluster"]
    stats = crawler.stats
    assert stats.get_value("qiuzhu/indexed/new") == 3
    assert stats.get_value("qiuzhu/indexed/duplicates") == 1
    assert stats.get_value("qiuzhu/indexed/spooled") == 0
    report = json.loads((tmp_path / "reports" / "fixture.index.json").read_text())
    assert report["new"] == 3 and report["duplicates"] == 1


def test_the_same_items_again_are_updates_not_doubles(backlog, tmp_path):
    for _ in range(2):
        crawler, tagging, indexing = _stages(tmp_path, batch=5)
        _feed(tagging, indexing, [_item("1", BASE), _item("2", OTHER)])
        indexing.close_spider()
    assert backlog.ids() == ["fixture:1", "fixture:2"]
    assert crawler.stats.get_value("qiuzhu/indexed/updated") == 2
    assert crawler.stats.get_value("qiuzhu/indexed/new") == 0


def test_elasticsearch_down_spools_every_item_and_replay_indexes_them(
    backlog, tmp_path, monkeypatch
):
    from classify.dedup import same_episode
    from index.backlog import replay
    from index.bulk import Spool

    # Nothing listens on this port: Elasticsearch is down for this crawl.
    monkeypatch.setenv("QIUZHU_ES_URLS", "http://127.0.0.1:9")
    crawler, tagging, indexing = _stages(tmp_path, batch=2)
    _feed(tagging, indexing, [_item("1", BASE), _item("2", OTHER), _item("3", REPOST)])
    indexing.close_spider()
    assert crawler.stats.get_value("qiuzhu/indexed/spooled") == 3
    assert crawler.stats.get_value("qiuzhu/indexed/new") == 0
    spool = Spool(backlog.spool_dir)
    assert spool.pending() == 3
    report = replay(backlog.client, backlog.names, spool, same_episode)
    assert report.written == 3 and spool.pending() == 0
    assert backlog.ids() == ["fixture:1", "fixture:2", "fixture:3"]


def test_a_stop_spools_the_buffer_instead_of_writing_it(backlog, tmp_path):
    from index.bulk import Spool

    crawler, tagging, indexing = _stages(tmp_path, batch=10, crawling=False)
    _feed(tagging, indexing, [_item("1", BASE), _item("2", OTHER)])
    indexing.close_spider()
    assert backlog.count() == 0
    assert Spool(backlog.spool_dir).pending() == 2
    assert crawler.stats.get_value("qiuzhu/indexed/spooled") == 2


def test_a_post_now_deleted_at_its_source_is_marked_not_dropped(backlog, tmp_path):
    crawler, tagging, indexing = _stages(tmp_path, batch=1)
    _feed(tagging, indexing, [_item("1", BASE)])
    # The next crawl finds the detail page gone (404/410): an item with no text.
    _feed(tagging, indexing, [_item("1", "", deleted=True), _item("9", "", deleted=True)])
    indexing.close_spider()
    doc = backlog.client.get(index=backlog.names.requests, id="fixture:1")["_source"]
    assert doc["deleted"] is True and doc["text"] == BASE
    assert backlog.ids() == ["fixture:1"]
    assert crawler.stats.get_value("qiuzhu/indexed/deleted") == 1
