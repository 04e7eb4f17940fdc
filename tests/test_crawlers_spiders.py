"""Parse methods fed with saved responses (no network), as Scrapy's own tests do."""

import json
from datetime import timedelta

from fixtures_crawl import demo_source, make_spider
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


def test_report_json_is_plain():
    from crawlers.report import build_report, format_report

    report = build_report(
        {
            "qiuzhu/pages": 3,
            "item_scraped_count": 2,
            "qiuzhu/dropped/no_text": 1,
            "qiuzhu/errors/http_500": 1,
            "finish_reason": "finished",
        }
    )
    assert report == {
        "pages": 3,
        "items": 2,
        "dropped": {"no_text": 1},
        "errors": {"http_500": 1},
        "finish_reason": "finished",
    }
    assert json.loads(json.dumps(report)) == report
    assert format_report("s", report) == (
        "s: 3 pages, 2 items, dropped: no_text 1; errors: http_500 1 (finished)"
    )
