"""Item pipeline stage: index analysed help requests in batches, deduplicated against the backlog.

Items wait in a buffer; every INGEST_BATCH of them are clustered among themselves
(`classify.clusterer.Clusterer`) and written through `index.backlog.write_batch`, which links
them to duplicates anywhere in the backlog. Per item the outcome is counted in
`qiuzhu/indexed/new|updated|unchanged|spooled|duplicates`. When Elasticsearch does not
answer, the batch goes to the spool (`qiuzhu index replay` and every ingest send it
again): nothing is lost. On a graceful stop (SIGTERM) the batch being written finishes
and what is still buffered is spooled at once.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.statscollectors import StatsCollector

from classify.dedup import same_episode
from crawlers.items import HelpRequest
from pipeline.incremental import items_durable, items_held
from pipeline.tagging import NOT_CONFIGURED, analysed, indexing_enabled
from qiuzhu import settings as qiuzhu_settings
from qiuzhu.errors import InvalidInput, Unavailable

log = logging.getLogger(__name__)

OUTCOMES = ("new", "updated", "unchanged", "spooled", "duplicates", "deleted")


def clustered_docs(posts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the crawled parts of analysed POSTS, duplicates within them sharing a cluster."""
    from classify.clusterer import Clusterer
    from classify.dedup import text_signature
    from index.documents import crawled_part

    clusterer = Clusterer()
    # The analysis remembered each post's signature (`classify.dedup.text_signature`).
    slots = [clusterer.add(post, text_signature(post.get("text") or "")) for post in posts]
    assignments = clusterer.assignments()
    docs = []
    for post, slot in zip(posts, slots, strict=True):
        doc = crawled_part(post)
        doc["cluster"] = assignments[slot][0]
        docs.append(doc)
    return docs


class IndexingPipeline:
    """Buffer analysed items and write them to the backlog in batches; spool what fails."""

    def __init__(
        self, crawler: Crawler, stats: StatsCollector, batch_size: int, report_dir: str
    ) -> None:
        self.crawler = crawler
        self.stats = stats
        self.batch_size = max(1, batch_size)
        self.report_dir = Path(report_dir) if report_dir else None
        self.posts: list[dict[str, Any]] = []
        #: The item ids of `posts`, in the same order.
        self.post_ids: list[str] = []
        self.deleted: list[str] = []
        self.client: Any = None
        self.names: Any = None
        self.spool: Any = None
        self._warned: set[str] = set()
        #: Blocking keys too common to look up, learnt batch after batch (`clusters.assign`).
        self.stop_keys: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IndexingPipeline:
        if not indexing_enabled(crawler.settings):
            raise NotConfigured(NOT_CONFIGURED)
        batch = crawler.settings.getint("QIUZHU_INGEST_BATCH", qiuzhu_settings.get("INGEST_BATCH"))
        report_dir = crawler.settings.get("QIUZHU_INDEX_REPORT_DIR", "")
        return cls(crawler, crawler.stats, batch, report_dir)

    def open_spider(self) -> None:
        from index.admin import ensure
        from index.bulk import Spool
        from index.client import make_client
        from index.mapping import names

        # One line per request to Elasticsearch is noise in a crawl log.
        logging.getLogger("elastic_transport").setLevel(logging.WARNING)
        self.client = make_client()
        self.names = names()
        self.spool = Spool()
        try:
            ensure(self.client, self.names)
        except Unavailable:
            self._warn_once("down", "Elasticsearch does not answer; requests will be spooled")
        for outcome in OUTCOMES:
            self.stats.set_value(f"qiuzhu/indexed/{outcome}", 0)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, HelpRequest):
            return item
        from index.documents import crawled_part

        post = analysed(item)
        if post is None:
            self._warn_once("untagged", "items reach indexing unanalysed: enable TaggingPipeline")
            self.stats.inc_value("qiuzhu/dropped/not_analysed")
            raise DropItem("not_analysed")
        if item.deleted and not item.text:
            # Deleted at its source (404/410): the backlog keeps the request and its text
            # from earlier crawls, marked deleted.
            self.deleted.append(item.id)
            self._signal(items_held, [item.id])
            return item
        try:
            crawled_part(post)
        except InvalidInput:
            self.stats.inc_value("qiuzhu/dropped/not_indexable")
            raise DropItem("not_indexable") from None
        self.posts.append(post)
        self.post_ids.append(item.id)
        self._signal(items_held, [item.id])
        if len(self.posts) >= self.batch_size:
            self.flush()
        return item

    def flush(self) -> None:
        """Cluster the buffered posts, write them with dedup against the backlog, count."""
        from index.backlog import write_batch
        from index.bulk import BulkReport, update_action

        self._flush_deleted()
        posts, self.posts = self.posts, []
        ids, self.post_ids = self.post_ids, []
        if not posts:
            return
        docs = clustered_docs(posts)
        own = {doc["id"]: post["cluster"] for doc, post in zip(docs, posts, strict=True)}
        try:
            report = write_batch(
                self.client, self.names, docs, self.spool, same_episode, self.stop_keys
            )
        except Exception as exc:  # whatever failed, the batch must reach the spool
            self._warn_once(
                type(exc).__name__, f"writing a batch failed ({type(exc).__name__}); spooled"
            )
            self.spool.append((update_action(self.names.requests, d), "error") for d in docs)
            report = BulkReport(spooled=len(docs))
        if report.unreachable:
            self._warn_once("down", "Elasticsearch stopped answering; requests are spooled")
        self.stats.inc_value("qiuzhu/indexed/new", report.created)
        self.stats.inc_value("qiuzhu/indexed/updated", report.updated)
        self.stats.inc_value("qiuzhu/indexed/unchanged", report.unchanged)
        self.stats.inc_value("qiuzhu/indexed/spooled", report.spooled)
        duplicates = sum(1 for doc in docs if doc["cluster"] != own[doc["id"]])
        self.stats.inc_value("qiuzhu/indexed/duplicates", duplicates)
        self._signal(items_durable, ids)

    def _flush_deleted(self) -> None:
        from index.backlog import mark_deleted

        ids, self.deleted = self.deleted, []
        if not ids:
            return
        try:
            report = mark_deleted(self.client, self.names, ids, self.spool)
        except Exception as exc:  # the marks must reach the spool whatever failed
            from index.bulk import mark_action

            self._warn_once(type(exc).__name__, "marking deleted requests failed; spooled")
            self.spool.append(
                (mark_action(self.names.requests, rid, {"deleted": True}), "error") for rid in ids
            )
            self._signal(items_durable, ids)
            return
        self.stats.inc_value("qiuzhu/indexed/deleted", len(ids) - report.missing - report.spooled)
        self.stats.inc_value("qiuzhu/indexed/spooled", report.spooled)
        self._signal(items_durable, ids)

    def spool_rest(self, reason: str) -> None:
        """Send the buffered posts and deletion marks to the spool without writing them."""
        from index.bulk import mark_action, update_action
        from index.documents import crawled_part

        posts, self.posts = self.posts, []
        ids, self.post_ids = self.post_ids, []
        deleted, self.deleted = self.deleted, []
        if deleted:
            marks = [mark_action(self.names.requests, rid, {"deleted": True}) for rid in deleted]
            self.spool.append((mark, reason) for mark in marks)
            self.stats.inc_value("qiuzhu/indexed/spooled", len(deleted))
            self._signal(items_durable, deleted)
        if posts:
            docs = [crawled_part(post) for post in posts]
            self.spool.append((update_action(self.names.requests, d), reason) for d in docs)
            self.stats.inc_value("qiuzhu/indexed/spooled", len(docs))
            self._signal(items_durable, ids)
            log.warning("stopping: %d buffered request(s) spooled", len(docs))

    def close_spider(self) -> None:
        # `crawling` turns false when a stop was asked for (SIGTERM, SIGINT): the batch
        # being written has finished by now; the rest goes to the spool, not to a slow write.
        if self.crawler.crawling:
            self.flush()
        else:
            self.spool_rest("shutdown")
        if self.report_dir is not None and self.crawler.spider is not None:
            self._write_report(self.report_dir / f"{self.crawler.spider.name}.index.json")
        if self.client is not None:
            self.client.close()

    def _signal(self, signal: object, ids: list[str]) -> None:
        self.crawler.signals.send_catch_log(signal=signal, ids=ids)

    def _write_report(self, path: Path) -> None:
        counts = {o: int(self.stats.get_value(f"qiuzhu/indexed/{o}", 0)) for o in OUTCOMES}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(counts), encoding="utf-8")
        tmp.replace(path)

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning("%s", message)
