"""Shared fixtures: a real Elasticsearch node for the whole session, and a private backlog.

The session starts its own node (port 9250 by default, folder var/es/node-9250) unless
QIUZHU_TEST_ES_URLS names a running cluster. Each test that asks for `backlog` gets its own
index prefix and spool folder, and its indices are deleted afterwards; nothing here ever
touches the demo's or a user's indices.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

TEST_HTTP_PORT = int(os.environ.get("QIUZHU_TEST_ES_PORT", "9250"))


@pytest.fixture(scope="session")
def es_urls() -> Iterator[str]:
    """Return the URL(s) of a real Elasticsearch, starting a local node when needed."""
    given = os.environ.get("QIUZHU_TEST_ES_URLS")
    if given:
        yield given
        return
    from index import distribution, node

    saved = {k: os.environ.get(k) for k in ("QIUZHU_ES_HTTP_PORT", "QIUZHU_ES_TRANSPORT_PORT")}
    os.environ["QIUZHU_ES_HTTP_PORT"] = str(TEST_HTTP_PORT)
    os.environ["QIUZHU_ES_TRANSPORT_PORT"] = str(TEST_HTTP_PORT + 100)
    try:
        distribution.fetch()
        was_running = node.health(f"http://127.0.0.1:{TEST_HTTP_PORT}") is not None
        specs = node.start(1)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    yield specs[0].url
    if not was_running:
        node.stop(specs=specs)


@pytest.fixture(scope="session")
def es_client(es_urls: str) -> Iterator[Elasticsearch]:
    """Return a client for the session's Elasticsearch."""
    from index.client import make_client

    client = make_client(es_urls.split(","))
    yield client
    client.close()


@dataclass
class Backlog:
    """A private backlog for one test: its client, index names and spool folder."""

    client: Elasticsearch
    prefix: str
    spool_dir: Path

    @property
    def names(self):  # type: ignore[no-untyped-def]
        from index.mapping import names

        return names(self.prefix)

    def refresh(self) -> None:
        self.client.indices.refresh(index=f"{self.prefix}-*")

    def count(self) -> int:
        self.refresh()
        return int(self.client.count(index=self.names.requests)["count"])

    def ids(self) -> list[str]:
        self.refresh()
        from elasticsearch import helpers

        return sorted(
            h["_id"]
            for h in helpers.scan(
                self.client,
                index=self.names.requests,
                query={"query": {"match_all": {}}},
                _source=False,
            )
        )


@pytest.fixture
def backlog(
    es_client: Elasticsearch, es_urls: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Backlog]:
    """Give the test its own index prefix and spool, pointed at the session's cluster."""
    from index.admin import drop, ensure
    from index.mapping import names

    prefix = f"qiuzhu-test-{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("QIUZHU_ES_URLS", es_urls)
    monkeypatch.setenv("QIUZHU_INDEX_PREFIX", prefix)
    monkeypatch.setenv("QIUZHU_SPOOL_DIR", str(tmp_path / "spool"))
    ensure(es_client, names(prefix))
    yield Backlog(es_client, prefix, tmp_path / "spool")
    drop(es_client, names(prefix))
