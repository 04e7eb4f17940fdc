"""Weibo super-topics and searches through the mobile API shape (`container/getIndex`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from scrapy.http import Response
from twisted.python.failure import Failure

from crawlers.items import HelpRequest
from crawlers.spiders.base import SourceSpider, dig

DEFAULT_STATUS_URL = "https://m.weibo.cn/detail/{id}"


def with_since_id(url: str, since_id: object) -> str:
    """Return URL with its `since_id` query parameter set to SINCE_ID."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "since_id"]
    query.append(("since_id", str(since_id)))
    return urlunsplit(parts._replace(query=urlencode(query)))


def mblogs(cards: Any) -> Iterator[dict[str, Any]]:
    """Yield the `mblog` of every post card (type 9), also inside card groups."""
    for card in cards if isinstance(cards, list) else ():
        if not isinstance(card, dict):
            continue
        if card.get("card_type") == 9 and isinstance(card.get("mblog"), dict):
            yield card["mblog"]
        yield from mblogs(card.get("card_group"))


class WeiboSpider(SourceSpider):
    """Page a container by `since_id`; fetch long posts; yield reposts with their original."""

    kind = "weibo"

    def parse(self, response: Response, page_no: int = 1) -> Iterator[Any]:
        page = self.text_page(response)
        if page is None:
            return
        try:
            doc = json.loads(page.text)
        except ValueError:
            self.bad_input("bad_json", response.url)
            return
        if not isinstance(doc, dict) or doc.get("ok") != 1:
            self.bad_input("api_error", response.url)
            return
        past_mark = False
        for blog in mblogs(dig(doc, "data.cards")):
            for out in self.from_mblog(blog, response.url):
                if out is None:
                    past_mark = True
                else:
                    yield out
        since_id = dig(doc, "data.cardlistInfo.since_id")
        max_pages = self.source.options.get("max_pages")
        if since_id and not past_mark and (max_pages is None or page_no < max_pages):
            yield self.request(
                with_since_id(response.url, since_id),
                self.parse,
                cb_kwargs={"page_no": page_no + 1},
            )

    def from_mblog(self, blog: dict[str, Any], list_url: str) -> Iterator[Any]:
        """Yield the post (and its original, for a repost); None marks a post past the mark."""
        post_id = blog.get("idstr") or blog.get("id")
        if not post_id:
            self.bad_input("bad_record", list_url, "post without id")
            return
        posted_at = self.when(blog.get("created_at"), list_url)
        if self.too_old(posted_at):
            yield None
            return
        original = blog.get("retweeted_status")
        if isinstance(original, dict):
            yield from (o for o in self.from_mblog(original, list_url) if o is not None)
        item = self.item(
            post_id,
            self.source.options.get("status_url", DEFAULT_STATUS_URL).format(id=post_id),
            text=str(blog.get("text") or ""),
            author=str(dig(blog, "user.screen_name") or ""),
            posted_at=posted_at,
            images=[
                str(dig(pic, "large.url") or pic.get("url"))
                for pic in blog.get("pics") or []
                if isinstance(pic, dict)
            ],
            repost_of=str((original or {}).get("id") or "") if isinstance(original, dict) else "",
            raw=blog,
        )
        if blog.get("isLongText"):
            url = self.source.options["long_text_url"].format(id=post_id)
            yield self.request(
                url, self.parse_long, errback=self.long_text_failed, cb_kwargs={"item": item}
            )
            return
        yield item

    def parse_long(self, response: Response, item: HelpRequest) -> Iterator[HelpRequest]:
        page = self.text_page(response)
        text = None
        if page is not None:
            try:
                text = dig(json.loads(page.text), "data.longTextContent")
            except ValueError:
                self.bad_input("bad_json", response.url)
        if text:
            item.text = str(text)
        yield item

    def long_text_failed(self, failure: Failure) -> Iterator[HelpRequest]:
        """Keep the truncated post when its full text cannot be fetched."""
        self.on_error(failure)
        yield failure.request.cb_kwargs["item"]  # type: ignore[attr-defined]
