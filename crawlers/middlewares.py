"""Downloader middleware: wait before a retry, longer each time (Scrapy retries at once)."""

from __future__ import annotations

import asyncio

from scrapy.crawler import Crawler
from scrapy.http import Request


class RetryBackoffMiddleware:
    """Delay the Nth retry of a request by QIUZHU_RETRY_BACKOFF * 2**(N-1) seconds, capped."""

    def __init__(self, base: float, cap: float) -> None:
        self.base = base
        self.cap = cap

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryBackoffMiddleware:
        settings = crawler.settings
        return cls(
            settings.getfloat("QIUZHU_RETRY_BACKOFF"), settings.getfloat("QIUZHU_RETRY_BACKOFF_MAX")
        )

    async def process_request(self, request: Request) -> None:
        tries = int(request.meta.get("retry_times", 0))
        if tries > 0 and self.base > 0:
            await asyncio.sleep(min(self.cap, self.base * 2 ** (tries - 1)))
