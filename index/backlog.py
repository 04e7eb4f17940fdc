"""Write a batch of analysed requests into the backlog: dedup against it, index, re-cluster.

This is the one write path that `qiuzhu load`, the crawl pipeline, ingestion and replay all
share, so every request is treated the same way whichever door it came in by.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch, helpers

from index import bulk, cluster_summary, clusters, corrections
from index.bulk import Action, BulkReport, Spool
from index.client import answering
from index.documents import crawled_part
from index.mapping import Names
from qiuzhu.errors import Unavailable

log = logging.getLogger(__name__)


def write_batch(
    client: Elasticsearch,
    names: Names,
    docs: list[dict[str, Any]],
    spool: Spool | None = None,
    same_episode: clusters.SameEpisode | None = None,
    stop_keys: set[str] | None = None,
) -> BulkReport:
    """Index DOCS (crawled parts), first linking them to duplicates already in the backlog.

    Without SAME_EPISODE, the clusters the documents carry are kept as they are. When
    Elasticsearch stops answering, what was not written is spooled, never lost. STOP_KEYS
    (see `clusters.assign`) is best kept from one batch of a run to the next.
    """
    spool = spool or Spool()
    if not docs:
        return BulkReport()
    try:
        # Dispatchers' corrections first: they decide urgency and place, which dedup and
        # the cluster summaries read.
        corrections.apply(client, names, docs)
        if same_episode is not None:
            found = clusters.assign(client, names, docs, same_episode, stop_keys)
        else:
            found = clusters.Assignment()
        # Moves come first: the summaries below must count the members they bring.
        if found.absorbed:
            # Every earlier batch ended with a refresh that published its posts' clusters;
            # only summary fields may have changed since.
            clusters.move_members(client, names, found.absorbed, refreshed=True)
            with answering(client):
                client.indices.refresh(index=names.requests)
        members, later = cluster_summary.prepare(
            client, names, _stale(docs, found, same_episode is None), docs
        )
    except Unavailable:
        report = BulkReport(unreachable=True)
        report.spool_file = spool.append(
            (bulk.update_action(names.requests, d), "unreachable") for d in docs
        )
        report.spooled = len(docs)
        report.errors["unreachable"] = len(docs)
        log.warning(
            "Elasticsearch stopped answering; %d request(s) spooled to %s",
            len(docs),
            report.spool_file,
        )
        return report
    for doc in docs:
        # After `assign`: the card lists the keys the document stores.
        doc["dedup_card"] = clusters.card_of(doc)
    if found.known is not None:
        new = {d["id"] for d in docs} - found.known
    else:
        try:
            new = _absent(client, names, docs)
        except Unavailable:
            new = set()
    report = bulk.write(client, _actions(names, docs, new), spool)
    if report.unreachable:
        return report
    try:
        with answering(client):
            if members:
                helpers.bulk(client, members, raise_on_error=True)
        if later:
            clusters.refresh(client, names, later)
        else:
            # The next batch looks for its duplicates with a search, which only sees
            # what a refresh has published: publish this batch now, not within a second.
            with answering(client):
                client.indices.refresh(index=names.requests)
    except Unavailable:
        # Cluster sizes are derived: the next write or replay touching them recomputes them.
        log.warning("Elasticsearch stopped answering before cluster sizes were updated")
    return report


def _stale(docs: list[dict[str, Any]], found: clusters.Assignment, every: bool) -> set[str]:
    """Return the clusters whose summary the batch DOCS change (EVERY: all of theirs)."""
    sizes = Counter(d["cluster"] for d in docs)
    if every:
        return set(sizes)
    carried: dict[str, int] = {}  # cluster -> the largest size a batch post carries
    for doc in docs:
        size = int(doc.get("cluster_size") or 1)
        if size > carried.get(doc["cluster"], 0):
            carried[doc["cluster"]] = size
    # A new post alone in its cluster already carries the right size, canonical flag and
    # urgency; only clusters with several members need their summary computed.
    several = {c for c, n in sizes.items() if n > 1 or n < carried[c]}
    return several | found.joined | set(found.absorbed.values())


def _absent(client: Elasticsearch, names: Names, docs: list[dict[str, Any]]) -> set[str]:
    """Return the ids of DOCS not in the backlog yet (a realtime get: no refresh needed)."""
    with answering(client):
        found = client.mget(index=names.requests, ids=[d["id"] for d in docs], source=False)
    return {d["_id"] for d in found["docs"] if not d.get("found")}


def _actions(names: Names, docs: list[dict[str, Any]], new: set[str]) -> Iterator[Action]:
    for doc in docs:
        if doc["id"] in new:
            yield bulk.create_action(names.requests, doc)
        else:
            yield bulk.update_action(names.requests, doc)


def mark_deleted(
    client: Elasticsearch, names: Names, request_ids: list[str], spool: Spool | None = None
) -> BulkReport:
    """Mark requests deleted at their source; they stay in the backlog, with their text.

    A post that answers 404 or 410 now was often removed under pressure, not resolved: the
    dispatcher still needs it. Ids not in the backlog are counted as `missing`.
    """
    now = datetime.now(UTC).isoformat()
    actions = (
        bulk.mark_action(names.requests, rid, {"deleted": True, "crawled_at": now})
        for rid in request_ids
    )
    return bulk.write(client, actions, spool or Spool())


def reconcile(
    client: Elasticsearch,
    names: Names,
    since: str,
    same_episode: clusters.SameEpisode,
    batch_size: int = 500,
) -> int:
    """Link the requests crawled since SINCE to duplicates written beside them.

    Crawl processes of one run write in parallel; two copies of a request written in the
    same second by two processes could not see each other. Run after the crawls, this
    compares every request crawled since SINCE with the whole backlog again. Returns how
    many requests changed cluster.
    """
    with answering(client):
        client.indices.refresh(index=names.requests)
        hits = helpers.scan(
            client,
            index=names.requests,
            query={"query": {"range": {"crawled_at": {"gte": since}}}},
            _source=clusters.CANDIDATE_FIELDS,
            size=batch_size,
        )
        moved = 0
        batch: list[dict[str, Any]] = []
        for hit in hits:
            batch.append(clusters.as_post(hit["_source"]))
            if len(batch) >= batch_size:
                moved += _relink(client, names, batch, same_episode)
                batch = []
        moved += _relink(client, names, batch, same_episode)
    return moved


def _relink(
    client: Elasticsearch,
    names: Names,
    posts: list[dict[str, Any]],
    same_episode: clusters.SameEpisode,
) -> int:
    if not posts:
        return 0
    before = {p["id"]: p["cluster"] for p in posts}
    found = clusters.assign(client, names, posts, same_episode)
    changed = {p["id"]: p["cluster"] for p in posts if p["cluster"] != before[p["id"]]}
    if not changed and not found.absorbed:
        return 0
    helpers.bulk(
        client,
        (
            bulk.mark_action(names.requests, rid, {"cluster": cluster})
            for rid, cluster in changed.items()
        ),
        raise_on_error=True,
    )
    clusters.move_members(client, names, found.absorbed)
    clusters.refresh(
        client, names, set(changed.values()) | set(before.values()) | set(found.absorbed.values())
    )
    return len(changed)


def write_docs(
    client: Elasticsearch,
    names: Names,
    docs: Iterable[dict[str, Any]],
    spool: Spool | None = None,
    same_episode: clusters.SameEpisode | None = None,
    batch_size: int = 500,
) -> BulkReport:
    """Index crawled parts DOCS (see `documents.crawled_part`) in batches.

    The next batch is read from DOCS (parsed, analysed, clustered: whatever the iterator
    does) in a thread while this one is written, most of which is waiting for
    Elasticsearch. An error raised by DOCS reaches the caller after the batches before it
    were written.
    """
    total = BulkReport()
    spool = spool or Spool()
    stop_keys: set[str] = set()
    with _Prefetched(docs, batch_size) as batches:
        for batch in batches:
            total.merge(write_batch(client, names, batch, spool, same_episode, stop_keys))
    return total


#: Seconds a write that failed waits for the batch reader to stop before raising.
_READER_GRACE = 5.0


class _Prefetched:
    """Batches of an iterable, the next one read by a thread while the caller uses this one.

    Reading stops when the caller leaves the `with` block, early or not.
    """

    _END = object()

    def __init__(self, items: Iterable[dict[str, Any]], size: int) -> None:
        self._items = items
        self._size = max(1, size)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="qiuzhu-batches", daemon=True)

    def __enter__(self) -> Iterator[list[dict[str, Any]]]:
        self._thread.start()
        return self._batches()

    def __exit__(self, *exc: object) -> None:
        # Normally the reader is done; after an error it stops at its next batch.
        self._stop.set()
        self._thread.join(timeout=_READER_GRACE)

    def _put(self, value: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _read(self) -> None:
        batch: list[dict[str, Any]] = []
        try:
            for item in self._items:
                batch.append(item)
                if len(batch) >= self._size:
                    if not self._put(batch):
                        return
                    batch = []
            # An empty last batch still goes: write_batch returns at once on it.
            if self._put(batch):
                self._put(self._END)
        except BaseException as exc:  # handed to the caller's thread, raised there
            self._put(_Failed(exc))

    def _batches(self) -> Iterator[list[dict[str, Any]]]:
        while True:
            value = self._queue.get()
            if value is self._END:
                return
            if isinstance(value, _Failed):
                raise value.error
            yield value


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def write_posts(
    client: Elasticsearch,
    names: Names,
    posts: Iterable[dict[str, Any]],
    spool: Spool | None = None,
    same_episode: clusters.SameEpisode | None = None,
    batch_size: int = 500,
) -> BulkReport:
    """Index analysed POSTS (the `qiuzhu analyze` format) in batches."""
    docs = (crawled_part(post) for post in posts)
    return write_docs(client, names, docs, spool, same_episode, batch_size)


def replay(
    client: Elasticsearch,
    names: Names,
    spool: Spool | None = None,
    same_episode: clusters.SameEpisode | None = None,
) -> BulkReport:
    """Send every spooled request again through `write_batch` (dedup included)."""

    def send(actions: list[Action], retry_spool: Spool) -> BulkReport:
        docs = [d for a in actions if (d := bulk.crawled_of(a)) is not None]
        others = [a for a in actions if bulk.crawled_of(a) is None]
        report = write_batch(client, names, docs, retry_spool, same_episode)
        if others:
            report.merge(bulk.write(client, others, retry_spool))
        return report

    return bulk.replay(client, spool, send=send)
