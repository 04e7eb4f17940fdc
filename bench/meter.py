"""Latency and CPU of concurrent clients, for the search benchmark (`bench.search_bench`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psutil


def measure(
    fn: Callable[[dict[str, Any]], None],
    queries: list[dict[str, Any]],
    clients: int,
    per_client: int,
) -> list[float]:
    """Run FN over QUERIES (in turn) from CLIENTS threads; return every latency in ms."""
    times: list[float] = []
    lock = threading.Lock()

    def worker(offset: int) -> None:
        mine = []
        for i in range(per_client):
            query = queries[(offset + i) % len(queries)]
            began = time.perf_counter()
            fn(query)
            mine.append((time.perf_counter() - began) * 1000)
        with lock:
            times.extend(mine)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times


class Meter:
    """CPU seconds spent by Elasticsearch, the API server's processes and this client."""

    def __init__(self, client: Any, server: psutil.Process, index: str) -> None:
        self.client = client
        self.server = server
        self.index = index
        self.es_procs: list[psutil.Process] | None = None

    def _shard(self) -> float:
        # Time the bench index's shards spent searching: unlike the node's CPU, no other
        # user of the shared node adds to it.
        search = self.client.indices.stats(index=self.index, metric="search")["_all"]["primaries"][
            "search"
        ]
        return (search["query_time_in_millis"] + search["fetch_time_in_millis"]) / 1000

    def _es(self) -> float:
        # The node's own figure is refreshed only every second or so: read the process's
        # CPU times directly when the node runs on this machine.
        if self.es_procs is None:
            info = self.client.nodes.info(metric="process")["nodes"].values()
            pids = [n["process"]["id"] for n in info]
            try:
                self.es_procs = [psutil.Process(pid) for pid in pids]
            except psutil.Error:
                self.es_procs = []
        if self.es_procs:
            return sum(sum(p.cpu_times()[:2]) for p in self.es_procs)
        nodes = self.client.nodes.stats(metric="process")["nodes"].values()
        return sum(n["process"]["cpu"]["total_in_millis"] for n in nodes) / 1000

    def _api(self) -> float:
        total = 0.0
        for proc in [self.server, *self.server.children(recursive=True)]:
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def read(self) -> dict[str, float]:
        return {
            "es": self._es(),
            "shard": self._shard(),
            "api": self._api(),
            "bench": time.process_time(),
        }


def metered(
    meter: Meter,
    fn: Callable[[dict[str, Any]], None],
    queries: list[dict[str, Any]],
    clients: int,
    per_client: int,
) -> tuple[list[float], float, dict[str, float]]:
    """Return `measure`'s latencies, its wall seconds and the CPU seconds each part spent."""
    before = meter.read()
    began = time.perf_counter()
    times = measure(fn, queries, clients, per_client)
    wall = time.perf_counter() - began
    after = meter.read()
    return times, wall, {k: after[k] - before[k] for k in before}


def pct(values: list[float], p: float) -> float:
    """Return the P-th percentile of VALUES (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]
