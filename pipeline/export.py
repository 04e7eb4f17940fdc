"""Item pipeline stage: append each help request as one JSON line (`qiuzhu crawl -o`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawlers.items import HelpRequest


class JsonLinesExportPipeline:
    """Append items to a JSONL file, one `HelpRequest.to_dict()` a line.

    Several sources crawled in one process append to the same file; each line is
    flushed whole so lines never interleave.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: IO[str] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> JsonLinesExportPipeline:
        output = crawler.settings.get("QIUZHU_OUTPUT")
        if not output:
            raise NotConfigured("set QIUZHU_OUTPUT (`qiuzhu crawl -o FILE`) to export items")
        pipe = cls(Path(output))
        crawler.signals.connect(pipe.spider_closed, signal=signals.spider_closed)
        return pipe

    def open_spider(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = self.path.open("a", encoding="utf-8")

    def process_item(self, item: Any) -> Any:
        if self.file is not None and isinstance(item, HelpRequest):
            self.file.write(json.dumps(item.to_dict(), ensure_ascii=False) + "\n")
            self.file.flush()
        return item

    def spider_closed(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
