"""Write a batch of analysed requests into the backlog: dedup against it, index, re-cluster.

This is the one write path that `qiuzhu load`, the crawl pipeline, ingestion and replay all
share, so every request is treated the same way whichever door it came in by.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from elasticsearch import Elasticsearch

from index import bulk, clusters
from index.bulk import Action, BulkReport, Spool
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
) -> BulkReport:
    """Index DOCS (crawled parts), first linking them to duplicates already in the backlog.

    Without SAME_EPISODE, the clusters the documents carry are kept as they are. When
    Elasticsearch stops answering, what was not written is spooled, never lost.
    """
    spool = spool or Spool()
    if not docs:
        return BulkReport()
    try:
        if same_episode is not None:
            absorbed = clusters.assign(client, names, docs, same_episode)
        else:
            absorbed = set()
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
    report = bulk.write(client, (bulk.update_action(names.requests, d) for d in docs), spool)
    if report.unreachable:
        return report
    try:
        moves: dict[str, str] = {}
        if absorbed:
            moves = _absorbed_targets(docs, absorbed, client, names)
            clusters.move_members(client, names, moves)
        clusters.refresh(client, names, {d["cluster"] for d in docs} | set(moves.values()))
    except Unavailable:
        # Cluster sizes are derived: the next write or replay touching them recomputes them.
        log.warning("Elasticsearch stopped answering before cluster sizes were updated")
    return report


def _absorbed_targets(
    docs: list[dict[str, Any]], absorbed: set[str], client: Elasticsearch, names: Names
) -> dict[str, str]:
    # A batch document that sat in an absorbed cluster now names the surviving one; every
    # other member of the absorbed cluster follows it there.
    from index.client import answering

    moves: dict[str, str] = {}
    with answering(client):
        found = client.mget(index=names.requests, ids=[d["id"] for d in docs], source=["cluster"])[
            "docs"
        ]
    before = {d["_id"]: d["_source"]["cluster"] for d in found if d.get("found")}
    for doc in docs:
        old = before.get(doc["id"])
        if old in absorbed and old != doc["cluster"]:
            moves[old] = doc["cluster"]
    return moves


def write_posts(
    client: Elasticsearch,
    names: Names,
    posts: Iterable[dict[str, Any]],
    spool: Spool | None = None,
    same_episode: clusters.SameEpisode | None = None,
    batch_size: int = 500,
) -> BulkReport:
    """Index analysed POSTS (the `qiuzhu analyze` format) in batches."""
    total = BulkReport()
    batch: list[dict[str, Any]] = []
    for post in posts:
        batch.append(crawled_part(post))
        if len(batch) >= batch_size:
            total.merge(write_batch(client, names, batch, spool, same_episode))
            batch = []
    total.merge(write_batch(client, names, batch, spool, same_episode))
    return total


def replay(
    client: Elasticsearch,
    names: Names,
    spool: Spool | None = None,
    same_episode: clusters.SameEpisode | None = None,
) -> BulkReport:
    """Send every spooled request again through `write_batch` (dedup included)."""

    def send(actions: list[Action], retry_spool: Spool) -> BulkReport:
        docs = [a["doc"] for a in actions if a.get("_op_type") == "update" and "doc" in a]
        others = [a for a in actions if not (a.get("_op_type") == "update" and "doc" in a)]
        report = write_batch(client, names, docs, retry_spool, same_episode)
        if others:
            report.merge(bulk.write(client, others, retry_spool))
        return report

    return bulk.replay(client, spool, send=send)
