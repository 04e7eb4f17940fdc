import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from crawlers.items import HelpRequest
from crawlers.text import clean_text
from pipeline.cleaning import CleaningPipeline


@pytest.fixture
def cleaning():
    crawler = get_crawler()
    return CleaningPipeline.from_crawler(crawler), crawler.stats


def item(text, **kwargs):
    return HelpRequest(source="s", source_id="1", url="http://127.0.0.1/1", text=text, **kwargs)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("<p>第一段</p><p>第二段</p>", "第一段\n第二段"),
        ("发烧<br />三天<br>了", "发烧\n三天\n了"),
        ('<a href="/n/x">@某人</a> 帮转', "@某人 帮转"),
        ("A&amp;B &lt;急&gt;", "A&B <急>"),
        ("  多个　　空格\t和\u00a0制表符  ", "多个 空格 和 制表符"),
        ("\n\n\n只有一行\n\n", "只有一行"),
        ("<script>var x=1;</script>正文", "正文"),
        ("零\u200b宽", "零宽"),
        ("", ""),
    ],
)
def test_clean_text(raw, clean):
    assert clean_text(raw) == clean


TEMPLATE_VARIANTS = [
    # The super-topic template, in order.
    (
        "【姓名】程某某【年龄】68【所在城市】武汉【所在小区、社区】江岸区后湖街道百步亭花园"
        "【患病时间】1月27日【联系方式】138-0000-1101【其他紧急联系人】儿子 138-0000-1102"
        "【病情描述】发烧九天",
        {
            "name": "程某某",
            "age": "68",
            "city": "武汉",
            "address": "江岸区后湖街道百步亭花园",
            "contact": "138-0000-1101",
            "description": "发烧九天",
        },
    ),
    # Reordered, some fields missing, HTML around it.
    (
        "<p>【联系方式】138-0000-1103</p><p>【姓名】喻某</p><p>【病情描述】血氧90</p>",
        {"name": "喻某", "contact": "138-0000-1103", "description": "血氧90"},
    ),
    # Colons instead of brackets, semicolons between fields.
    (
        "姓名：刘某；年龄：59；所在城市：武汉；病情描述：高烧不退",
        {"name": "刘某", "age": "59", "city": "武汉"},
    ),
    # Full-width digits and spaces inside the brackets.
    (
        "【 姓名 】周某【年龄】７４岁【所在小区、社区】东西湖区吴家山街道",
        {"name": "周某", "address": "东西湖区吴家山街道"},
    ),
]


@pytest.mark.parametrize(("text", "expected"), TEMPLATE_VARIANTS)
def test_cleaning_fills_template_fields(cleaning, text, expected):
    pipe, _ = cleaning
    out = pipe.process_item(item(text))
    for key, value in expected.items():
        assert out.template[key] == value or value in out.template[key]
    assert "<p>" not in out.text


def test_free_text_has_no_template_fields(cleaning):
    pipe, _ = cleaning
    out = pipe.process_item(item("我家外婆82岁独居，降压药只剩两天的量，求送药"))
    assert not {"name", "age", "contact"} & set(out.template)


def test_spider_template_fields_win_over_parsed_ones(cleaning):
    pipe, _ = cleaning
    out = pipe.process_item(
        item("【联系方式】138-0000-0001【病情描述】发烧", template={"address": "武昌区中南路街道"})
    )
    assert out.template["address"] == "武昌区中南路街道"
    assert out.template["contact"] == "138-0000-0001"


@pytest.mark.parametrize("text", ["", "   ", "<p> </p>", "<br/><br/>"])
def test_items_without_text_are_dropped_and_counted(cleaning, text):
    pipe, stats = cleaning
    with pytest.raises(DropItem, match="no_text"):
        pipe.process_item(item(text))
    assert stats.get_value("qiuzhu/dropped/no_text") == 1


def test_deleted_items_are_kept_without_text(cleaning):
    pipe, stats = cleaning
    out = pipe.process_item(item("", deleted=True, title="<b>已删除</b>"))
    assert out.deleted and out.title == "已删除"
    assert stats.get_value("qiuzhu/dropped/no_text") is None
