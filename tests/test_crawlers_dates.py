from datetime import UTC, datetime, timedelta

import pytest

from crawlers.dates import SHANGHAI, parse_posted_at

NOW = datetime(2020, 2, 6, 10, 0, tzinfo=SHANGHAI)


def sh(*args):
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2020-02-05T14:32:00+08:00", sh(2020, 2, 5, 14, 32)),
        ("2020-02-05T06:32:00Z", sh(2020, 2, 5, 14, 32)),
        ("2020-02-05 14:32", sh(2020, 2, 5, 14, 32)),
        ("2020-02-05 14:32:10", sh(2020, 2, 5, 14, 32, 10)),
        ("2020/2/5 14:32", sh(2020, 2, 5, 14, 32)),
        ("2020年2月5日 14:32", sh(2020, 2, 5, 14, 32)),
        ("2020-02-05", sh(2020, 2, 5)),
        ("02-05", sh(2020, 2, 5)),
        ("02-05 14:32", sh(2020, 2, 5, 14, 32)),
        ("2月5日 09:00", sh(2020, 2, 5, 9, 0)),
        ("12-30", sh(2019, 12, 30)),  # a day still ahead this year is last year's
        ("今天 08:15", sh(2020, 2, 6, 8, 15)),
        ("昨天 12:30", sh(2020, 2, 5, 12, 30)),
        ("前天 23:59", sh(2020, 2, 4, 23, 59)),
        ("5分钟前", NOW - timedelta(minutes=5)),
        ("3小时前", NOW - timedelta(hours=3)),
        ("30秒前", NOW - timedelta(seconds=30)),
        ("2天前", NOW - timedelta(days=2)),
        ("刚刚", NOW),
        (1580884320, sh(2020, 2, 5, 14, 32)),
        (1580884320000, sh(2020, 2, 5, 14, 32)),
        ("1580884320", sh(2020, 2, 5, 14, 32)),
        ("1580884320000", sh(2020, 2, 5, 14, 32)),
        ("Wed Feb 05 14:32:00 +0800 2020", sh(2020, 2, 5, 14, 32)),
        ("Wed, 05 Feb 2020 06:32:00 GMT", sh(2020, 2, 5, 14, 32)),
        ("Wed, 05 Feb 2020 14:32:00 +0800", sh(2020, 2, 5, 14, 32)),
        (datetime(2020, 2, 5, 14, 32), sh(2020, 2, 5, 14, 32)),
    ],
)
def test_parse_posted_at_forms(value, expected):
    parsed = parse_posted_at(value, now=NOW)
    assert parsed == expected
    assert parsed.tzinfo is not None


def test_parse_posted_at_keeps_a_given_zone():
    parsed = parse_posted_at("2020-02-05T06:32:00Z", now=NOW)
    assert parsed.utcoffset() == timedelta(0)
    assert parsed == datetime(2020, 2, 5, 6, 32, tzinfo=UTC)


@pytest.mark.parametrize("value", [None, "", "   "])
def test_parse_posted_at_empty_is_none(value):
    assert parse_posted_at(value, now=NOW) is None


@pytest.mark.parametrize("value", ["不记得了", "2020-13-45 10:00", "yesterday", True, [2020]])
def test_parse_posted_at_rejects_unknown_forms(value):
    with pytest.raises(ValueError):
        parse_posted_at(value, now=NOW)
