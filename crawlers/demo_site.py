"""The bundled demo site: invented posts in every source shape, served on 127.0.0.1.

`qiuzhu demo-site` runs it; tests start it on a free port with `start_demo_site()`.
The bundled registry points at it through the DEMO_SITE_URL setting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from crawlers import demo_render as render
from qiuzhu.settings import ROOT

logger = logging.getLogger(__name__)

DEMO_DIR = ROOT / "demo" / "site"
ROBOTS = b"User-agent: *\nDisallow: /private/\n"
Answer = tuple[int, dict[str, str], bytes]


class DemoSite:
    """The demo site's content and state; `handle()` answers one request.

    Attributes:
        round: 1 serves the first crawl's posts; 2 adds the `round: 2` posts, removes the
            `gone_in_round: 2` ones and applies `reply_in_round_2` changes.
        slow_seconds: how long the deliberately slow page takes to answer.
    """

    def __init__(self, data_dir: Path = DEMO_DIR, slow_seconds: float = 2.0) -> None:
        doc = yaml.safe_load((data_dir / "posts.yaml").read_text(encoding="utf-8"))
        self.posts: dict[str, list[render.Post]] = {
            kind: [{**p, "id": str(p["id"])} for p in doc.get(kind) or []]
            for kind in ("weibo", "feed", "forum", "board", "sheet")
        }
        self.sheet_bad_rows: list[str] = list(doc.get("sheet_bad_rows", []))
        #: Files served as they are under /sheets/ (a crisis's shared sheet, exported).
        self.files = {p.name: p for p in (data_dir / "sheets").glob("*.csv")}
        self.round = 1
        self.slow_seconds = slow_seconds
        #: Requests answered, by path and query; and the User-Agents that sent them.
        self.hits: dict[str, int] = {}
        self.user_agents: set[str] = set()

    def visible(self, kind: str) -> list[render.Post]:
        """Return the posts of KIND that the current round shows."""
        return [p for p in self.posts[kind] if int(p.get("round", 1)) <= self.round]

    def _find(self, kind: str, post_id: str) -> render.Post | None:
        return next((p for p in self.visible(kind) if p["id"] == post_id), None)

    def _reply(self, post: render.Post) -> str:
        if self.round >= 2 and post.get("reply_in_round_2"):
            return str(post["reply_in_round_2"])
        return str(post.get("reply", ""))

    def handle(self, method: str, target: str, form: dict[str, str], base: str) -> Answer:
        """Answer METHOD TARGET (path and query) with a status, headers and body."""
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = parts.path
        self.hits[target] = self.hits.get(target, 0) + 1
        json_type = {"Content-Type": "application/json; charset=utf-8"}
        if path == "/robots.txt":
            return 200, {"Content-Type": "text/plain"}, ROBOTS
        if path == "/_demo/round":
            self.round = int(query.get("n", "1"))
            return 200, {"Content-Type": "text/plain"}, f"round {self.round}\n".encode()
        if path == "/weibo/api/container/getIndex":
            return self._weibo(query, base)
        if path == "/weibo/api/statuses/extend":
            post = self._find("weibo", query.get("id", ""))
            if post is None:
                return 404, json_type, b'{"ok":0,"msg":"not found"}'
            if post.get("extend_error"):
                return int(post["extend_error"]), json_type, b'{"ok":0}'
            return 200, json_type, render.weibo_extend(post)
        if path in {"/feeds/volunteers.rss", "/feeds/news.atom"}:
            name = "volunteers" if path.endswith(".rss") else "news"
            posts = [p for p in self.visible("feed") if p["feed"] == name]
            body = render.rss(posts, base) if name == "volunteers" else render.atom(posts, base)
            return 200, {"Content-Type": "application/xml; charset=utf-8"}, body
        if path == "/feeds/broken.rss":
            body = "<rss><channel><item><title>未闭合的条目<description>".encode()
            return 200, {"Content-Type": "application/xml"}, body
        if path.startswith("/forum/"):
            return self._forum(path, query)
        if path.startswith("/board/api/"):
            return self._board(method, path, query, form)
        if path.startswith("/sheets/"):
            return self._sheet(path)
        if path.startswith("/bad/loop"):
            step = int(query.get("n", "0")) + 1
            return 302, {"Location": f"/bad/loop?n={step}"}, b""
        return 404, {"Content-Type": "text/plain"}, b"not found\n"

    def _weibo(self, query: dict[str, str], base: str) -> Answer:
        container = render.CONTAINERS.get(query.get("containerid", ""))
        if container is None:
            # A container the API no longer serves answers truncated JSON, as seen in 2020.
            return 200, {"Content-Type": "application/json"}, b'{"ok":1,"data":{"cards":[{"ca'
        by_id = {p["id"]: p for p in self.posts["weibo"]}
        posts = [p for p in self.visible("weibo") if p["container"] == container]
        since = query.get("since_id", "")
        body = render.weibo_page(
            posts,
            by_id,
            base,
            since,
            render.PAGE_SIZES[container],
            broken_record=container == "topic" and not since,
        )
        return 200, {"Content-Type": "application/json; charset=utf-8"}, body

    def _forum(self, path: str, query: dict[str, str]) -> Answer:
        html = {"Content-Type": "text/html"}
        if path == "/forum/list":
            page = int(query.get("page", "1"))
            posts = self.visible("forum")
            return 200, html, render.forum_list(posts, page, render.PAGE_SIZES["forum"])
        post = self._find("forum", query.get("tid", ""))
        if path != "/forum/thread" or post is None:
            return 404, html, render.forum_list([], 1, 1)
        if self.round >= int(post.get("gone_in_round", 99)):
            return 404, html, "<html><body>帖子不存在或已被删除</body></html>".encode("gb18030")
        bad = post.get("bad", "")
        if bad == "not_found":
            return 404, html, "<html><body>帖子不存在或已被删除</body></html>".encode("gb18030")
        if bad == "redirect_loop":
            return 302, {"Location": "/bad/loop?n=1"}, b""
        if bad == "server_error":
            return 500, html, b"<html><body>Internal Server Error</body></html>"
        if bad == "slow":
            time.sleep(self.slow_seconds)
        if bad == "empty":
            return 200, html, b""
        if bad == "wrong_encoding":
            # The header claims UTF-8 but the body is GB18030, as misconfigured boards did.
            return (
                200,
                {"Content-Type": "text/html; charset=utf-8"},
                render.forum_thread(post, meta=False),
            )
        if bad == "malformed":
            return 200, html, '<html><body><div class="thread"><h1 class="subj'.encode("gb18030")
        return 200, html, render.forum_thread(post)

    def _board(self, method: str, path: str, query: dict[str, str], form: dict[str, str]) -> Answer:
        json_type = {"Content-Type": "application/json; charset=utf-8"}
        if path == "/board/api/list":
            if method != "POST":
                return 405, json_type, b'{"code":405,"msg":"POST only"}'
            page, size = int(form.get("pageNo", "1")), int(form.get("pageSize", "10"))
            posts = self.visible("board")
            replies = {p["id"]: self._reply(p) for p in posts}
            return 200, json_type, render.board_list(posts, page, size, replies)
        post = self._find("board", query.get("tid", ""))
        if path != "/board/api/detail" or post is None:
            return 404, json_type, b'{"code":404,"msg":"not found"}'
        bad = post.get("bad", "")
        if bad == "gone":
            return 410, json_type, b'{"code":410,"msg":"withdrawn"}'
        if bad == "malformed":
            return 200, json_type, b'{"code":200,"data":{"tid":9021,"title":"'
        if bad == "server_error":
            return 503, json_type, b'{"code":503,"msg":"busy"}'
        return 200, json_type, render.board_detail(post, self._reply(post))

    def _sheet(self, path: str) -> Answer:
        rows = self.visible("sheet")
        if path == "/sheets/volunteers.csv":
            body = render.sheet_csv([p for p in rows if p["file"] == "csv"], self.sheet_bad_rows)
            return 200, {"Content-Type": "text/csv; charset=utf-8"}, body
        if path == "/sheets/volunteers.xlsx":
            xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            return (
                200,
                {"Content-Type": xlsx},
                render.sheet_xlsx([p for p in rows if p["file"] == "xlsx"]),
            )
        name = path.removeprefix("/sheets/")
        if name in self.files:
            return 200, {"Content-Type": "text/csv; charset=utf-8"}, self.files[name].read_bytes()
        return 404, {"Content-Type": "text/plain"}, b"not found\n"


def _handler(site: DemoSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "qiuzhu-demo/1"

        def _answer(self, method: str) -> None:
            form: dict[str, str] = {}
            if method == "POST":
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8", "replace")
                form = {k: v[0] for k, v in parse_qs(raw).items()}
            host = self.headers.get("Host") or "127.0.0.1"
            site.user_agents.add(self.headers.get("User-Agent") or "")
            status, headers, body = site.handle(method, self.path, form, f"http://{host}")
            try:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the crawler gave up on the slow page first; that is the point of it

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("demo site: " + format, *args)

    return Handler


def make_server(host: str, port: int, site: DemoSite | None = None) -> ThreadingHTTPServer:
    """Return an HTTP server for SITE (a fresh `DemoSite` by default) bound to HOST:PORT."""
    server = ThreadingHTTPServer((host, port), _handler(site or DemoSite()))
    server.daemon_threads = True
    return server


@contextmanager
def start_demo_site(
    host: str = "127.0.0.1", port: int = 0, site: DemoSite | None = None
) -> Iterator[tuple[str, DemoSite]]:
    """Serve the demo site in a background thread; yield its base URL and the site."""
    site = site or DemoSite()
    server = make_server(host, port, site)
    thread = threading.Thread(target=server.serve_forever, name="demo-site", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}", site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
