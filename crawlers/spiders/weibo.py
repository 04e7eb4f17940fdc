"""Weibo super-topics and searches through the mobile API shape (`container/getIndex`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from scrapy.http import Response
from twisted.python.failure import Failure

from crawlers.dates import SHANGHAI
from crawlers.items import HelpRequest
from crawlers.paging import ListPage
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
    """Page a container by `since_id`; fetch long posts; yield reposts with their original.

    A long post whose full text cannot be fetched is emitted with the shortened text the
    list holds, marked `truncated`, and its full text is asked for again by the next runs.
    """

    kind = "weibo"

    def parse(self, response: Response, page_no: int = 1) -> Iterator[Any]:
        page = self.text_page(response)
        if page is None:
            self.list_unread(response)
            return
        try:
            doc = json.loads(page.text)
        except ValueError:
            self.bad_input("bad_json", response.url)
            self.list_unread(response)
            return
        if not isinstance(doc, dict) or doc.get("ok") != 1:
            self.bad_input("api_error", response.url)
            self.list_unread(response)
            return
        list_key = self.list_key(response)
        listing = self.paging.page(list_key)
        for blog in mblogs(dig(doc, "data.cards")):
            yield from self.from_mblog(blog, response.url, list_key, listing)
        since_id = dig(doc, "data.cardlistInfo.since_id")
        if since_id and self.paging.more(listing, page_no):
            yield self.list_request(
                with_since_id(response.url, since_id),
                self.parse,
                list_key,
                cb_kwargs={"page_no": page_no + 1},
            )

    def from_mblog(
        self, blog: dict[str, Any], list_url: str, list_key: str, listing: ListPage | None = None
    ) -> Iterator[Any]:
        """Yield the post (and its original, for a repost), unless it is old or met already.

        LISTING is the list page the post is a row of (None for an original inside a repost).
        """
        post_id = blog.get("idstr") or blog.get("id")
        if not post_id:
            self.bad_input("bad_record", list_url, "post without id")
            return
        posted_at = self.when(blog.get("created_at"), list_url)
        if not self.admit(post_id, posted_at, listing, list_key):
            return
        original = blog.get("retweeted_status")
        if isinstance(original, dict):
            yield from self.from_mblog(original, list_url, list_key)
        long = bool(blog.get("isLongText"))
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
            # The list holds the first lines only, until the full text comes back.
            truncated=long,
        )
        if long:
            yield self.long_text(item)
            return
        yield item

    def long_text(self, item: HelpRequest) -> Any:
        """Return the request of ITEM's full text."""
        url = self.source.options["long_text_url"].format(id=item.source_id)
        return self.request(
            url, self.parse_long, errback=self.long_text_failed, cb_kwargs={"item": item}
        )

    def retry_request(self, data: dict[str, Any]) -> Any:
        try:
            item = HelpRequest.from_dict(dict(data["item"]))
        except (KeyError, TypeError, ValueError):
            return None
        item.crawled_at = datetime.now(SHANGHAI)
        return self.long_text(item)

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
            item.truncated = False
            self.settled.add(item.id)
        else:
            self.keep_truncated(item)
        yield item

    def long_text_failed(self, failure: Failure) -> Iterator[HelpRequest]:
        """Keep the truncated post when its full text cannot be fetched, marked `truncated`."""
        self.on_error(failure)
        item = failure.request.cb_kwargs["item"]  # type: ignore[attr-defined]
        self.keep_truncated(item)
        yield item

    def keep_truncated(self, item: HelpRequest) -> None:
        """Count ITEM as truncated and keep it for the next run to fetch its full text."""
        self.post_failed(item.source_id, {"item": item.to_dict()}, outcome="truncated")
