"""A run record's source entry: the crawl's post counts and warnings, and how it reads."""

from ingest import records

CRAWL = {
    "pages": 25,
    "items": 8,
    "posts": {"found": 24, "new": 8, "changed": 0, "seen": 13, "old": 3, "failed": 0},
    "dropped": {"seen": 13},
    "errors": {},
    "warnings": ["read 25 page(s) but found nothing new, 2 crawl(s) in a row"],
    "finish_reason": "finished",
}


def entry(crawl):
    return records.source_entry(
        "board-city",
        crawl,
        {"new": 8},
        exit_code=0,
        duration=3.0,
        high_water_before=None,
        high_water_after=None,
    )


def test_source_entry_keeps_post_counts_and_warnings():
    got = entry(CRAWL)
    assert got["status"] == records.OK
    assert got["posts"] == CRAWL["posts"] and got["warnings"] == CRAWL["warnings"]
    lines = records.format_source(got).splitlines()
    assert "posts 24: 8 new, 0 changed, 13 seen, 3 old, 0 failed" in lines[0]
    assert lines[1] == "    warning: read 25 page(s) but found nothing new, 2 crawl(s) in a row"


def test_a_report_of_an_older_crawler_without_post_counts_still_reads():
    older = {k: v for k, v in CRAWL.items() if k not in ("posts", "warnings")}
    got = entry(older)
    assert got["posts"] == {} and got["warnings"] == []
    assert "posts" not in records.format_source(got)
