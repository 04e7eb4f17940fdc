"""A fixture site whose lists come in any order and grow between crawls, served on 127.0.0.1.

Every shape the crawlers read: a Weibo container paged by since_id (with long texts), a
GB18030 forum, RSS and Atom feeds, a message board paged by POST, CSV (with a BOM) and
XLSX sheets. Each list is served newest first, oldest first or unordered (a new shuffle
every round). Round 1 shows 30 posts of each kind over 58 hours; round 2 adds 6 newer
ones and 2 published late (dated a little before round 1's newest); round 3 adds 6 more;
round 4 one published very late, dated 40 hours before the newest post.

Every person, phone number and post here is invented; place names are real public
geography of Zhengzhou.
"""

from __future__ import annotations

import json
import random
import textwrap
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from crawlers import demo_render as render
from crawlers.dates import SHANGHAI
from crawlers.demo_site import ROBOTS

START = datetime(2021, 7, 20, 8, 0, tzinfo=SHANGHAI)
KINDS = ("weibo", "forum", "board", "feed", "sheet")
ORDERS = ("newest", "oldest", "unordered")
PAGE_SIZES = {"weibo": 7, "forum": 8, "board": 6}
ROUNDS = (1, 2, 3, 4)

_PLACES = (
    "金水区文化路街道",
    "二七区淮河路街道",
    "中原区林山寨街道",
    "管城回族区城东路街道",
    "惠济区新城街道",
    "郑东新区龙子湖街道",
)
_NEEDS = (
    "家中老人的降压药快吃完了，药店都关着，求送药",
    "小区停电停水两天了，需要饮用水和方便食品",
    "地下室进水，一楼住户需要抽水泵",
    "孕妇预产期就在这几天，需要车辆转运到医院",
    "老人腿脚不便被困在三楼，需要救援人员帮忙转移",
    "需要充电宝和手电筒，手机快没电了",
)
_FIRST = {"weibo": 4600000000000001, "forum": 5001, "board": 7001, "feed": 1, "sheet": 1}


def _hours(n: int) -> list[float]:
    """Return when (hours after START) the posts of round N appear."""
    if n == 1:
        return [2.0 * i for i in range(30)]
    if n == 2:
        return [58.0 + k for k in range(1, 7)] + [57.5, 57.0]
    if n == 3:
        return [64.0 + k for k in range(1, 7)]
    return [30.0]


def _post(kind: str, number: int, hours: float, round_no: int) -> dict[str, Any]:
    place, need = _PLACES[number % len(_PLACES)], _NEEDS[number % len(_NEEDS)]
    phone = f"138-0000-{2000 + number:04d}"
    posted = START + timedelta(hours=hours)
    text = f"求助：{place}，{need}。联系 {phone}（第{number}号）"
    first = _FIRST[kind] + number
    post: dict[str, Any] = {
        "id": f"fx-{number:03d}"
        if kind == "feed"
        else f"S-{number:03d}"
        if kind == "sheet"
        else str(first),
        "number": number,
        "round": round_no,
        "posted": f"{posted:%Y-%m-%d %H:%M}",
        "title": f"{place}求助（第{number}号）",
        "user": f"互助志愿者{number % 7 + 1}号",
        "author": "郑州互助联络站（测试）",
        "text": text,
        "contact": phone,
        "address": place,
        "name": "",
        "file": "csv",
        "container": "fixture",
    }
    if kind == "weibo" and number % 6 == 3:
        post["long"] = True
        post["text"] = text + "。" + "家里还有两位老人和一个孩子，水已经漫到楼梯口，" * 4
    return post


def make_posts(kind: str) -> list[dict[str, Any]]:
    """Return every post of KIND over the three rounds, numbered in the order they appear."""
    posts, number = [], 0
    for round_no in ROUNDS:
        for hours in _hours(round_no):
            posts.append(_post(kind, number, hours, round_no))
            number += 1
    return posts


class OrderSite:
    """The fixture site's content by round; `handle()` answers one request (as DemoSite does).

    Attributes:
        round: posts of rounds up to this one are listed.
        failing: (kind, number) of posts whose detail page (or long text) answers 500
            while `round` is 1; they answer normally afterwards.
    """

    def __init__(self) -> None:
        self.posts = {kind: make_posts(kind) for kind in KINDS}
        self.round = 1
        self.failing = {("weibo", 27), ("forum", 25)}
        self.hits: dict[str, int] = {}
        self.user_agents: set[str] = set()

    def visible(self, kind: str) -> list[dict[str, Any]]:
        """Return the posts of KIND listed in the current round."""
        return [p for p in self.posts[kind] if p["round"] <= self.round]

    def listed(self, kind: str, order: str) -> list[dict[str, Any]]:
        """Return the posts of KIND in the order the list ORDER serves them."""
        posts = self.visible(kind)
        if order == "unordered":
            shuffled = list(posts)
            random.Random(f"{kind}-{self.round}").shuffle(shuffled)
            return shuffled
        return render.in_order(posts, "newest_first" if order == "newest" else "oldest_first")

    def _find(self, kind: str, post_id: str) -> dict[str, Any] | None:
        return next((p for p in self.visible(kind) if p["id"] == post_id), None)

    def _fails(self, kind: str, post: dict[str, Any]) -> bool:
        return self.round == 1 and (kind, post["number"]) in self.failing

    def handle(self, method: str, target: str, form: dict[str, str], base: str) -> Any:
        """Answer METHOD TARGET with a status, headers and body."""
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = parts.path.strip("/").split("/")
        self.hits[target] = self.hits.get(target, 0) + 1
        json_type = {"Content-Type": "application/json; charset=utf-8"}
        html = {"Content-Type": "text/html"}
        if parts.path == "/robots.txt":
            return 200, {"Content-Type": "text/plain"}, ROBOTS
        if path[:1] == ["weibo"] and path[-1] == "extend":
            post = self._find("weibo", query.get("id", ""))
            if post is None or self._fails("weibo", post):
                return 500 if post else 404, json_type, b'{"ok":0}'
            return 200, json_type, render.weibo_extend(post)
        if path[:1] == ["weibo"] and len(path) == 2:
            posts = self.listed("weibo", path[1])
            by_id = {p["id"]: p for p in posts}
            body = render.weibo_page(
                posts,
                by_id,
                base,
                query.get("since_id", ""),
                PAGE_SIZES["weibo"],
                broken_record=False,
                order="as_given",
            )
            return 200, json_type, body
        if path[:1] == ["forum"] and path[-1] == "thread":
            post = self._find("forum", query.get("tid", ""))
            if post is None:
                return 404, html, b"<html><body>gone</body></html>"
            if self._fails("forum", post):
                return 500, html, b"<html><body>Internal Server Error</body></html>"
            return 200, html, render.forum_thread(post)
        if path[:1] == ["forum"] and len(path) == 3:
            posts = self.listed("forum", path[1])
            page = int(query.get("page", "1"))
            body = render.forum_list(
                posts, page, PAGE_SIZES["forum"], order="as_given", admin_row=False
            )
            return 200, html, body
        if path[:1] == ["board"] and path[-1] == "detail":
            return self._board_detail(query.get("tid", ""))
        if path[:1] == ["board"] and len(path) == 3 and method == "POST":
            return self._board_list(path[1], form)
        if path[:1] == ["feeds"] and len(path) == 2:
            name, _, fmt = path[1].partition(".")
            posts = self.listed("feed", name)
            body = render.rss(posts, base) if fmt == "rss" else render.atom(posts, base)
            return 200, {"Content-Type": "application/xml; charset=utf-8"}, body
        if path[:1] == ["sheets"] and len(path) == 2:
            name, _, fmt = path[1].partition(".")
            posts = self.listed("sheet", name)
            if fmt == "csv":
                return 200, {"Content-Type": "text/csv; charset=utf-8"}, render.sheet_csv(posts, [])
            xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            return 200, {"Content-Type": xlsx}, render.sheet_xlsx(posts)
        return 404, {"Content-Type": "text/plain"}, b"not found\n"

    def _board_list(self, name: str, form: dict[str, str]) -> Any:
        # The site serves PAGE_SIZES["board"] a page whatever size is asked for; past the
        # end, the `repeat` list serves its last page again, the others an empty list.
        order = "newest" if name == "repeat" else name
        posts = self.listed("board", order)
        size = PAGE_SIZES["board"]
        last = max(1, -(-len(posts) // size))
        page = int(form.get("pageNo", "1"))
        if name == "repeat":
            page = min(page, last)
        chunk = posts[(page - 1) * size : page * size]
        rows = [
            {
                "tid": p["id"],
                "title": p["title"],
                "createTime": int(render.when(p).timestamp() * 1000),
                "replyStatus": p["number"] % 2,
            }
            for p in chunk
        ]
        doc = {"code": 200, "data": {"total": len(posts), "list": rows}}
        return (
            200,
            {"Content-Type": "application/json"},
            json.dumps(doc, ensure_ascii=False).encode(),
        )

    def _board_detail(self, tid: str) -> Any:
        post = self._find("board", tid)
        json_type = {"Content-Type": "application/json"}
        if post is None:
            return 404, json_type, b'{"code":404}'
        # The detail lacks the title and reply state: only the list record carries them.
        data = {
            "tid": post["id"],
            "content": post["text"],
            "nickname": post["user"],
            "createTime": int(render.when(post).timestamp() * 1000),
        }
        return 200, json_type, json.dumps({"code": 200, "data": data}, ensure_ascii=False).encode()


def _source(sid: str, kind: str, body: str) -> str:
    return f"  - id: {sid}\n    kind: {kind}\n" + textwrap.indent(textwrap.dedent(body), "    ")


def registry_text() -> str:
    """Return the registry of every fixture source (URLs from ${QIUZHU_DEMO_SITE_URL})."""
    site = "${QIUZHU_DEMO_SITE_URL}"
    out = ["defaults:\n  rate_limit: {delay: 0, concurrency: 8}\n  timeout: 10\nsources:\n"]
    board_fields = (
        "fields: {id: tid, title: title, text: content, author: nickname, "
        "posted_at: createTime, reply_state: replyStatus}\n"
    )
    for order, declared in (*((o, o) for o in ORDERS), ("oldest", "")):
        suffix = order if declared else "undeclared"
        line = ""
        if order != "unordered":  # unordered sources have CRAWL_FULL_READ_HOURS by default
            line = "full_read_hours: 24\n"
        if declared:
            line += f"order: {'unordered' if order == 'unordered' else order + '_first'}\n"
        out.append(
            _source(
                f"weibo-{suffix}",
                "weibo",
                f"start_urls: ['{site}/weibo/{order}']\n"
                f"long_text_url: '{site}/weibo/api/extend?id={{id}}'\n{line}",
            )
        )
        out.append(
            _source(
                f"forum-{suffix}",
                "html",
                f"start_urls: ['{site}/forum/{order}/list?page=1']\nencoding: gb18030\n"
                'id_pattern: "tid=(\\\\d+)"\n'
                "list: {rows: 'table.threads tr.thread', link: 'a.subject::attr(href)', "
                "title: 'a.subject::text', posted_at: 'td.time::text', "
                "next_page: 'xpath://a[@class=\"next\"]/@href'}\n"
                "fields: {text: div.postbody, author: 'div.postinfo span.author::text'}\n"
                f"{line}",
            )
        )
        out.append(
            _source(
                f"board-{suffix}",
                "message_board",
                f"start_urls: ['{site}/board/{order}/list']\n"
                f"detail_url: '{site}/board/api/detail?tid={{id}}'\n"
                "form: {page_field: pageNo}\nitems_path: data.list\ndetail_path: data\n"
                f"{board_fields}{line}",
            )
        )
    out.append(
        _source(
            "board-repeat",
            "message_board",
            f"start_urls: ['{site}/board/repeat/list']\n"
            f"detail_url: '{site}/board/api/detail?tid={{id}}'\n"
            "form: {page_field: pageNo, size_field: pageSize, page_size: 20}\n"
            f"items_path: data.list\ndetail_path: data\n{board_fields}"
            "order: newest_first\nfull_read_hours: 24\n",
        )
    )
    for order in ORDERS:
        out.append(_source(f"rss-{order}", "feed", f"start_urls: ['{site}/feeds/{order}.rss']\n"))
        columns = (
            "columns: {source_id: 编号, posted_at: 登记时间, contact: 联系电话, "
            "address: 所在社区, text: 求助内容, author: 登记志愿者}\n"
        )
        out.append(
            _source(
                f"sheet-{order}",
                "spreadsheet",
                f"start_urls: ['{site}/sheets/{order}.csv']\n{columns}",
            )
        )
    out.append(_source("atom-unordered", "feed", f"start_urls: ['{site}/feeds/unordered.atom']\n"))
    out.append(
        _source(
            "xlsx-unordered",
            "spreadsheet",
            f"start_urls: ['{site}/sheets/unordered.xlsx']\n"
            "columns: {source_id: 编号, posted_at: 登记时间, text: 求助内容}\n",
        )
    )
    return "".join(out)


def kind_of(source_id: str) -> str:
    """Return the kind of fixture posts the source SOURCE_ID lists."""
    prefix = source_id.split("-", 1)[0]
    return {"rss": "feed", "atom": "feed", "xlsx": "sheet"}.get(prefix, prefix)


@dataclass
class OrderServer:
    url: str
    site: OrderSite


def write_registry(folder: Path) -> Path:
    """Write the fixture registry into FOLDER and return its path."""
    path = folder / "sources.yaml"
    path.write_text(registry_text(), encoding="utf-8")
    return path
