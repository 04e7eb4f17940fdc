"""The tagging stage: on only when indexing is configured, analysis attached to each item."""

import pytest
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.utils.test import get_crawler

from crawlers.items import HelpRequest
from pipeline.tagging import TaggingPipeline, analysed

TEXT = (
    "【姓名】周大成【年龄】66【所在城市】武汉【所在小区、社区】江岸区后湖街道"
    "【联系方式】13911112222【病情描述】发热八天，胸闷，CT显示双肺感染，一直没有床位"
)


def _item(source_id="1", text=TEXT, **fields):
    return HelpRequest(
        source="fixture", source_id=source_id, url="http://127.0.0.1/x", text=text, **fields
    )


@pytest.fixture(scope="module")
def tagging():
    crawler = get_crawler(settings_dict={"QIUZHU_CRAWL_INDEX": True})
    pipe = TaggingPipeline.from_crawler(crawler)
    pipe.open_spider()
    return pipe


def test_tagging_is_off_unless_indexing_is_configured(monkeypatch):
    monkeypatch.delenv("QIUZHU_CRAWL_INDEX", raising=False)
    with pytest.raises(NotConfigured, match="QIUZHU_CRAWL_INDEX=true"):
        TaggingPipeline.from_crawler(get_crawler())


def test_tagging_follows_the_setting_and_a_crawl_override_wins(monkeypatch):
    monkeypatch.setenv("QIUZHU_CRAWL_INDEX", "true")
    assert isinstance(TaggingPipeline.from_crawler(get_crawler()), TaggingPipeline)
    with pytest.raises(NotConfigured):
        TaggingPipeline.from_crawler(get_crawler(settings_dict={"QIUZHU_CRAWL_INDEX": "false"}))


def test_tagging_attaches_the_taxonomy_fields_to_the_item(tagging):
    item = _item()
    assert tagging.process_item(item) is item
    post = analysed(item)
    assert post["id"] == "fixture:1" and post["source_id"] == "1"
    assert post["kind"] == "request" and "bed" in post["needs"]
    assert post["district"] == "江岸区"
    assert any(key.startswith("person:") for key in post["dedup_keys"])
    assert tagging.stats.get_value("qiuzhu/tagged") >= 1


def test_tagging_leaves_other_items_and_fields_alone(tagging):
    other = {"not": "a help request"}
    assert tagging.process_item(other) == other
    item = _item("2")
    tagging.process_item(item)
    assert item.text == TEXT and "kind" not in item.to_dict()


def test_an_item_the_nlp_stage_refuses_is_dropped_and_counted(tagging):
    item = _item("3")
    item.text = None  # analyze_post requires a text string
    with pytest.raises(DropItem, match="not_analysable"):
        tagging.process_item(item)
    assert tagging.stats.get_value("qiuzhu/dropped/not_analysable") == 1
