"""Parse the ways the sources write when a post was published into aware datetimes.

Pure functions, no Scrapy. A time without a zone is Beijing time (Asia/Shanghai), as
every source in scope is. Relative forms (`5分钟前`, `昨天 12:30`, `02-05`) are read
against `now`, which tests pass explicitly.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, tzinfo
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")

# Epochs above this are milliseconds: 1e11 seconds is the year 5138.
_MS_THRESHOLD = 10**11
_WEIBO = "%a %b %d %H:%M:%S %z %Y"
_UNITS = {"秒": "seconds", "分钟": "minutes", "分": "minutes", "小时": "hours", "天": "days"}
_DAYS_BACK = {"今天": 0, "昨天": 1, "前天": 2}

_CLOCK = r"(?:\s*(?P<h>\d{1,2})[:：](?P<mi>\d{2})(?:[:：](?P<s>\d{2}))?)?"
_FULL_DATE = re.compile(
    r"^(?P<y>\d{4})\s*[-/.年]\s*(?P<mo>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?" + _CLOCK + "$"
)
_MONTH_DAY = re.compile(r"^(?P<mo>\d{1,2})\s*[-/月]\s*(?P<d>\d{1,2})\s*日?" + _CLOCK + "$")
_RELATIVE_DAY = re.compile(r"^(?P<word>今天|昨天|前天)" + _CLOCK + "$")
_AGO = re.compile(r"^(?P<n>\d+)\s*(?P<unit>秒|分钟|分|小时|天)\s*前$")
_EPOCH = re.compile(r"^\d{9,13}(?:\.\d+)?$")


def parse_posted_at(
    value: object, *, now: datetime | None = None, tz: tzinfo = SHANGHAI
) -> datetime | None:
    """Return VALUE as an aware datetime, or None when it is empty.

    Args:
        value: a datetime, epoch seconds or milliseconds (number or digits), or text in
            one of the forms the sources use.
        now: the moment relative forms are read against; defaults to the current time.
        tz: the zone of times written without one.

    Raises:
        ValueError: VALUE is text in no known form.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=tz)
    if isinstance(value, bool):
        raise ValueError(f"not a date: {value!r}")
    if isinstance(value, int | float):
        return _from_epoch(float(value), tz)
    if not isinstance(value, str):
        raise ValueError(f"not a date: {type(value).__name__}")
    text = value.strip()
    if not text:
        return None
    current = (now or datetime.now(tz)).astimezone(tz)
    return _parse_text(text, current, tz)


def _from_epoch(seconds: float, tz: tzinfo) -> datetime:
    if seconds >= _MS_THRESHOLD:
        seconds /= 1000
    return datetime.fromtimestamp(seconds, tz)


def _clock(match: re.Match[str]) -> time:
    if match.group("h") is None:
        return time()
    return time(int(match.group("h")), int(match.group("mi")), int(match.group("s") or 0))


def _parse_text(text: str, now: datetime, tz: tzinfo) -> datetime:
    if text == "刚刚":
        return now
    if _EPOCH.match(text):
        return _from_epoch(float(text), tz)
    if match := _AGO.match(text):
        return now - timedelta(**{_UNITS[match.group("unit")]: int(match.group("n"))})
    if match := _RELATIVE_DAY.match(text):
        day = now.date() - timedelta(days=_DAYS_BACK[match.group("word")])
        return datetime.combine(day, _clock(match), tzinfo=tz)
    if match := _FULL_DATE.match(text):
        day = date(int(match.group("y")), int(match.group("mo")), int(match.group("d")))
        return datetime.combine(day, _clock(match), tzinfo=tz)
    if match := _MONTH_DAY.match(text):
        # Sites drop the year for this year's posts; a day still ahead is last year's.
        month, dom = int(match.group("mo")), int(match.group("d"))
        parsed = datetime.combine(date(now.year, month, dom), _clock(match), tzinfo=tz)
        if parsed > now + timedelta(days=1):
            parsed = parsed.replace(year=now.year - 1)
        return parsed
    return _parse_absolute(text, tz)


def _parse_absolute(text: str, tz: tzinfo) -> datetime:
    iso = text[:-1] + "+00:00" if text.endswith("Z") else text
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        pass
    else:
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)
    try:
        return datetime.strptime(text, _WEIBO)
    except ValueError:
        pass
    try:
        # RSS writes RFC 822 dates; a missing zone comes back naive.
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"unknown date form: {text[:40]!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)
