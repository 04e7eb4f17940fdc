"""`qiuzhu es fetch | start | stop | status`: the local Elasticsearch server."""

from __future__ import annotations

import time

import click


@click.group("es")
def es_group() -> None:
    """Fetch, start, stop and inspect the local Elasticsearch server (loopback only)."""


@es_group.command("fetch")
@click.option(
    "--version",
    "version",
    default=None,
    help="Elasticsearch version to fetch instead of QIUZHU_ES_VERSION.",
)
def fetch_command(version: str | None) -> None:
    """Download Elastic's runnable distribution with Maven, verify it and unpack it."""
    from index import distribution

    path = distribution.fetch(version)
    click.echo(f"Elasticsearch is in {path}")


@es_group.command("start")
@click.option(
    "--nodes",
    type=click.IntRange(1, 9),
    default=1,
    show_default=True,
    help="How many nodes to start on consecutive loopback ports; more than one forms a cluster.",
)
@click.option(
    "--timeout",
    type=float,
    default=None,
    help="Seconds to wait for green or yellow health (default QIUZHU_ES_START_TIMEOUT).",
)
def start_command(nodes: int, timeout: float | None) -> None:
    """Start local Elasticsearch nodes bound to 127.0.0.1 and wait until they are healthy."""
    from index import distribution, node

    distribution.fetch()
    began = time.monotonic()
    specs = node.start(nodes, timeout=timeout)
    urls = ",".join(s.url for s in specs)
    click.echo(f"Elasticsearch is up at {urls} ({time.monotonic() - began:.1f} s).")
    if urls != specs[0].url or specs[0].url != "http://127.0.0.1:9200":
        click.echo(f"Point qiuzhu at it with QIUZHU_ES_URLS={urls}")


@es_group.command("stop")
def stop_command() -> None:
    """Stop every local node that `qiuzhu es start` started."""
    from index import node

    stopped = node.stop()
    click.echo(f"Stopped {', '.join(stopped)}." if stopped else "No local node was running.")


@es_group.command("status")
def status_command() -> None:
    """Show the local nodes and the health of the cluster at QIUZHU_ES_URLS."""
    from index import node
    from qiuzhu.errors import Unavailable

    nodes, health = node.status()
    for n in nodes:
        state = "running" if n.pid else "stopped"
        click.echo(
            f"{n.name}  {n.url}  {state}{f' (pid {n.pid})' if n.pid else ''}"
            f"{'' if n.answers or not n.pid else '  not answering yet'}"
        )
    if health is None:
        raise Unavailable(
            "The cluster at QIUZHU_ES_URLS does not answer: start it with `qiuzhu es start`."
        )
    click.echo(
        f"cluster {health['cluster_name']}: {health['status']}, "
        f"{health['number_of_nodes']} node(s), {health['active_shards']} active shards"
    )


COMMANDS = (es_group,)
