"""A 3-node cluster that loses a node in the middle of an ingest keeps every request once."""

from __future__ import annotations

import itertools
import shutil

import pytest

from bench.generator import posts
from classify.analyze import analyze_post
from classify.dedup import same_episode
from index import admin, node
from index.backlog import replay, write_posts
from index.bulk import Spool
from index.client import make_client
from index.mapping import names
from index.search import Filters, run_search

PORT = 9290


@pytest.fixture
def cluster(monkeypatch):
    """Start three nodes of their own on loopback; stop them and remove their folders after."""
    monkeypatch.setenv("QIUZHU_ES_HTTP_PORT", str(PORT))
    monkeypatch.setenv("QIUZHU_ES_TRANSPORT_PORT", str(PORT + 100))
    monkeypatch.setenv("QIUZHU_INDEX_REPLICAS", "1")
    monkeypatch.setenv("QIUZHU_INDEX_SHARDS", "3")
    specs = node.node_specs(3)
    for spec in specs:
        shutil.rmtree(spec.home, ignore_errors=True)
    node.start(3)
    yield specs
    node.stop(specs=specs)
    for spec in specs:
        shutil.rmtree(spec.home, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.serial
def test_losing_a_node_mid_ingest_loses_and_doubles_nothing(cluster, tmp_path):
    client = make_client([s.url for s in cluster], max_retries=3, request_timeout=30)
    backlog = names("qiuzhu-test-cluster")
    admin.ensure(client, backlog)
    health = client.cluster.health(index=backlog.requests, wait_for_status="green", timeout="60s")
    assert health["number_of_nodes"] == 3 and health["status"] == "green"
    spool = Spool(tmp_path / "spool")
    stream = (analyze_post(p) for p in posts(1200, seed=11))
    first = write_posts(client, backlog, itertools.islice(stream, 600), spool, same_episode)
    assert first.spooled == 0
    node.kill(cluster[2])  # as a crash would: no goodbye to the cluster
    second = write_posts(client, backlog, stream, spool, same_episode)
    # Whatever could not be written while the cluster recovered waits in the spool.
    assert second.written + second.spooled == 600
    client.cluster.health(index=backlog.requests, wait_for_status="yellow", timeout="60s")
    replayed = replay(client, backlog, spool, same_episode)
    assert spool.pending() == 0
    assert replayed.spooled == 0
    client.indices.refresh(index=backlog.requests)
    expected = {f"gen-{p['source'].removeprefix('gen-')}:{p['id']}" for p in posts(1200, seed=11)}
    assert client.count(index=backlog.requests)["count"] == 1200
    found = run_search(client, backlog, Filters(), collapse=False, size=1, facets=True)
    assert found.total == 1200
    ids = {
        h["_id"]
        for h in client.search(
            index=backlog.requests, size=1200, source=False, query={"match_all": {}}
        )["hits"]["hits"]
    }
    assert ids == expected
    # Search still answers, duplicates are grouped, and facets count on two nodes.
    critical = run_search(client, backlog, Filters(urgency=["critical"]))
    assert critical.total > 0 and critical.clusters < found.total
