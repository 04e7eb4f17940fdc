"""Tests of the help-request template parser, on invented posts."""

import pytest

from classify.template import TEMPLATE_LABELS, parse_template, strip_template

FULL = (
    "肺炎患者求助超话 求助人信息（若有相关化验单，请上传图片）【姓名】陈小明【年龄】６８"
    "【所在城市】武汉【所在小区、社区】青山区某某花园【患病时间】2月1日"
    "【联系方式】13900000000【其他紧急联系人】13700000000【病情描述】发热五天，咳嗽"
)


def test_parse_template_reads_every_field():
    fields = parse_template(FULL)
    assert fields == {
        "name": "陈小明",
        "age": "68",
        "city": "武汉",
        "address": "青山区某某花园",
        "onset": "2月1日",
        "contact": "13900000000",
        "emergency_contact": "13700000000",
        "description": "发热五天,咳嗽",
    }


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        ("[姓名]: 刘一 [年龄]:40", "name", "刘一"),
        ("【姓名】：刘一【年龄】：40", "age", "40"),
        ("姓名：刘一，年龄：40，家庭住址：汉阳区某路", "address", "汉阳区某路"),
        ("［姓名］刘一［所在小区/社区］某某社区", "address", "某某社区"),
        ("【年龄】40【姓名】刘一", "name", "刘一"),
        ("【姓名】刘一【年龄】40所在城市武汉", "city", "武汉"),
        ("【病情描述】高烧不退。联系电话：13900000000", "contact", "13900000000"),
        ("【姓名】刘一【患者情况】咳嗽", "description", "咳嗽"),
    ],
)
def test_parse_template_tolerates_variants(text, key, value):
    assert parse_template(text)[key] == value


def test_parse_template_keeps_repeated_label_in_previous_field():
    fields = parse_template("【姓名】刘一【病情描述】发热。母亲症状：咳嗽【年龄】70")
    assert fields["description"] == "发热。母亲症状:咳嗽"
    assert fields["age"] == "70"


def test_parse_template_missing_fields_are_absent():
    fields = parse_template("【姓名】刘一【联系方式】")
    assert fields == {"name": "刘一"}


@pytest.mark.parametrize("text", ["", "今天去超市买菜", "病情稳定，谢谢大家", None, 42])
def test_parse_template_without_labels_is_empty(text):
    assert parse_template(text) == {}


def test_template_labels_include_the_fixed_labels():
    for label in ("姓名", "所在小区、社区", "其他紧急联系人", "病情描述"):
        assert label in TEMPLATE_LABELS


def test_strip_template_removes_labels_and_boilerplate():
    stripped = strip_template(FULL)
    assert "姓名" not in stripped
    assert "求助人信息" not in stripped
    assert "陈小明" in stripped
