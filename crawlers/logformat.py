"""Scrapy's log messages without the items: a help request's text never reaches a log.

Scrapy's own `LogFormatter` writes every scraped item in full at DEBUG ("Scraped from
..."), and every dropped or failing item with it: post text, phone numbers, names and a
forum's raw HTML. Here scraped items are not logged at all (the crawl report counts them),
and a dropped or failing item is named by its source and id only.
"""

from __future__ import annotations

import logging
from typing import Any

from itemadapter import ItemAdapter
from scrapy import Spider
from scrapy.http import Response
from scrapy.logformatter import LogFormatter, LogFormatterResult
from twisted.python.failure import Failure


def _label(item: Any) -> str:
    """Return how a log line names ITEM: its source and id, never its content."""
    try:
        adapter = ItemAdapter(item)
    except TypeError:  # not an item type Scrapy knows
        return type(item).__name__
    source, ident = adapter.get("source"), adapter.get("source_id") or adapter.get("id")
    return f"{source or 'unknown'}:{ident or '?'}"


class PrivateLogFormatter(LogFormatter):
    """Log scraped, dropped and failing items by their id alone (the LOG_FORMATTER)."""

    def scraped(  # type: ignore[override]
        self, item: Any, response: Response | Failure | None, spider: Spider
    ) -> LogFormatterResult | None:
        """Log nothing: the crawl report counts the items."""
        return None

    def dropped(
        self,
        item: Any,
        exception: BaseException,
        response: Response | Failure | None,
        spider: Spider,
    ) -> LogFormatterResult:
        """Log the reason and the item's id (DropItem reasons are codes, never text)."""
        result = super().dropped(item, exception, response, spider)
        return {
            "level": result["level"],
            "msg": "Dropped %(item)s: %(exception)s",
            "args": {"item": _label(item), "exception": exception},
        }

    def item_error(
        self,
        item: Any,
        exception: BaseException,
        response: Response | Failure | None,
        spider: Spider,
    ) -> LogFormatterResult:
        """Log which item failed; the traceback follows, its numbers masked."""
        return {
            "level": logging.ERROR,
            "msg": "Error processing %(item)s",
            "args": {"item": _label(item)},
        }
