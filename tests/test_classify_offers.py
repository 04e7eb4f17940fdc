"""What an offer states of itself: a count with its unit, and until when it holds."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from classify.analyze import analyze_post
from classify.offers import capacity, expiry, offer_terms

ZONE = ZoneInfo("Asia/Shanghai")
POSTED = datetime(2020, 2, 5, 10, 0, tzinfo=ZONE)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我们酒店可提供42间房给医护人员免费住宿", (42, "间")),
        ("本人有3辆车可以接送医护人员", (3, "辆")),
        ("爱心企业捐赠500份盒饭", (500, "份")),
        ("我家有四十二间房空着", (42, "间")),
        ("剩20个床位，需要的联系", (20, "床")),
        ("可以住两个人", (2, "人")),
        ("车队有十五名志愿者司机", (15, "人")),
        ("我们有冲锋舟6艘，救生衣100件", (6, "艘")),
    ],
)
def test_a_stated_count_and_its_unit_are_read(text, expected):
    assert capacity(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "80岁老人需要药",
        "5号楼可提供帮助",
        "电话13800001234",
        "24小时在线提供心理咨询",
        "第3批物资已到",
        "每人限领1份",
        # 一 as an article, and 个 of anything, are no capacity.
        "我们是一支专业救援队，可以随时支援",
        "自发组织了一个核实信息的群",
        "部分援助站联系信息！扩散，存一份！",
        "新对接了3个救援队",
    ],
)
def test_ages_floors_phones_hours_batches_and_rates_are_no_capacity(text):
    assert capacity(text) is None


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("免费住宿，截止3月5日。", "2020-03-05"),
        ("有效期至2月10日", "2020-02-10"),
        ("2月8日前可送菜上门", "2020-02-08"),
        ("3天内有效", "2020-02-07"),
        ("今天内有效", "2020-02-05"),
        ("明天前都可以联系", "2020-02-06"),
        ("本周内有效", "2020-02-09"),
    ],
)
def test_expiry_is_the_end_of_the_stated_day_in_the_crisis_zone(text, day):
    until = expiry(text, POSTED, ZONE)
    assert until is not None and until.date().isoformat() == day
    assert (until.hour, until.minute) == (23, 59) and until.utcoffset().total_seconds() == 8 * 3600


def test_a_month_and_day_past_the_post_roll_into_the_next_year():
    late = datetime(2020, 12, 30, 9, 0, tzinfo=ZONE)
    assert expiry("截止1月2日", late, ZONE).date().isoformat() == "2021-01-02"
    assert expiry("截止2月30日", late, ZONE) is None


def test_offer_terms_read_the_posts_time_or_fall_back_to_now():
    got = offer_terms("可提供3辆车，3天内有效", "2020-02-05T10:00:00+08:00", ZONE, POSTED)
    assert got == {"capacity": 3, "unit": "辆", "expires_at": "2020-02-07T23:59:59+08:00"}
    assert offer_terms("可提供帮助", None, ZONE, POSTED) == {
        "capacity": None,
        "unit": None,
        "expires_at": None,
    }
    assert offer_terms("今天内有效", "not a time", ZONE, POSTED)["expires_at"].startswith(
        "2020-02-05"
    )


def test_analysis_adds_the_terms_to_offers_only():
    offer = analyze_post(
        {
            "id": "o1",
            "text": "我是出租车司机，免费提供3辆车接送医护人员上下班，截止2月10日，"
            "有需要的联系我。",
            "posted_at": "2020-02-05T10:00:00+08:00",
        }
    )
    assert offer["kind"] == "offer"
    assert offer["offer"]["capacity"] == 3 and offer["offer"]["unit"] == "辆"
    assert offer["offer"]["expires_at"].startswith("2020-02-10")
    request = analyze_post({"id": "r1", "text": "我妈妈发烧三天了，求一张床位，3天内需要住院。"})
    assert request["kind"] == "request" and request["offer"] is None
