"""Render the demo posts (demo/site/posts.yaml) in the shape of each kind of source.

Pure functions from post dicts to bytes; `crawlers.demo_site` serves them.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from email.utils import format_datetime
from html import escape
from typing import Any

from crawlers.dates import SHANGHAI

Post = dict[str, Any]

CONTAINERS = {"100808demotopic": "topic", "100103demosearch": "search"}
PAGE_SIZES = {"topic": 8, "search": 3, "forum": 8}
SHEET_HEADER = ("编号", "登记时间", "求助人", "联系电话", "所在社区", "求助内容", "登记志愿者")
_TOPIC_LINK = '<a href="/p/100808demotopic"><span class="surl-text">#肺炎患者求助#</span></a>'


def when(post: Post) -> datetime:
    """Return the post's time as an aware datetime."""
    return datetime.strptime(str(post["posted"]), "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI)


#: How a list may order its posts: by time either way, or as the caller gave them.
ORDERS = ("newest_first", "oldest_first", "as_given")


def in_order(posts: list[Post], order: str = "newest_first") -> list[Post]:
    """Return POSTS in ORDER (one of ORDERS; `as_given` keeps the caller's order)."""
    if order == "as_given":
        return list(posts)
    return sorted(posts, key=lambda p: (when(p), str(p["id"])), reverse=order == "newest_first")


def _weibo_html(text: str) -> str:
    return escape(text, quote=False).replace("#肺炎患者求助#", _TOPIC_LINK).replace("\n", "<br />")


def mblog(post: Post, by_id: dict[str, Post], base: str) -> dict[str, Any]:
    """Return POST as a Weibo mobile-API `mblog` object."""
    full = _weibo_html(post["text"])
    long = bool(post.get("long"))
    text = full
    if long:
        text = _weibo_html(post["text"][:80]) + f'...<a href="/status/{post["id"]}">全文</a>'
    uid = 5000000000 + sum(map(ord, post["user"]))
    blog: dict[str, Any] = {
        "id": post["id"],
        "mid": post["id"],
        "created_at": when(post).strftime("%a %b %d %H:%M:%S %z %Y"),
        "text": text,
        "isLongText": long,
        "source": "微博 weibo.com",
        "user": {"id": uid, "screen_name": post["user"]},
        "reposts_count": 0,
        "pics": [
            {"pid": p.rsplit("/", 1)[-1], "url": base + p, "large": {"url": base + p}}
            for p in post.get("pics", [])
        ],
    }
    original = by_id.get(post.get("repost_of", ""))
    if original is not None:
        blog["retweeted_status"] = mblog(original, by_id, base)
    return blog


def weibo_page(
    posts: list[Post],
    by_id: dict[str, Post],
    base: str,
    since_id: str,
    size: int,
    broken_record: bool,
    order: str = "newest_first",
) -> bytes:
    """Return one `container/getIndex` page of POSTS in ORDER, after the post SINCE_ID."""
    ordered = in_order(posts, order)
    if since_id:
        ids = [str(p["id"]) for p in ordered]
        ordered = ordered[ids.index(since_id) + 1 :] if since_id in ids else []
    page, rest = ordered[:size], ordered[size:]
    cards: list[dict[str, Any]] = []
    if not since_id:
        cards.append({"card_type": 4, "desc": "超话社区 · 肺炎患者求助（演示）"})
    blogs = [{"card_type": 9, "mblog": mblog(p, by_id, base)} for p in page]
    # Real pages nest some cards in a card_group; spiders must find both.
    cards.append({"card_type": 11, "card_group": blogs[:2]})
    cards.extend(blogs[2:])
    if broken_record:
        cards.append({"card_type": 9, "mblog": {"text": "这条记录没有 id", "user": None}})
    info: dict[str, Any] = {"containerid": "demo", "page_size": size}
    if rest and page:
        info["since_id"] = int(page[-1]["id"])
    doc = {"ok": 1, "data": {"cardlistInfo": info, "cards": cards}}
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def weibo_extend(post: Post) -> bytes:
    """Return the status-detail (`statuses/extend`) answer holding the long text."""
    doc = {"ok": 1, "data": {"ok": 1, "longTextContent": _weibo_html(post["text"])}}
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def rss(posts: list[Post], base: str) -> bytes:
    """Return POSTS as an RSS 2.0 feed."""
    items = "".join(
        f"<item><title>{escape(p['title'])}</title>"
        f"<link>{base}/feeds/item/{p['id']}</link>"
        f'<guid isPermaLink="false">{p["id"]}</guid>'
        f"<pubDate>{format_datetime(when(p))}</pubDate>"
        f"<author>{escape(p['author'])}</author>"
        f"<description><![CDATA[{p['text']}]]></description></item>"
        for p in posts
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>武汉社区志愿者联络站（演示）</title><link>{base}/</link>{items}</channel></rss>"
    ).encode()


def atom(posts: list[Post], base: str) -> bytes:
    """Return POSTS as an Atom feed."""
    entries = "".join(
        f"<entry><id>tag:demo.qiuzhu,2020:{p['id']}</id><title>{escape(p['title'])}</title>"
        f'<link href="{base}/feeds/item/{p["id"]}"/><updated>{when(p).isoformat()}</updated>'
        f"<author><name>{escape(p['author'])}</name></author>"
        f'<content type="html">{escape(p["text"])}</content></entry>'
        for p in posts
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>本地资讯（演示）</title><id>tag:demo.qiuzhu,2020:news</id>{entries}</feed>"
    ).encode()


def _gbk_page(title: str, body: str, meta: bool = True) -> bytes:
    head = '<meta http-equiv="Content-Type" content="text/html; charset=gbk">' if meta else ""
    html = f"<html><head>{head}<title>{escape(title)}</title></head><body>{body}</body></html>"
    return html.encode("gb18030")


def forum_list(
    posts: list[Post], page: int, size: int, order: str = "newest_first", admin_row: bool = True
) -> bytes:
    """Return list page PAGE of the GBK forum (in ORDER, with a next-page link).

    ADMIN_ROW adds, on page 1, a thread in a folder robots.txt forbids.
    """
    ordered = in_order(posts, order)
    chunk = ordered[(page - 1) * size : page * size]
    rows = "".join(
        f'<tr class="thread"><td><a class="subject" href="thread?tid={p["id"]}">'
        f'{escape(p["title"])}</a></td><td class="author">{escape(p["user"])}</td>'
        f'<td class="time">{when(p):%Y-%m-%d %H:%M}</td></tr>'
        for p in chunk
    )
    if page == 1 and admin_row:
        rows += (
            '<tr class="thread"><td><a class="subject" href="/private/thread?tid=3999">'
            '版务（仅管理员）</a></td><td class="author">版主</td><td class="time"></td></tr>'
        )
    more = page * size < len(ordered)
    nav = f'<a class="next" href="list?page={page + 1}">下一页</a>' if more else ""
    body = f'<h1>江城互助论坛 · 求助专区（演示）</h1><table class="threads">{rows}</table>{nav}'
    return _gbk_page("求助专区", body)


def forum_thread(post: Post, meta: bool = True) -> bytes:
    """Return the detail page of one forum thread, GB18030-encoded."""
    images = "".join(f'<img src="{src}">' for src in post.get("pics", []))
    body = (
        f'<div class="thread"><h1 class="subject">{escape(post["title"])}</h1>'
        f'<div class="postinfo">作者：<span class="author">{escape(post["user"])}</span> '
        f'发表于 <span class="time">{when(post):%Y-%m-%d %H:%M}</span></div>'
        f'<div class="postbody">{post.get("text", "")}{images}</div></div>'
    )
    return _gbk_page(post["title"], body, meta)


def board_list(
    posts: list[Post], page: int, size: int, replies: dict[str, str], order: str = "newest_first"
) -> bytes:
    """Return one page of the message board's JSON list endpoint (in ORDER)."""
    ordered = in_order(posts, order)
    chunk = ordered[(page - 1) * size : page * size]
    rows = [
        {
            "tid": p["id"],
            "title": p["title"],
            "createTime": int(when(p).timestamp() * 1000),
            "replyStatus": 1 if replies[str(p["id"])] == "已回复" else 0,
        }
        for p in chunk
    ]
    doc = {"code": 200, "msg": "ok", "data": {"total": len(ordered), "list": rows}}
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def board_detail(post: Post, reply: str) -> bytes:
    """Return the message board's detail answer for one message."""
    data = {
        "tid": post["id"],
        "title": post["title"],
        "content": post.get("text", ""),
        "nickname": post["user"],
        "createTime": int(when(post).timestamp() * 1000),
        "replyStatus": 1 if reply == "已回复" else 0,
        "replyContent": post.get("reply_text", "") if reply == "已回复" else "",
    }
    return json.dumps({"code": 200, "msg": "ok", "data": data}, ensure_ascii=False).encode()


def sheet_rows(posts: list[Post]) -> list[list[Any]]:
    """Return the rows of a volunteers' sheet (without the header)."""
    return [
        [
            p["id"],
            when(p).replace(tzinfo=None),
            p.get("name", ""),
            p["contact"],
            p["address"],
            p["text"],
            p["user"],
        ]
        for p in posts
    ]


def sheet_csv(posts: list[Post], bad_rows: list[str]) -> bytes:
    """Return the sheet as CSV with a BOM (as Excel writes it), bad rows appended."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(SHEET_HEADER)
    for row in sheet_rows(posts):
        row[1] = f"{row[1]:%Y-%m-%d %H:%M}"
        writer.writerow(row)
    body = out.getvalue() + "".join(line + "\r\n" for line in bad_rows)
    return body.encode("utf-8-sig")


def sheet_xlsx(posts: list[Post]) -> bytes:
    """Return the sheet as an XLSX workbook, with one row that has no text."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "求助登记"
    sheet.append(list(SHEET_HEADER))
    for row in sheet_rows(posts):
        sheet.append(row)
    sheet.append(["V-199", datetime(2020, 2, 5, 9, 0), "", "138-0000-1599", "", None, "楼栋长老周"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
