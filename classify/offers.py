"""What an offer states about itself: how much it has (42 rooms, 3 cars) and until when.

An offer's needs say what it offers; a dispatcher matching it to requests also needs to
know whether anything is left and whether it still holds. Both are read from the text:

* **capacity**: a count with a unit of what is offered, after an offering word where there
  is one (可提供42间房, 有3辆车, 剩20个床位, 50份盒饭). Ages, floors, dates, phone numbers
  and house numbers are not counts: only the units below are read.
* **expiry**: a date or a span the offer holds until (截止3月5日, 有效期至2月10日,
  2月8日前, 今天内有效, 3天内), resolved against the post's time in the crisis's zone: the
  offer holds to the end of that day.

Neither is guessed: an offer that states none has none, and is matched as long as it is
open and not marked used up.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

_NUMERAL = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7}
_NUMERAL.update({"八": 8, "九": 9})
_NUMBER = r"(\d{1,5}|[一二两三四五六七八九十百]{1,4})"

#: Unit words of what is offered, by the unit shown to dispatchers (longest first).
UNITS: dict[str, tuple[str, ...]] = {
    "间": ("个房间", "间房", "间", "套房", "套"),
    "床": ("个床位", "张床位", "张床", "床位"),
    "辆": ("辆车", "辆", "台车", "部车"),
    "艘": ("艘冲锋舟", "艘船", "艘皮划艇", "艘橡皮艇", "艘"),
    "座": ("个座位", "个位置", "座位"),
    "份": ("份", "箱", "袋", "盒", "瓶", "桶", "包", "件", "斤", "吨"),
    "人": ("名志愿者", "个志愿者", "名医生", "名护士", "名司机", "个司机", "名队员", "个人", "人"),
    "台": ("台制氧机", "台呼吸机", "台"),
    "个": ("个名额", "名额"),
}
_UNIT_OF = {word: unit for unit, words in UNITS.items() for word in words}
_UNIT_WORDS = "|".join(sorted(_UNIT_OF, key=len, reverse=True))
#: Words that say what follows is what the poster has to give.
_OFFERING = (
    r"(?:可提供|可以提供|能提供|免费提供|提供|可供|可容纳|可以容纳|可接纳|可住|可以住|可载|"
    r"能载|可送|还有|有|剩余|剩下|剩|共|共有|捐赠|捐|送出|准备了)"
)
_CAPACITY_AFTER_OFFERING = re.compile(_OFFERING + r"\s*" + _NUMBER + r"\s*(" + _UNIT_WORDS + ")")
_CAPACITY = re.compile(r"(?<![\d\-/.:：号栋楼层室])" + _NUMBER + r"\s*(" + _UNIT_WORDS + ")")
#: Not counts of what is offered: 3人一间 (per room), 24小时, 第3批 (`match` anchors
#: at its position: no `^`, which would only match at the text's start).
_NOT_AFTER = re.compile(r"(?:一间|以上|以内|左右|小时|分钟|天|次|号|楼|层|岁|元|块)")
# A rate (每人限领1份, 每户2斤) names what each gets, not how much there is.
_NOT_BEFORE = re.compile(r"(?:(?:第|约|近|超过|满)|(?:每|限)[^，。,;；!！\d]{0,3})$")
#: The largest count read as a capacity: beyond it, a number is something else.
_MOST = 100_000

_MONTH_DAY = r"(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?"
_EXPIRY_DATE = re.compile(
    r"(?:截止|截至|有效期至|有效期到|有效至|到|至|直到|持续到)\s*(?:到|至)?\s*"
    + _MONTH_DAY
    + r"|"
    + _MONTH_DAY
    + r"\s*(?:前|之前|为止|截止|以前)"
)
_EXPIRY_SPAN = re.compile(r"(\d{1,2}|[一二两三四五六七八九十])\s*天(?:内|之内|以内)")
_EXPIRY_TODAY = re.compile(r"(?:今天|今日|当天|今晚)(?:内|之内|有效|为止|截止)")
_EXPIRY_TOMORROW = re.compile(r"(?:明天|明日)(?:前|之前|内|有效|为止|截止)")
_EXPIRY_WEEK = re.compile(r"(?:本周|这周|这个星期|本星期)(?:内|之内|有效|为止)")


def _number(text: str) -> int | None:
    """Return the value of a decimal or Chinese numeral (四十二, 两百, 十五), else None."""
    if text.isdigit():
        return int(text)
    total, current = 0, 0
    for char in text:
        if char in _NUMERAL:
            current = _NUMERAL[char]
        elif char == "十":
            total += (current or 1) * 10
            current = 0
        elif char == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return total + current or None


def capacity(text: str) -> tuple[int, str] | None:
    """Return (count, unit) of what TEXT offers, or None when it states no count.

    A count after an offering word wins (可提供42间房); else the first count with a unit
    that is not a rate, an age or a house number.
    """
    for pattern in (_CAPACITY_AFTER_OFFERING, _CAPACITY):
        for match in pattern.finditer(text):
            if _NOT_AFTER.match(text, match.end()) or _NOT_BEFORE.search(text, 0, match.start()):
                continue
            count = _number(match.group(1))
            if count is None or not 0 < count <= _MOST:
                continue
            if match.group(1) == "一":
                continue  # an article (一辆车来了, 存一份), not a count of what is offered
            return count, _UNIT_OF[match.group(2)]
    return None


def _end_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=zone)


def expiry(text: str, posted: datetime, zone: ZoneInfo) -> datetime | None:
    """Return when the offer in TEXT stops holding, from POSTED (aware), or None.

    A month and day without a year is the next such day on or after the post's own day
    (a post of 30 December offering help until 2 January means January).
    """
    local = posted.astimezone(zone)
    match = _EXPIRY_DATE.search(text)
    if match:
        month, day = (int(g) for g in match.groups() if g is not None)
        for year in (local.year, local.year + 1):
            try:
                candidate = date(year, month, day)
            except ValueError:
                return None
            if candidate >= local.date() - timedelta(days=1):
                return _end_of(candidate, zone)
        return None
    span = _EXPIRY_SPAN.search(text)
    if span:
        days = _number(span.group(1))
        if days:
            return _end_of(local.date() + timedelta(days=days - 1), zone)
    if _EXPIRY_TODAY.search(text):
        return _end_of(local.date(), zone)
    if _EXPIRY_TOMORROW.search(text):
        return _end_of(local.date() + timedelta(days=1), zone)
    if _EXPIRY_WEEK.search(text):
        return _end_of(local.date() + timedelta(days=6 - local.weekday()), zone)
    return None


def offer_terms(text: str, posted_at: Any, zone: ZoneInfo, now: datetime) -> dict[str, Any]:
    """Return the `offer` fields of an offer post: capacity, its unit, and expiry (ISO).

    POSTED_AT is the post's ISO time (or None: NOW stands for it).
    """
    posted = now
    if isinstance(posted_at, str) and posted_at:
        try:
            posted = datetime.fromisoformat(posted_at)
        except ValueError:
            posted = now
        if posted.tzinfo is None:
            posted = posted.replace(tzinfo=zone)
    found = capacity(text)
    until = expiry(text, posted, zone)
    return {
        "capacity": found[0] if found else None,
        "unit": found[1] if found else None,
        "expires_at": until.isoformat() if until else None,
    }
