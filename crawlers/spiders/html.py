"""HTML boards and forums: list pages with paging, then one detail page per post."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from parsel import Selector, SelectorList
from scrapy.http import Response

from crawlers.spiders.base import GONE, SourceSpider


def select(sel: Selector | Response, spec: str) -> SelectorList[Selector]:
    """Apply a registry selector (`css:…`, `xpath:…` or bare CSS) to SEL."""
    if spec.startswith("xpath:"):
        return sel.xpath(spec.removeprefix("xpath:"))
    return sel.css(spec.removeprefix("css:"))


def first(sel: Selector | Response, spec: str | None) -> str:
    """Return the first match of SPEC in SEL, stripped, or an empty string."""
    if not spec:
        return ""
    return (select(sel, spec).get() or "").strip()


class HtmlBoardSpider(SourceSpider):
    """Follow list pages and their next-page links; read each post from its detail page."""

    kind = "html"

    def parse(self, response: Response, page_no: int = 1) -> Iterator[Any]:
        page = self.text_page(response)
        if page is None:
            self.list_unread(response)
            return
        spec = self.source.options["list"]
        rows = select(page, spec["rows"])
        if not rows:
            self.bad_input("bad_html", response.url, "no list rows")
            self.list_unread(response)
            return
        pattern = re.compile(self.source.options["id_pattern"])
        list_key = self.list_key(response)
        listing = self.paging.page(list_key)
        for row in rows:
            href = first(row, spec["link"])
            match = pattern.search(page.urljoin(href)) if href else None
            if match is None:
                self.bad_input("bad_record", response.url, "list row without a post link")
                continue
            listed = {key: first(row, spec.get(key)) for key in ("title", "author", "posted_at")}
            posted_at = self.when(listed["posted_at"], response.url)
            if self.admit(match.group(1), posted_at, listing):
                yield self.detail(page.urljoin(href), match.group(1), listed)
        next_page = first(page, spec.get("next_page"))
        if next_page and self.paging.more(listing, page_no):
            yield self.list_request(
                page.urljoin(next_page), self.parse, list_key, cb_kwargs={"page_no": page_no + 1}
            )

    def detail(self, url: str, source_id: str, listed: dict[str, str]) -> Any:
        """Return the request of a post's detail page (LISTED: what its list row said)."""
        return self.post_request(
            url,
            self.parse_detail,
            source_id,
            {"url": url, "source_id": source_id, "listed": listed},
            meta={"handle_httpstatus_list": list(GONE)},
            cb_kwargs={"source_id": source_id, "listed": listed},
        )

    def retry_request(self, data: dict[str, Any]) -> Any:
        if not data.get("url") or not data.get("source_id"):
            return None
        return self.detail(data["url"], str(data["source_id"]), dict(data.get("listed") or {}))

    def parse_detail(
        self, response: Response, source_id: str, listed: dict[str, str]
    ) -> Iterator[Any]:
        if response.status in GONE:
            self.crawler.stats.inc_value("qiuzhu/pages")
            yield self.item(
                source_id,
                response.url,
                title=listed["title"],
                author=listed["author"],
                posted_at=self.when(listed["posted_at"], response.url),
                deleted=True,
                raw={"status": response.status, "listed": listed},
            )
            return
        retry = self.request_meta(response).get("qiuzhu_retry")
        page = self.text_page(response)
        if page is None:
            self.post_failed(source_id, retry)
            return
        fields = self.source.options["fields"]
        text = "\n".join(select(page, fields["text"]).getall())
        if not text.strip():
            self.bad_input("bad_html", response.url, "no post text where the registry says")
            self.post_failed(source_id, retry)
            return
        images = select(page, fields["images"]).getall() if fields.get("images") else []
        yield self.item(
            source_id,
            response.url,
            title=first(page, fields.get("title")) or listed["title"],
            author=first(page, fields.get("author")) or listed["author"],
            posted_at=self.when(
                first(page, fields.get("posted_at")) or listed["posted_at"], response.url
            ),
            text=text,
            images=[page.urljoin(src) for src in images],
            raw={"html": page.text},
        )
