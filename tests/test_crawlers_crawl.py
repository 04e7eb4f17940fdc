"""Every spider kind against the demo site served on 127.0.0.1, crawled in a subprocess."""

import re

import pytest
from fixtures_crawl import demo_crawl_fixture, demo_server_fixture, run_crawl  # noqa: F401

pytestmark = pytest.mark.slow

EXPECTED_ITEMS = {
    "weibo-topic-demo": 20,
    "weibo-search-demo": 5,
    "feed-volunteers-demo": 6,
    "feed-news-demo": 5,
    "forum-gbk-demo": 15,
    "board-demo": 11,
    "sheet-volunteers-csv-demo": 8,
    "sheet-volunteers-xlsx-demo": 4,
    "sheet-building-group-demo": 4,
}


def test_every_source_yields_its_items(demo_crawl):
    assert {s: len(demo_crawl.of(s)) for s in EXPECTED_ITEMS} == EXPECTED_ITEMS
    assert {s: r["items"] for s, r in demo_crawl.reports.items()} == EXPECTED_ITEMS
    ids = [item["id"] for item in demo_crawl.items]
    assert len(ids) == len(set(ids))


def test_items_are_clean_and_json_friendly(demo_crawl):
    for item in demo_crawl.items:
        assert item["id"] == f"{item['source']}:{item['source_id']}"
        assert "<" not in item["text"] and "  " not in item["text"]
        assert item["crawled_at"] and item["raw"] is not None
        assert item["text"] or item["deleted"]
        if item["posted_at"] is not None:
            assert re.search(r"[+-]\d\d:\d\d$", item["posted_at"]), item["posted_at"]


def test_paging_reaches_the_last_page_of_each_paged_source(demo_crawl):
    by_id = demo_crawl.by_id
    assert "weibo-topic-demo:4468000000000101" in by_id  # third since_id page
    assert "weibo-search-demo:4468000000000121" in by_id  # second page
    assert "forum-gbk-demo:3020" in by_id  # third list page
    assert "board-demo:9020" in by_id  # third POST page


def test_weibo_long_posts_reposts_and_originals(demo_crawl):
    by_id = demo_crawl.by_id
    long = by_id["weibo-topic-demo:4468000000000102"]
    assert "定点医院床位" in long["text"] and "全文" not in long["text"]
    assert long["template"]["name"] == "喻建国" and long["template"]["age"] == "55"
    # The detail endpoint failed for this one: the truncated post is kept, and marked.
    kept = by_id["weibo-topic-demo:4468000000000111"]
    assert kept["text"].endswith("全文") and kept["truncated"] is True
    assert long["truncated"] is False
    assert demo_crawl.reports["weibo-topic-demo"]["posts"]["truncated"] == 1
    update = by_id["weibo-topic-demo:4468000000000113"]
    assert update["repost_of"] == "4468000000000105" and "透析" in update["text"]
    assert by_id["weibo-topic-demo:4468000000000101"]["images"][0].endswith("/img/ct-1101.jpg")
    assert by_id["weibo-topic-demo:4468000000000101"]["author"] == "后湖小树"


def test_gbk_forum_is_decoded(demo_crawl):
    thread = demo_crawl.by_id["forum-gbk-demo:3001"]
    assert thread["title"] == "【求助】后湖百步亭花园程阿姨还没床位"
    assert thread["template"]["address"] == "江岸区后湖街道百步亭花园"
    assert thread["posted_at"] == "2020-02-03T10:20:00+08:00"
    assert demo_crawl.by_id["forum-gbk-demo:3004"]["images"][0].endswith("/img/dog-3004.jpg")
    assert "红卫路街道" in demo_crawl.by_id["forum-gbk-demo:3026"]["text"]  # lying charset


def test_message_board_keeps_reply_state(demo_crawl):
    states = {i["source_id"]: i["reply_state"] for i in demo_crawl.of("board-demo")}
    assert states["9001"] == "已回复" and states["9002"] == "未回复"
    assert set(states.values()) == {"已回复", "未回复"}


def test_gone_detail_pages_become_deleted_items(demo_crawl):
    gone = {i["id"] for i in demo_crawl.items if i["deleted"]}
    assert gone == {"forum-gbk-demo:3021", "board-demo:9020"}
    assert demo_crawl.by_id["forum-gbk-demo:3021"]["title"] == "已经被删的求助"


def test_spreadsheets_from_url_and_local_path(demo_crawl):
    row = demo_crawl.by_id["sheet-volunteers-xlsx-demo:V-101"]
    assert row["posted_at"] == "2020-02-03T16:00:00+08:00"
    assert row["template"]["address"] == "东西湖区吴家山街道七雄路社区"
    local = demo_crawl.by_id["sheet-building-group-demo:G-01"]
    assert local["template"]["contact"] == "138-0000-1601"
    assert demo_crawl.by_id["sheet-volunteers-csv-demo:V-901"]["posted_at"] is None


BAD_INPUT = {
    "forum-gbk-demo": {
        "errors": {
            "bad_html": 1,
            "empty_page": 1,
            "http_500": 1,
            "redirect_loop": 1,
            "robots_forbidden": 1,
            "timeout": 1,
            "wrong_encoding": 1,
        },
        "dropped": {},
    },
    "board-demo": {"errors": {"bad_json": 1, "http_503": 1}, "dropped": {}},
    # Originals that come inside reposts and in the list too are read once.
    "weibo-topic-demo": {
        "errors": {"bad_json": 1, "bad_record": 1, "http_500": 1},
        "dropped": {},
    },
    "feed-volunteers-demo": {"errors": {"bad_record": 1, "bad_xml": 1}, "dropped": {}},
    "sheet-volunteers-csv-demo": {
        "errors": {"bad_date": 1, "bad_row": 1},
        "dropped": {"no_text": 1},
    },
    "sheet-volunteers-xlsx-demo": {"errors": {}, "dropped": {"no_text": 1}},
    "sheet-building-group-demo": {"errors": {"bad_row": 1}, "dropped": {}},
}


@pytest.mark.parametrize("source", sorted(BAD_INPUT))
def test_bad_input_is_counted_by_reason_and_the_crawl_goes_on(demo_crawl, source):
    report = demo_crawl.reports[source]
    assert report["errors"] == BAD_INPUT[source]["errors"]
    assert report["dropped"] == BAD_INPUT[source]["dropped"]
    assert report["finish_reason"] == "finished"
    assert report["pages"] > 0


@pytest.mark.parametrize(
    ("reason", "path"),
    [
        ("http_500", "/forum/thread?tid=3023"),
        ("timeout", "/forum/thread?tid=3024"),
        ("empty_page", "/forum/thread?tid=3025"),
        ("bad_html", "/forum/thread?tid=3027"),
        ("redirect_loop", "/bad/loop?n=5"),
        ("http_503", "/board/api/detail?tid=9022"),
        ("bad_json", "/board/api/detail?tid=9021"),
        ("bad_xml", "/feeds/broken.rss"),
    ],
)
def test_each_bad_input_is_logged_once_with_source_and_url(demo_crawl, demo_server, reason, path):
    lines = [
        line
        for line in demo_crawl.log.splitlines()
        if f"{demo_server.url}{path}" in line and f": {reason} at " in line
    ]
    assert len(lines) == 1, lines
    assert "source " in lines[0]


def test_logs_hold_no_post_text_or_phone_numbers(demo_crawl):
    assert "138-0000" not in demo_crawl.log
    assert "程秀兰" not in demo_crawl.log


def test_end_of_crawl_report_is_printed_per_source(demo_crawl):
    for source in EXPECTED_ITEMS:
        line = rf"{source}: \d+ pages, \d+ items; posts \d+: \d+ new, .*; dropped: .*; errors: "
        assert re.search(line, demo_crawl.log)


def test_every_post_found_has_one_outcome(demo_crawl):
    for source, report in demo_crawl.reports.items():
        posts = report["posts"]
        assert posts["pending"] == 0, (source, posts)
        assert report["items"] == posts["new"] + posts["changed"], source
    forum = demo_crawl.reports["forum-gbk-demo"]["posts"]
    # 15 read, 6 whose pages failed (500, timeout, redirect loop, empty, no text, robots.txt).
    assert (forum["found"], forum["new"], forum["failed"]) == (21, 15, 6)


def test_crawl_is_polite(demo_crawl, demo_server):
    site = demo_server.site
    assert site.user_agents == {"qiuzhu/0.1.0 (+help-request aggregator)"}
    assert site.hits.get("/robots.txt", 0) >= 1
    assert not [t for t in site.hits if t.startswith("/private/")]
    # A 5xx is retried (RETRY_TIMES=2) before it is given up.
    assert site.hits["/forum/thread?tid=3023"] == 3


def test_interrupted_crawl_resumes_from_its_jobdir(demo_server, demo_crawl, tmp_path):
    sources = ["board-demo", "forum-gbk-demo"]
    jobdir = tmp_path / "job"
    first = run_crawl(
        demo_server,
        tmp_path,
        *sources,
        "--jobdir",
        str(jobdir),
        "-s",
        "CLOSESPIDER_ITEMCOUNT=2",
        "-s",
        "CONCURRENT_REQUESTS_PER_DOMAIN=1",
    )
    assert first.returncode == 0, first.log[-2000:]
    assert {r["finish_reason"] for r in first.reports.values()} == {"closespider_itemcount"}
    second = run_crawl(demo_server, tmp_path, *sources, "--jobdir", str(jobdir))
    assert second.returncode == 0, second.log[-2000:]
    assert {r["finish_reason"] for r in second.reports.values()} == {"finished"}
    assert first.items and second.items
    ids = [i["id"] for i in first.items + second.items]
    assert len(ids) == len(set(ids))
    assert set(ids) == {i["id"] for i in demo_crawl.items if i["source"] in sources}
