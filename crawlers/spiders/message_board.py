"""Official message boards: a JSON list endpoint paged by POST form, then a detail endpoint."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from scrapy.http import FormRequest, Response

from crawlers.items import NOT_REPLIED, REPLIED
from crawlers.spiders.base import GONE, SourceSpider, dig

DEFAULT_REPLY_STATES = {"1": REPLIED, "true": REPLIED, "0": NOT_REPLIED, "false": NOT_REPLIED}


class MessageBoardSpider(SourceSpider):
    """Page the list by form POST until a short page; fetch each message's detail."""

    kind = "message_board"

    async def start(self) -> AsyncIterator[Any]:
        for url in self.source.start_urls:
            yield self.list_request(url, 1)

    def list_request(self, url: str, page_no: int) -> FormRequest:
        """Return the POST request for list page PAGE_NO."""
        form = self.source.options["form"]
        data = {
            **form.get("extra", {}),
            form["page_field"]: str(page_no),
            form["size_field"]: str(form["page_size"]),
        }
        return FormRequest(
            url,
            formdata=data,
            callback=self.parse,
            errback=self.on_error,
            cb_kwargs={"page_no": page_no},
            dont_filter=page_no == 1,
        )

    def _json(self, response: Response) -> Any:
        page = self.text_page(response)
        if page is None:
            return None
        try:
            return json.loads(page.text)
        except ValueError:
            self.bad_input("bad_json", response.url)
            return None

    def parse(self, response: Response, page_no: int = 1) -> Iterator[Any]:
        doc = self._json(response)
        if doc is None:
            return
        rows = dig(doc, self.source.options["items_path"])
        if not isinstance(rows, list):
            self.bad_input("bad_json", response.url, "no list where items_path points")
            return
        fields = self.source.options["fields"]
        past_mark = False
        for row in rows:
            post_id = dig(row, fields["id"])
            if post_id in (None, ""):
                self.bad_input("bad_record", response.url, "message without id")
                continue
            posted_at = self.when(dig(row, fields.get("posted_at", "")), response.url)
            if self.too_old(posted_at):
                past_mark = True
                continue
            yield self.request(
                self.source.options["detail_url"].format(id=post_id),
                self.parse_detail,
                meta={"handle_httpstatus_list": list(GONE)},
                cb_kwargs={"source_id": str(post_id), "listed": row},
            )
        if len(rows) >= self.source.options["form"]["page_size"] and not past_mark:
            yield self.list_request(response.url, page_no + 1)

    def _fields(self, record: Any, url: str) -> dict[str, Any]:
        fields = self.source.options["fields"]
        states = {**DEFAULT_REPLY_STATES, **self.source.options.get("reply_states", {})}
        state = dig(record, fields.get("reply_state", ""))
        return {
            "title": str(dig(record, fields.get("title", "")) or ""),
            "author": str(dig(record, fields.get("author", "")) or ""),
            "posted_at": self.when(dig(record, fields.get("posted_at", "")), url),
            "reply_state": states.get(str(state).lower(), str(state)) if state is not None else "",
        }

    def parse_detail(self, response: Response, source_id: str, listed: Any) -> Iterator[Any]:
        if response.status in GONE:
            self.crawler.stats.inc_value("qiuzhu/pages")
            yield self.item(
                source_id,
                response.url,
                deleted=True,
                raw={"status": response.status, "listed": listed},
                **self._fields(listed, response.url),
            )
            return
        doc = self._json(response)
        if doc is None:
            return
        record = dig(doc, self.source.options.get("detail_path", ""))
        if not isinstance(record, dict):
            self.bad_input("bad_json", response.url, "no record where detail_path points")
            return
        text = dig(record, self.source.options["fields"]["text"])
        yield self.item(
            source_id,
            response.url,
            text=str(text or ""),
            raw=record,
            **self._fields(record, response.url),
        )
