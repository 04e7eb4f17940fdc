"""The one way qiuzhu opens an Elasticsearch client, and turns "down" into a clear error."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, Elasticsearch
from elasticsearch.serializer import OrjsonSerializer

from qiuzhu import settings
from qiuzhu.errors import Unavailable

T = TypeVar("T")

#: The client type, for packages that must not import elasticsearch themselves (api/).
Client = Elasticsearch


def make_client(urls: list[str] | None = None, **kwargs: Any) -> Elasticsearch:
    """Return a client for URLS (default: the ES_URLS setting)."""
    options: dict[str, Any] = {
        "request_timeout": settings.get("ES_REQUEST_TIMEOUT"),
        "retry_on_timeout": True,
        "max_retries": 2,
        # orjson parses search responses several times faster than the json module.
        "serializer": OrjsonSerializer(),
    }
    options.update(kwargs)
    return Elasticsearch(urls or settings.get("ES_URLS"), **options)


def _urls(client: Elasticsearch) -> str:
    nodes = client.transport.node_pool.all()
    return ", ".join(str(n.base_url) for n in nodes) or "the configured URL"


def down_error(client: Elasticsearch) -> Unavailable:
    """Return the error that says Elasticsearch did not answer, and how to fix it."""
    return Unavailable(
        f"Elasticsearch did not answer at {_urls(client)}: start it with `qiuzhu es start` "
        "or point QIUZHU_ES_URLS at a running cluster."
    )


@contextmanager
def answering(client: Elasticsearch) -> Iterator[None]:
    """Turn connection failures inside the block into `Unavailable` with a clear message."""
    try:
        yield
    except (TransportConnectionError, ConnectionTimeout) as exc:
        raise down_error(client) from exc
    except ApiError as exc:
        if exc.meta.status in (502, 503, 504):
            raise down_error(client) from exc
        raise


def call(client: Elasticsearch, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call FN, raising `Unavailable` when Elasticsearch does not answer."""
    with answering(client):
        return fn(*args, **kwargs)


def require(client: Elasticsearch) -> None:
    """Raise `Unavailable` unless the cluster answers and is at least yellow."""
    with answering(client):
        health = client.options(request_timeout=5).cluster.health()
    if health["status"] == "red":
        raise Unavailable(f"Elasticsearch at {_urls(client)} is red: see `qiuzhu es status`.")
