"""A 3-node cluster: losing a node mid-ingest, and ingest split across processes by source.

Every test checks that the backlog holds each request exactly once (count and ids).
"""

from __future__ import annotations

import itertools
import shutil

import pytest
from fixtures_crawl import demo_server_fixture, run_crawl  # noqa: F401
from test_ingest_reliability import SOURCES, ingest_env, start_ingest

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


@pytest.fixture(scope="module")
def cluster():
    """Start three nodes of their own on loopback; stop them and remove their folders after."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QIUZHU_ES_HTTP_PORT", str(PORT))
        patch.setenv("QIUZHU_ES_TRANSPORT_PORT", str(PORT + 100))
        patch.setenv("QIUZHU_INDEX_REPLICAS", "1")
        patch.setenv("QIUZHU_INDEX_SHARDS", "3")
        specs = node.node_specs(3)
        for spec in specs:
            shutil.rmtree(spec.home, ignore_errors=True)
        node.start(3)
        yield specs
        node.stop(specs=specs)
        for spec in specs:
            shutil.rmtree(spec.home, ignore_errors=True)


@pytest.fixture(scope="module")
def demo_ids(demo_server, tmp_path_factory):
    """Return the ids of the demo sources' posts that the backlog holds (with text)."""
    result = run_crawl(demo_server, tmp_path_factory.mktemp("reference"), *SOURCES)
    assert result.returncode == 0, result.log[-2000:]
    return {item["id"] for source in SOURCES for item in result.of(source) if item["text"]}


@pytest.mark.slow
@pytest.mark.serial
def test_two_ingest_processes_on_disjoint_sources_share_the_cluster(
    cluster, demo_server, demo_ids, tmp_path
):
    """Machines split the sources between them (`--sources`) and write to one cluster."""
    urls = ",".join(s.url for s in cluster)
    prefix = "qiuzhu-test-split"
    env = ingest_env(
        demo_server.url, tmp_path / "var", QIUZHU_ES_URLS=urls, QIUZHU_INDEX_PREFIX=prefix
    )
    shares = [SOURCES[:1], SOURCES[1:]]
    procs = [
        start_ingest(env, tmp_path / f"run-{i}.log", "--sources", ",".join(share))
        for i, share in enumerate(shares)
    ]
    codes = [proc.wait(timeout=300) for proc in procs]
    logs = [(tmp_path / f"run-{i}.log").read_text()[-2000:] for i in range(len(shares))]
    assert codes == [0, 0], logs
    client = make_client(urls.split(","))
    backlog = names(prefix)
    client.indices.refresh(index=backlog.requests)
    want = demo_ids
    hits = client.search(index=backlog.requests, size=1000, source=False, query={"match_all": {}})[
        "hits"
    ]["hits"]
    assert sorted(h["_id"] for h in hits) == sorted(want)
    settings_ = client.indices.get_settings(index=backlog.requests)
    assert {v["settings"]["index"]["number_of_replicas"] for v in settings_.values()} == {"1"}
    admin.drop(client, backlog)


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
    want = {f"gen-{p['source'].removeprefix('gen-')}:{p['id']}" for p in posts(1200, seed=11)}
    assert client.count(index=backlog.requests)["count"] == 1200
    found = run_search(client, backlog, Filters(), collapse=False, size=1, facets=True)
    assert found.total == 1200
    ids = {
        h["_id"]
        for h in client.search(
            index=backlog.requests, size=1200, source=False, query={"match_all": {}}
        )["hits"]["hits"]
    }
    assert ids == want
    # Search still answers, duplicates are grouped, and facets count on two nodes.
    critical = run_search(client, backlog, Filters(urgency=["critical"]))
    assert critical.total > 0 and critical.clusters < found.total
