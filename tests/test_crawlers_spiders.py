"""Parse methods fed with saved responses (no network), as Scrapy's own tests do."""

import json
from datetime import timedelta

import pytest
from fixtures_crawl import MINIMAL_HTML, demo_source, make_spider
from scrapy.http import HtmlResponse, Request, TextResponse, XmlResponse

from crawlers import demo_render as render
from crawlers.demo_site import DemoSite
from crawlers.items import HelpRequest

BASE = "http://127.0.0.1:9"


def split(results):
    results = list(results)
    items = [r for r in results if isinstance(r, HelpRequest)]
    requests = [r for r in results if isinstance(r, Request)]
    return items, requests


def test_weibo_page_yields_posts_reposts_long_text_requests_and_next_page():
    site = DemoSite()
    spider = make_spider(demo_source("weibo-topic-demo", BASE))
    posts = [p for p in site.visible("weibo") if p["container"] == "topic"]
    by_id = {p["id"]: p for p in site.posts["weibo"]}
    body = render.weibo_page(posts, by_id, BASE, "", 8, broken_record=True)
    url = f"{BASE}/weibo/api/container/getIndex?containerid=100808demotopic"
    items, requests = split(spider.parse(TextResponse(url, body=body, encoding="utf-8")))
    ids = [i.source_id for i in items]
    # Cards nested in a card_group are found too; the record without an id is counted.
    assert "4468000000000120" in ids and "4468000000000116" in ids
    repost = next(i for i in items if i.source_id == "4468000000000120")
    assert repost.repost_of == "4468000000000101"
    assert "4468000000000101" in ids  # the original travels with its repost
    assert repost.posted_at.utcoffset() == timedelta(hours=8)
    assert spider.crawler.stats.get_value("qiuzhu/errors/bad_record") == 1
    follow = [r.url for r in requests]
    assert any("since_id=4468000000000113" in u for u in follow)
    whole = render.weibo_page(posts, by_id, BASE, "", 30, broken_record=False)
    _, requests = split(spider.parse(TextResponse(url, body=whole, encoding="utf-8")))
    longs = [r for r in requests if r.callback == spider.parse_long]
    assert {r.url.rsplit("=", 1)[1] for r in longs} == {"4468000000000102", "4468000000000111"}
    assert all(r.errback == spider.long_text_failed for r in longs)


def test_weibo_long_text_replaces_the_truncated_text():
    spider = make_spider(demo_source("weibo-topic-demo", BASE))
    post = next(p for p in DemoSite().posts["weibo"] if p["id"] == "4468000000000102")
    truncated = HelpRequest(source="weibo-topic-demo", source_id=post["id"], url="u", text="...")
    response = TextResponse(f"{BASE}/x", body=render.weibo_extend(post), encoding="utf-8")
    (out,) = spider.parse_long(response, item=truncated)
    assert "定点医院床位" in out.text


def test_weibo_malformed_json_is_counted_not_raised():
    spider = make_spider(demo_source("weibo-topic-demo", BASE))
    response = TextResponse(f"{BASE}/bad", body=b'{"ok":1,"data":{"ca', encoding="utf-8")
    assert list(spider.parse(response)) == []
    assert spider.crawler.stats.get_value("qiuzhu/errors/bad_json") == 1


def test_rss_and_atom_entries():
    site = DemoSite()
    feed = site.visible("feed")
    for source_id, body, first_id in [
        (
            "feed-volunteers-demo",
            render.rss([p for p in feed if p["feed"] == "volunteers"], BASE),
            "rss-001",
        ),
        (
            "feed-news-demo",
            render.atom([p for p in feed if p["feed"] == "news"], BASE),
            "tag:demo.qiuzhu,2020:atom-001",
        ),
    ]:
        spider = make_spider(demo_source(source_id, BASE))
        items, _ = split(spider.parse(XmlResponse(f"{BASE}/feed", body=body)))
        assert items[0].source_id == first_id
        assert items[0].title and items[0].author and items[0].posted_at
        assert items[0].url.startswith(f"{BASE}/feeds/item/")
    with_image = next(
        i
        for i in split(
            make_spider(demo_source("feed-volunteers-demo", BASE)).parse(
                XmlResponse(f"{BASE}/f", body=render.rss(feed[:4], BASE))
            )
        )[0]
        if i.source_id == "rss-004"
    )
    assert with_image.images == [f"{BASE}/img/rss-004.jpg"]


def test_forum_list_page_in_gbk_links_details_and_next_page():
    site = DemoSite()
    spider = make_spider(demo_source("forum-gbk-demo", BASE))
    body = render.forum_list(site.visible("forum"), 1, 8)
    response = HtmlResponse(f"{BASE}/forum/list?page=1", body=body)
    assert response.encoding == "gb18030"  # from the page's meta charset
    _, requests = split(spider.parse(response))
    details = [r for r in requests if r.callback == spider.parse_detail]
    assert len(details) == 9  # eight threads and one link robots.txt forbids
    assert details[0].cb_kwargs["listed"]["title"] == "更新：程阿姨已住院，谢谢大家"
    assert details[0].meta["handle_httpstatus_list"] == [404, 410]
    assert [r.url for r in requests if r.callback == spider.parse] == [f"{BASE}/forum/list?page=2"]


def test_forum_detail_404_is_a_deleted_item():
    spider = make_spider(demo_source("forum-gbk-demo", BASE))
    listed = {"title": "已删除的帖子", "author": "匿名", "posted_at": "2020-02-03 08:00"}
    response = HtmlResponse(f"{BASE}/forum/thread?tid=3020", status=404, body=b"gone")
    (out,) = spider.parse_detail(response, source_id="3020", listed=listed)
    assert out.deleted and out.title == "已删除的帖子" and out.source_id == "3020"


def test_forum_detail_with_a_lying_charset_is_read_with_the_registry_encoding():
    spider = make_spider(demo_source("forum-gbk-demo", BASE))
    post = {
        "id": "1",
        "title": "乱码",
        "user": "甲",
        "posted": "2020-02-03 08:30",
        "text": "<p>青山区红卫路街道求送药</p>",
    }
    response = HtmlResponse(
        f"{BASE}/t",
        body=render.forum_thread(post, meta=False),
        headers={"Content-Type": "text/html; charset=utf-8"},
    )
    (out,) = spider.parse_detail(
        response, source_id="1", listed={"title": "", "author": "", "posted_at": ""}
    )
    assert "红卫路街道" in out.text and out.author == "甲"
    assert spider.crawler.stats.get_value("qiuzhu/errors/wrong_encoding") == 1


def test_board_list_posts_the_next_page_form_and_detail_keeps_reply_state():
    site = DemoSite()
    spider = make_spider(demo_source("board-demo", BASE))
    posts = site.visible("board")
    replies = {p["id"]: site._reply(p) for p in posts}
    response = TextResponse(
        f"{BASE}/board/api/list", body=render.board_list(posts, 1, 5, replies), encoding="utf-8"
    )
    _, requests = split(spider.parse(response, page_no=1))
    next_page = [r for r in requests if r.callback == spider.parse]
    assert next_page[0].method == "POST" and b"pageNo=2" in next_page[0].body
    assert b"forumId=7" in next_page[0].body
    post = next(p for p in posts if p["id"] == "9001")
    detail = TextResponse(f"{BASE}/d", body=render.board_detail(post, "已回复"), encoding="utf-8")
    (out,) = spider.parse_detail(detail, source_id="9001", listed={})
    assert out.reply_state == "已回复" and out.author == "江汉市民"
    assert out.posted_at.isoformat() == "2020-02-03T13:10:00+08:00"


def test_spreadsheet_rows_become_templated_items_and_bad_rows_are_counted():
    site = DemoSite()
    spider = make_spider(demo_source("sheet-volunteers-csv-demo", BASE))
    rows = [p for p in site.visible("sheet") if p["file"] == "csv"]
    body = render.sheet_csv(rows, site.sheet_bad_rows)
    items, _ = split(spider.parse(TextResponse(f"{BASE}/s.csv", body=body, encoding="utf-8")))
    first = items[0]
    assert first.source_id == "V-001" and first.author == "志愿者小林"
    assert first.text.startswith("【所在小区、社区】江岸区后湖街道【联系方式】138-0000-1401")
    stats = spider.crawler.stats
    assert stats.get_value("qiuzhu/errors/bad_row") == 1
    assert stats.get_value("qiuzhu/errors/bad_date") == 1
    assert {"V-901", "V-902"} <= {i.source_id for i in items}


def test_spreadsheet_missing_mapped_column_is_reported_once():
    spider = make_spider(demo_source("sheet-volunteers-csv-demo", BASE))
    body = "编号,求助内容\nV-1,需要药\n".encode()
    assert list(spider.parse(TextResponse(f"{BASE}/s.csv", body=body, encoding="utf-8"))) == []
    assert spider.crawler.stats.get_value("qiuzhu/errors/missing_column") == 1


def test_report_json_is_plain_and_its_post_counts_add_up():
    from crawlers.report import build_report, format_report

    report = build_report(
        {
            "qiuzhu/pages": 3,
            "item_scraped_count": 2,
            "qiuzhu/posts/found": 6,
            "qiuzhu/posts/new": 1,
            "qiuzhu/posts/changed": 1,
            "qiuzhu/posts/seen": 1,
            "qiuzhu/posts/old": 1,
            "qiuzhu/posts/failed": 1,
            "qiuzhu/posts/empty": 1,
            "qiuzhu/dropped/no_text": 1,
            "qiuzhu/dropped/seen": 1,
            "qiuzhu/errors/http_500": 1,
            "qiuzhu/paging/order": "newest_first",
            "finish_reason": "finished",
        }
    )
    assert report == {
        "pages": 3,
        "items": 2,
        "posts": {
            "found": 6,
            "new": 1,
            "changed": 1,
            "seen": 1,
            "old": 1,
            "failed": 1,
            "empty": 1,
            "truncated": 0,
            "pending": 0,
        },
        "dropped": {"no_text": 1, "seen": 1},
        "errors": {"http_500": 1},
        "paging": {"order": "newest_first"},
        "warnings": [],
        "finish_reason": "finished",
    }
    assert json.loads(json.dumps(report)) == report
    assert format_report("s", report) == (
        "s: 3 pages, 2 items; posts 6: 1 new, 1 changed, 1 seen, 1 old, 1 failed, 1 empty; "
        "dropped: no_text 1, seen 1; errors: http_500 1 (finished)"
    )


@pytest.mark.parametrize(
    ("stats", "words"),
    [
        (
            {"qiuzhu/paging/order": "newest_first", "qiuzhu/paging/out_of_order": "x"},
            "not newest_first",
        ),
        ({"qiuzhu/paging/capped": 5}, "max_pages (5)"),
        ({"qiuzhu/paging/unread_lists": 1}, "could not be read to their end"),
        ({"qiuzhu/retry/given_up": 2}, "gave up on 2 post(s)"),
        (
            {"qiuzhu/state/last_new_at": "2021-07-20T08:00:00+08:00", "qiuzhu/state/quiet_runs": 3},
            "found nothing new, 3 crawl(s) in a row; it last found new posts at 2021-07-20 08:00",
        ),
        ({"qiuzhu/posts/found": 4, "qiuzhu/posts/new": 3}, "1 of its 4 posts have no outcome"),
    ],
)
def test_report_warns_of_what_a_person_should_act_on(stats, words):
    from crawlers.report import build_report

    report = build_report({"qiuzhu/pages": 2, "finish_reason": "finished", **stats})
    assert len(report["warnings"]) == 1 and words in report["warnings"][0]


def test_report_of_a_crawl_that_found_new_posts_has_no_quiet_warning():
    from crawlers.report import build_report

    stats = {"qiuzhu/pages": 2, "qiuzhu/posts/found": 1, "qiuzhu/posts/new": 1}
    stats["qiuzhu/state/last_new_at"] = "2021-07-20T08:00:00+08:00"
    assert build_report({**stats, "finish_reason": "finished"})["warnings"] == []


def registry_source(tmp_path, body):
    from crawlers.registry import load_sources

    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n" + body, encoding="utf-8")
    return next(iter(load_sources(path).values()))


MINIMAL_BOARD = """
  - id: board-min
    kind: message_board
    start_urls: ["http://127.0.0.1:9/list"]
    detail_url: "http://127.0.0.1:9/detail?tid={id}"
    form: {page_field: pageNo}
    items_path: data.list
    detail_path: data
    fields: {id: tid, text: content}
"""
LISTED = {"tid": 7, "title": "列表里的标题", "replyStatus": 1, "createTime": 1611100000000}


def board_list_response(rows, page_no=1):
    body = json.dumps({"data": {"list": rows}}, ensure_ascii=False).encode()
    request = Request(f"{BASE}/list", meta={"qiuzhu_list": f"{BASE}/list"})
    return TextResponse(f"{BASE}/list", body=body, encoding="utf-8", request=request)


def test_message_board_fields_left_out_of_the_registry_stay_empty(tmp_path):
    spider = make_spider(registry_source(tmp_path, MINIMAL_BOARD))
    detail = {"data": {"tid": 7, "content": "需要饮用水", "nickname": "甲"}}
    response = TextResponse(f"{BASE}/d", body=json.dumps(detail).encode(), encoding="utf-8")
    (out,) = spider.parse_detail(response, source_id="7", listed=LISTED)
    assert (out.text, out.title, out.author, out.reply_state) == ("需要饮用水", "", "", "")
    assert out.posted_at is None


def test_message_board_detail_fields_fall_back_on_the_list_record(tmp_path):
    body = MINIMAL_BOARD.replace(
        "fields: {id: tid, text: content}",
        "fields: {id: tid, text: content, title: title, author: nickname, "
        "posted_at: createTime, reply_state: replyStatus}",
    )
    spider = make_spider(registry_source(tmp_path, body))
    detail = {"data": {"tid": 7, "content": "需要饮用水", "nickname": "甲", "title": ""}}
    response = TextResponse(f"{BASE}/d", body=json.dumps(detail).encode(), encoding="utf-8")
    (out,) = spider.parse_detail(response, source_id="7", listed=LISTED)
    assert (out.title, out.author, out.reply_state) == ("列表里的标题", "甲", "已回复")
    assert out.posted_at.year == 2021
    gone = TextResponse(f"{BASE}/d", status=410, body=b"{}", encoding="utf-8")
    (deleted,) = spider.parse_detail(gone, source_id="7", listed=LISTED)
    assert deleted.deleted and deleted.title == "列表里的标题" and deleted.reply_state == "已回复"


def test_message_board_pages_on_after_a_short_page_and_stops_at_an_empty_one(tmp_path):
    spider = make_spider(registry_source(tmp_path, MINIMAL_BOARD))
    _, requests = split(spider.parse(board_list_response([{"tid": 1}, {"tid": 2}]), page_no=1))
    follow = [r for r in requests if r.callback == spider.parse]
    assert len(follow) == 1 and follow[0].body == b"pageNo=2"  # no size field
    details = [r for r in requests if r.callback == spider.parse_detail]
    assert [r.cb_kwargs["source_id"] for r in details] == ["1", "2"]
    _, requests = split(spider.parse(board_list_response([]), page_no=2))
    assert requests == []
    # The same page again (a site that answers every page past the last with the last).
    _, requests = split(spider.parse(board_list_response([{"tid": 1}, {"tid": 2}]), page_no=3))
    assert requests == []


def test_message_board_record_whose_id_is_not_a_value_is_a_bad_record(tmp_path):
    spider = make_spider(registry_source(tmp_path, MINIMAL_BOARD))
    _, requests = split(spider.parse(board_list_response([{"tid": {"x": 1}}, {"title": "t"}])))
    assert spider.crawler.stats.get_value("qiuzhu/errors/bad_record") == 2
    assert not [r for r in requests if r.callback == spider.parse_detail]


def test_html_with_only_the_required_selectors(tmp_path):
    spider = make_spider(registry_source(tmp_path, MINIMAL_HTML))
    page = '<table><tr class="thread"><td><a href="t?tid=5">x</a></td></tr></table>'
    listing = HtmlResponse(f"{BASE}/list", body=page.encode(), encoding="utf-8")
    _, requests = split(spider.parse(listing))
    (detail,) = requests
    assert detail.cb_kwargs["listed"] == {"title": "", "author": "", "posted_at": ""}
    thread = HtmlResponse(f"{BASE}/t?tid=5", body='<div class="post">求助</div>'.encode())
    (out,) = spider.parse_detail(thread, **detail.cb_kwargs)
    assert (out.text, out.title, out.author, out.posted_at, out.images) == (
        '<div class="post">求助</div>',
        "",
        "",
        None,
        [],
    )


def test_weibo_post_with_only_an_id_and_text(tmp_path):
    body = """
  - id: weibo-min
    kind: weibo
    start_urls: ["http://127.0.0.1:9/api"]
    long_text_url: "http://127.0.0.1:9/extend?id={id}"
"""
    spider = make_spider(registry_source(tmp_path, body))
    doc = {"ok": 1, "data": {"cards": [{"card_type": 9, "mblog": {"id": 42, "text": "求助"}}]}}
    response = TextResponse(f"{BASE}/api", body=json.dumps(doc).encode(), encoding="utf-8")
    items, requests = split(spider.parse(response))
    (out,) = items
    assert (out.author, out.posted_at, out.images, out.repost_of) == ("", None, [], "")
    assert out.url == "https://m.weibo.cn/detail/42" and not out.truncated
    assert requests == []  # no since_id: the end of the list


def test_weibo_long_text_failure_marks_the_item_and_keeps_it_for_a_retry():
    spider = make_spider(demo_source("weibo-topic-demo", BASE))
    truncated = spider.item("9", "u", text="前几行...全文", truncated=True)
    bad = TextResponse(f"{BASE}/x", body=b'{"ok":1,"data":{}}', encoding="utf-8")
    (out,) = spider.parse_long(bad, item=truncated)
    assert out.truncated and out.text == "前几行...全文"
    keep, given_up = spider.retry_state()
    assert keep["weibo-topic-demo:9"]["attempts"] == 1 and given_up == []
    assert keep["weibo-topic-demo:9"]["request"]["item"]["text"] == "前几行...全文"
    again = spider.retry_request(keep["weibo-topic-demo:9"]["request"])
    assert again.url.endswith("id=9") and again.cb_kwargs["item"].truncated


def test_feed_entry_with_only_a_guid_and_a_description():
    spider = make_spider(demo_source("feed-news-demo", BASE))
    rss = (
        b"<rss><channel><item><guid>g-1</guid><description>needs water</description>"
        b"</item></channel></rss>"
    )
    (out,), _ = split(spider.parse(XmlResponse(f"{BASE}/f.rss", body=rss)))
    assert (out.source_id, out.title, out.author, out.posted_at) == ("g-1", "", "", None)
    assert out.url == f"{BASE}/f.rss"


def test_spreadsheet_with_only_a_text_column(tmp_path):
    body = """
  - id: sheet-min
    kind: spreadsheet
    start_urls: ["http://127.0.0.1:9/s.csv"]
    columns: {text: 内容}
"""
    spider = make_spider(registry_source(tmp_path, body))
    csv_body = "\ufeff内容,备注\n需要药,x\n".encode()
    (out,), _ = split(spider.parse(TextResponse(f"{BASE}/s.csv", body=csv_body, encoding="utf-8")))
    assert out.text == "需要药" and out.posted_at is None and len(out.source_id) == 16
    assert (out.title, out.author) == ("", "")
