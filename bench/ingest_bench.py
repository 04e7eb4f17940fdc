"""Measure end-to-end ingest against raw Elasticsearch bulk indexing, in one run.

For each size (default 10k and 100k generated posts) this runs the whole pipeline
— analyze (classify) → dedup against the growing backlog → bulk index — into a
bench index, and records posts/s and the peak memory of this process. It then sends the
same final documents, read back from that index, into a fresh index with
`helpers.streaming_bulk` alone and records that rate, so the ratio compares like with like
on the same machine in the same run. Nothing is asserted: the script prints figures.

The posts are generated into a JSON-lines file first (not timed), as the raw side reads
its documents from one: the pipeline is timed from reading that input to the last write.
Analysis runs in a pool of worker processes (`--workers`, default 2) two write batches ahead
of the writer, so both cores are busy; each worker sends back the posts it analysed and their
MinHash signatures, which the writer remembers instead of computing them again. Each
write batch is clustered in memory first, as the crawl pipeline does
(`pipeline.indexing.clustered_docs`). The rate is also recorded every
tenth of the run, against the backlog size reached (`segments`).

Run: .venv/bin/python -m bench.ingest_bench [--sizes 10000,100000] [--workers 2] [--batch 2000]
     [--json out.json]
Needs a running Elasticsearch at QIUZHU_ES_URLS (`qiuzhu es start`). The bench indices
(prefix qiuzhu-bench-ingest) are deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from elasticsearch import Elasticsearch, helpers

from bench.generator import posts
from classify.analyze import analyze_post, analyze_posts
from classify.dedup import remember_signature, same_episode, text_signature
from index import admin
from index.backlog import write_docs
from index.bulk import Spool
from index.client import make_client, require
from index.mapping import REQUEST_MAPPING, Names, index_body, names
from pipeline.indexing import clustered_docs

#: Posts per write batch: per-batch costs (an index refresh, six round trips) shrink per post
#: with size; 2,000 analysed posts are a few MB. The crawl pipeline uses INGEST_BATCH.
BATCH = 2000
#: Posts a worker analyses per task.
CHUNK = 100


@dataclass
class IngestFigures:
    """One size's figures."""

    posts: int
    pipeline_seconds: float
    pipeline_rate: float
    analyze_seconds: float
    write_seconds: float
    peak_rss_mb: float
    raw_seconds: float
    raw_rate: float
    ratio: float
    clusters: int
    workers: int = 0
    #: CPU seconds of the analysis workers (0 when analysis ran in the writer)
    analyze_cpu: float = 0.0
    #: CPU seconds of the writer process (dedup decisions, batch clustering, bulk encoding)
    writer_cpu: float = 0.0
    peak_worker_rss_mb: float = 0.0
    #: CPU seconds of the Elasticsearch node(s) during the pipeline (all their work)
    es_cpu: float = 0.0
    #: documents Elasticsearch indexed into the backlog per post (creates and updates)
    index_ops_per_post: float = 0.0
    #: [backlog size, posts/s over the last tenth of the run] pairs
    segments: list[list[float]] = field(default_factory=list)


class _Timed:
    """Wrap a post stream and count the seconds spent producing (analyzing) it."""

    def __init__(self, stream: Iterator[dict[str, Any]]) -> None:
        self.stream = stream
        self.seconds = 0.0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            began = time.perf_counter()
            try:
                item = next(self.stream)
            except StopIteration:
                return
            finally:
                self.seconds += time.perf_counter() - began
            yield item


def _warm() -> None:
    analyze_post({"id": "warm-up", "text": "武汉市江岸区 求助 需要床位"})


def _analyze_chunk(lines: list[bytes]) -> list[tuple[dict[str, Any], bytes]]:
    """Analyse input LINES; return each post with its signature, for the writer process."""
    posts = analyze_posts(orjson.loads(line) for line in lines)
    return [(post, text_signature(post["text"]).tobytes()) for post in posts]


def analyzed(
    lines: Iterable[bytes], workers: int, chunk: int = CHUNK, ahead: int | None = None
) -> Iterator[dict[str, Any]]:
    """Yield the posts of input LINES analysed by WORKERS processes, in order.

    AHEAD chunks are in flight (two per worker unless given: the bench gives two write
    batches' worth, so the workers go on while the writer waits for Elasticsearch); a
    million posts never sit in memory.
    With no workers, posts are analysed in this process.
    """
    if workers <= 0:
        yield from analyze_posts(orjson.loads(line) for line in lines)
        return
    lines_in = iter(lines)
    # Fork after the warm-up, so the workers share jieba's dictionary and the gazetteer.
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pending: deque[multiprocessing.pool.AsyncResult[list[tuple[dict[str, Any], bytes]]]]
        pending = deque()

        def submit() -> None:
            if part := list(islice(lines_in, chunk)):
                pending.append(pool.apply_async(_analyze_chunk, (part,)))

        for _ in range(ahead or 2 * workers):
            submit()
        while pending:
            done = pending.popleft().get()
            submit()
            for post, sig in done:
                remember_signature(post["text"], np.frombuffer(sig, dtype=np.uint32))
                yield post


def generate(path: Path, size: int, seed: int) -> Path:
    """Write SIZE generated posts to PATH as JSON lines; return PATH."""
    with path.open("wb") as out:
        for post in posts(size, seed=seed):
            out.write(orjson.dumps(post) + b"\n")
    return path


def _clustered(posts: Iterable[dict[str, Any]], size: int) -> Iterator[dict[str, Any]]:
    """Yield the crawled parts of POSTS, each SIZE clustered in memory as the pipeline does."""
    it = iter(posts)
    while batch := list(islice(it, size)):
        yield from clustered_docs(batch)


class _Segments:
    """Count posts passing by and note the rate over each tenth of the run."""

    def __init__(self, stream: Iterable[dict[str, Any]], size: int, batch: int) -> None:
        self.stream = stream
        self.step = max(batch, size // 10)
        self.rows: list[list[float]] = []

    def __iter__(self) -> Iterator[dict[str, Any]]:
        began = time.perf_counter()
        for count, item in enumerate(self.stream, 1):
            yield item
            if count % self.step == 0:
                now = time.perf_counter()
                self.rows.append([count, round(self.step / (now - began), 1)])
                began = now


def _raw_bulk(client: Elasticsearch, source: Names, target: str, spill: Path) -> tuple[float, int]:
    """Index the final documents of SOURCE into TARGET with streaming_bulk alone."""
    with spill.open("wb") as out:
        for hit in helpers.scan(
            client, index=source.requests, query={"query": {"match_all": {}}}, size=1000
        ):
            out.write(orjson.dumps({"_id": hit["_id"], "_source": hit["_source"]}) + b"\n")
    client.indices.create(index=target, **index_body(REQUEST_MAPPING, "requests"))

    def actions() -> Iterator[dict[str, Any]]:
        with spill.open("rb") as fh:
            for line in fh:
                doc = orjson.loads(line)
                yield {"_index": target, "_id": doc["_id"], "_source": doc["_source"]}

    began = time.perf_counter()
    count = sum(
        ok for ok, _ in helpers.streaming_bulk(client, actions(), chunk_size=500, max_retries=5)
    )
    client.indices.refresh(index=target)
    return time.perf_counter() - began, count


def _es_cpu(client: Elasticsearch) -> float:
    """Return the CPU seconds the cluster's nodes have used since they started."""
    nodes = client.nodes.stats(metric="process")["nodes"].values()
    return sum(n["process"]["cpu"]["total_in_millis"] for n in nodes) / 1000


def _index_ops(client: Elasticsearch, index: str) -> int:
    stats = client.indices.stats(index=index, metric="indexing")
    return int(stats["_all"]["primaries"]["indexing"]["index_total"])


def run_size(
    client: Elasticsearch,
    size: int,
    seed: int,
    workdir: Path,
    workers: int = 2,
    batch: int = BATCH,
) -> IngestFigures:
    """Measure one size: the whole pipeline, then raw bulk of the same documents."""
    backlog = names(f"qiuzhu-bench-ingest-{size}")
    admin.drop(client, backlog)
    admin.ensure(client, backlog)
    spool = Spool(workdir / f"spool-{size}")
    source = generate(workdir / f"posts-{size}.jsonl", size, seed)
    _warm()  # load jieba and the gazetteer
    cpu = time.process_time()
    es_cpu = _es_cpu(client)
    with source.open("rb") as lines:
        waited = _Timed(analyzed(lines, workers, ahead=max(2 * workers, -(-2 * batch // CHUNK))))
        segments = _Segments(_clustered(waited, batch), size, batch)
        began = time.perf_counter()
        report = write_docs(client, backlog, segments, spool, same_episode, batch_size=batch)
        client.indices.refresh(index=backlog.requests)
        pipeline = time.perf_counter() - began
        writer_cpu = time.process_time() - cpu
        es_cpu = _es_cpu(client) - es_cpu
        index_ops = _index_ops(client, backlog.requests)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    if report.spooled:
        print(f"warning: {report.spooled} posts were spooled", file=sys.stderr)
    clusters = client.search(
        index=backlog.requests, size=0, aggs={"c": {"cardinality": {"field": "cluster"}}}
    )["aggregations"]["c"]["value"]
    raw_index = f"{backlog.prefix}-raw"
    raw_seconds, raw_count = _raw_bulk(client, backlog, raw_index, workdir / f"raw-{size}.jsonl")
    admin.drop(client, backlog)
    return IngestFigures(
        posts=size,
        pipeline_seconds=round(pipeline, 2),
        pipeline_rate=round(size / pipeline, 1),
        analyze_seconds=round(waited.seconds, 2),
        write_seconds=round(pipeline - waited.seconds, 2),
        peak_rss_mb=round(peak / 2**20, 1),
        raw_seconds=round(raw_seconds, 2),
        raw_rate=round(raw_count / raw_seconds, 1),
        ratio=round((size / pipeline) / (raw_count / raw_seconds), 3),
        clusters=int(clusters),
        workers=workers,
        analyze_cpu=round(children.ru_utime + children.ru_stime, 1),
        writer_cpu=round(writer_cpu - (waited.seconds if workers <= 0 else 0.0), 1),
        peak_worker_rss_mb=round(children.ru_maxrss / 1024, 1),
        segments=segments.rows,
        es_cpu=round(es_cpu, 1),
        index_ops_per_post=round(index_ops / size, 3),
    )


def format_table(rows: list[IngestFigures]) -> str:
    """Return the figures as a Markdown table."""
    lines = [
        "| posts | pipeline posts/s | raw bulk docs/s | ratio | waiting for analysis s "
        "| dedup+write s | analysis CPU s (workers) | writer CPU s | Elasticsearch CPU s "
        "| writes/post | peak RSS MB (writer / worker) | clusters |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.posts:,} | {r.pipeline_rate:,.0f} | {r.raw_rate:,.0f} | "
            f"{r.ratio:.2f} | {r.analyze_seconds:,.1f} | {r.write_seconds:,.1f} | "
            f"{r.analyze_cpu:,.0f} ({r.workers}) | {r.writer_cpu:,.0f} | {r.es_cpu:,.0f} | "
            f"{r.index_ops_per_post:.2f} | "
            f"{r.peak_rss_mb:,.0f} / {r.peak_worker_rss_mb:,.0f} | {r.clusters:,} |"
        )
    return "\n".join(lines)


def format_segments(rows: list[IngestFigures]) -> str:
    """Return the pipeline rate against the backlog size reached, as a Markdown table."""
    lines = ["| run | backlog size | posts/s over the last tenth |", "|---:|---:|---:|"]
    for r in rows:
        lines.extend(f"| {r.posts:,} | {int(n):,} | {rate:,.0f} |" for n, rate in r.segments)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[IngestFigures]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="10000,100000",
        help="Comma-separated post counts, e.g. 10000,100000,1000000.",
    )
    parser.add_argument("--seed", type=int, default=2020, help="Generator seed.")
    parser.add_argument("--json", type=Path, help="Also write the figures to this JSON file.")
    parser.add_argument(
        "--workers", type=int, default=2, help="Analysis processes (0: analyse in the writer)."
    )
    parser.add_argument(
        "--batch", type=int, default=BATCH, help="Posts per write batch (INGEST_BATCH)."
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        client = make_client(request_timeout=120)
        require(client)
        with tempfile.TemporaryDirectory(prefix="qiuzhu-bench-") as tmp:
            row = run_size(client, args.one, args.seed, Path(tmp), args.workers, args.batch)
        print(json.dumps(asdict(row)))
        return [row]
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        # One process per size, so each peak memory figure is that size's own.
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.ingest_bench",
                "--one",
                str(size),
                "--seed",
                str(args.seed),
                "--workers",
                str(args.workers),
                "--batch",
                str(args.batch),
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode:
            # The run's own error: its last lines (a traceback, Elasticsearch's answer).
            print(done.stderr[-5000:], file=sys.stderr)
            raise SystemExit(f"the {size:,}-post run failed (exit {done.returncode})")
        rows.append(IngestFigures(**json.loads(done.stdout.strip().splitlines()[-1])))
        print(format_table(rows[-1:]).splitlines()[-1], flush=True)
    print(format_table(rows))
    print(format_segments(rows))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2))
    return rows


if __name__ == "__main__":
    main()
