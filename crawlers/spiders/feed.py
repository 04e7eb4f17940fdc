"""RSS 2.0 and Atom feeds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lxml import etree
from parsel import Selector
from scrapy.http import Response
from scrapy.selector import Selector as ResponseSelector

from crawlers.spiders.base import SourceSpider

# Only to tell a well-formed feed from a broken one; never resolves entities or fetches.
_STRICT = etree.XMLParser(resolve_entities=False, no_network=True)


class FeedSpider(SourceSpider):
    """Read every entry of an RSS or Atom feed."""

    kind = "feed"

    def parse(self, response: Response) -> Iterator[Any]:
        page = self.text_page(response)
        if page is None:
            self.list_unread(response)
            return
        try:
            etree.fromstring(page.body, _STRICT)
        except etree.XMLSyntaxError:
            # Count it, then keep what the recovering parser can still read.
            self.bad_input("bad_xml", response.url)
        sel = ResponseSelector(response=page, type="xml")
        sel.remove_namespaces()
        entries = sel.xpath("//item | //entry")
        if not entries:
            self.bad_input("no_entries", response.url)
        for entry in entries:
            yield from self.from_entry(entry, page.urljoin, response.url, self.list_key(response))

    def from_entry(
        self, entry: Selector, urljoin: Any, feed_url: str, list_key: str = ""
    ) -> Iterator[Any]:
        """Yield the item of one `<item>` or `<entry>`."""
        link = entry.xpath("link/@href").get() or entry.xpath("link/text()").get() or ""
        entry_id = entry.xpath("guid/text()").get() or entry.xpath("id/text()").get() or link
        if not entry_id.strip():
            self.bad_input("bad_record", feed_url, "entry without guid, id or link")
            return
        body = (
            entry.xpath("encoded/text()").get()
            or entry.xpath("content/text()").get()
            or entry.xpath("description/text()").get()
            or entry.xpath("summary/text()").get()
            or ""
        )
        stamp = (
            entry.xpath("pubDate/text()").get()
            or entry.xpath("published/text()").get()
            or entry.xpath("updated/text()").get()
            or entry.xpath("date/text()").get()
        )
        posted_at = self.when(stamp, feed_url)
        if not self.admit(entry_id.strip(), posted_at, list_key=list_key):
            return
        images = entry.xpath("enclosure[starts-with(@type, 'image')]/@url").getall()
        if body:
            images += Selector(text=body).css("img::attr(src)").getall()
        yield self.item(
            entry_id.strip(),
            urljoin(link.strip()) if link.strip() else feed_url,
            title=(entry.xpath("title/text()").get() or "").strip(),
            text=body,
            author=(
                entry.xpath("author/name/text()").get()
                or entry.xpath("author/text()").get()
                or entry.xpath("creator/text()").get()
                or ""
            ).strip(),
            posted_at=posted_at,
            images=[urljoin(src) for src in images],
            raw={"xml": entry.get()},
        )
