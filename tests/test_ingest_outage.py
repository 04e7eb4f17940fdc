"""Elasticsearch stopped in the middle of `qiuzhu ingest`, on a node of the test's own.

The run finishes and spools what it could not write; once the node is back, the next run
replays the spool (and sends the first run's record); the backlog then holds every
request exactly once. The session's node is never touched.
"""

import os
import socket
import uuid

import pytest
from fixtures_crawl import demo_server_fixture, run_crawl  # noqa: F401
from test_ingest_reliability import (
    SOURCES,
    count_now,
    ingest_env,
    run_ingest,
    start_ingest,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.serial]


def _free(port):
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def own_node(monkeypatch):
    """Start a one-node cluster on a free port in 9271-9279; stop it at the end."""
    from index import node

    port = next((p for p in range(9271, 9280) if _free(p) and _free(p + 100)), None)
    assert port is not None, "no free port pair in 9271-9279"
    monkeypatch.setenv("QIUZHU_ES_HTTP_PORT", str(port))
    monkeypatch.setenv("QIUZHU_ES_TRANSPORT_PORT", str(port + 100))
    monkeypatch.delenv("QIUZHU_VAR_DIR", raising=False)
    specs = node.start(1)
    yield specs
    node.stop(specs=specs)


def test_elasticsearch_stopped_mid_run_loses_and_doubles_nothing(
    own_node, demo_server, tmp_path, monkeypatch
):
    from test_ingest_reliability import run_records

    from index import node
    from index.admin import drop, ensure
    from index.client import make_client
    from index.mapping import names

    url = own_node[0].url
    prefix = f"qiuzhu-test-{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("QIUZHU_ES_URLS", url)
    monkeypatch.setenv("QIUZHU_INDEX_PREFIX", prefix)
    monkeypatch.setenv("QIUZHU_SPOOL_DIR", str(tmp_path / "spool"))
    client = make_client([url], max_retries=0)
    backlog = names(prefix)
    ensure(client, backlog)
    reference = run_crawl(demo_server, tmp_path / "reference", *SOURCES)
    want = sorted(item["id"] for item in reference.items if item["text"])
    env = ingest_env(demo_server.url, tmp_path / "var", QIUZHU_INGEST_PROCESSES=1)
    args = ("--sources", ",".join(SOURCES[::-1]), "-s", "DOWNLOAD_DELAY=0.2")
    try:
        proc = start_ingest(env, tmp_path / "first.log", *args)
        wait_for(lambda: count_now(client, backlog.requests) > 0, 120, "a first batch")
        node.stop(specs=own_node)
        assert proc.wait(timeout=240) == 0
        first = (tmp_path / "first.log").read_text()
        assert "Elasticsearch did not take the run record" in first
        spooled = sum(
            sum(1 for line in path.read_text().splitlines() if line.strip())
            for path in (tmp_path / "spool").glob("spool-*.jsonl")
        )
        assert spooled > 0, first[-3000:]
        assert list((tmp_path / "var" / "ingest" / "runs").glob("*.unsent"))

        node.start(1)
        code, second = run_ingest(env, tmp_path / "second.log", *args)
        assert code == 0, second[-3000:]
        assert f"Replaying {spooled} spooled request(s)" in second

        client.indices.refresh(index=backlog.requests)
        from elasticsearch import helpers

        ids = sorted(
            hit["_id"] for hit in helpers.scan(client, index=backlog.requests, _source=False)
        )
        assert ids == want
        assert client.count(index=backlog.requests)["count"] == len(want)
        records = run_records(client, backlog)
        assert len(records) == 2
        oldest = records[-1]
        assert oldest["totals"]["spooled"] > 0 and oldest["status"] == "succeeded"
        # Every spooled action was replayed: requests written, and the deletion mark of a
        # post the backlog never held (deleted at its source before any crawl saw it).
        replayed = records[0]["replay"]
        assert replayed["written"] + replayed["missing"] == spooled
        assert replayed["spooled"] == 0
        assert not list((tmp_path / "var" / "ingest" / "runs").glob("*.unsent"))
    finally:
        if node.health(url) is not None:
            drop(client, backlog)
        client.close()
        os.environ.pop("QIUZHU_INDEX_PREFIX", None)
