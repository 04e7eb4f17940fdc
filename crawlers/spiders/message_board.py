"""Official message boards: a JSON list endpoint paged by POST form, then a detail endpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from scrapy.http import FormRequest, Response

from crawlers.items import NOT_REPLIED, REPLIED
from crawlers.spiders.base import GONE, SourceSpider, dig

DEFAULT_REPLY_STATES = {"1": REPLIED, "true": REPLIED, "0": NOT_REPLIED, "false": NOT_REPLIED}


def field_value(record: Any, path: str | None) -> Any:
    """Return the value at PATH in RECORD, or None when the registry maps no such field."""
    return dig(record, path) if path else None


class MessageBoardSpider(SourceSpider):
    """Page the list by form POST until an empty or repeated page; fetch each message's detail.

    A field the detail record lacks (or leaves empty) is taken from the message's list
    record, as the html kind takes it from the list row: lists often carry the title and
    reply state, details the text.
    """

    kind = "message_board"

    def first_page(self, url: str) -> FormRequest:
        return self.page_request(url, 1)

    def page_request(self, url: str, page_no: int) -> FormRequest:
        """Return the POST request for list page PAGE_NO of the list at URL."""
        form = self.source.options["form"]
        data = {**form.get("extra", {}), form["page_field"]: str(page_no)}
        if form.get("size_field"):
            data[form["size_field"]] = str(form["page_size"])
        return FormRequest(
            url,
            formdata=data,
            callback=self.parse,
            errback=self.on_error,
            cb_kwargs={"page_no": page_no},
            meta={"qiuzhu_list": url},
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
            self.list_unread(response)
            return
        rows = dig(doc, self.source.options["items_path"])
        if not isinstance(rows, list):
            self.bad_input("bad_json", response.url, "no list where items_path points")
            self.list_unread(response)
            return
        fields = self.source.options["fields"]
        list_url = self.list_key(response)
        listing = self.paging.page(list_url)
        for row in rows:
            post_id = dig(row, fields["id"])
            if post_id in (None, "") or isinstance(post_id, dict | list):
                self.bad_input("bad_record", response.url, "message without id")
                continue
            posted_at = self.when(field_value(row, fields.get("posted_at")), response.url)
            if self.admit(post_id, posted_at, listing):
                yield self.detail(str(post_id), row)
        # A short page is no end: a site may serve fewer than the size asked for.
        if self.paging.more(listing, page_no):
            yield self.page_request(list_url, page_no + 1)

    def detail(self, source_id: str, listed: Any) -> Any:
        """Return the request of a message's detail (LISTED: its list record)."""
        url = self.source.options["detail_url"].format(id=source_id)
        return self.post_request(
            url,
            self.parse_detail,
            source_id,
            {"source_id": source_id, "listed": listed},
            meta={"handle_httpstatus_list": list(GONE)},
            cb_kwargs={"source_id": source_id, "listed": listed},
        )

    def retry_request(self, data: dict[str, Any]) -> Any:
        if not data.get("source_id"):
            return None
        return self.detail(str(data["source_id"]), data.get("listed") or {})

    def _fields(self, record: Any, listed: Any, url: str) -> dict[str, Any]:
        """Return the item fields of RECORD, each falling back on the list record LISTED."""
        fields = self.source.options["fields"]

        def value(name: str) -> Any:
            path = fields.get(name)
            found = field_value(record, path)
            return found if found not in (None, "") else field_value(listed, path)

        states = {**DEFAULT_REPLY_STATES, **self.source.options.get("reply_states", {})}
        state = value("reply_state")
        return {
            "title": str(value("title") or ""),
            "author": str(value("author") or ""),
            "posted_at": self.when(value("posted_at"), url),
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
                **self._fields({}, listed, response.url),
            )
            return
        retry = self.request_meta(response).get("qiuzhu_retry")
        doc = self._json(response)
        if doc is None:
            self.post_failed(source_id, retry)
            return
        record = dig(doc, self.source.options.get("detail_path", ""))
        if not isinstance(record, dict):
            self.bad_input("bad_json", response.url, "no record where detail_path points")
            self.post_failed(source_id, retry)
            return
        text = field_value(record, self.source.options["fields"]["text"])
        yield self.item(
            source_id,
            response.url,
            text=str(text or ""),
            raw={"detail": record, "listed": listed},
            **self._fields(record, listed, response.url),
        )
