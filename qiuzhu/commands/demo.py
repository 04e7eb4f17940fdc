"""`qiuzhu demo`: the whole system on the bundled demo sources."""

from __future__ import annotations

import sys

import click


@click.command("demo")
@click.option(
    "--no-serve",
    is_flag=True,
    help="Stop after printing the backlog instead of serving the console.",
)
@click.option(
    "--host",
    default=None,
    help="Address the console listens on (default QIUZHU_API_HOST, 127.0.0.1: keep the demo "
    "on loopback).",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port the console listens on (default QIUZHU_API_PORT, 8300).",
)
@click.option(
    "--profile",
    default=None,
    help="Crisis profile whose demo to run (`qiuzhu profiles`; default QIUZHU_PROFILE, "
    "wuhan-2020). Another crisis's demo gets its own backlog, qiuzhu-<profile>.",
)
def demo_command(no_serve: bool, host: str | None, port: int | None, profile: str | None) -> None:
    """Start Elasticsearch, crawl the bundled demo sources into the backlog and serve it.

    The demo site's posts are invented. The backlog is printed as a dispatcher sees it, then
    the console is served with demo logins until you press Ctrl-C.
    """
    from qiuzhu import demo

    sys.exit(demo.run(click.echo, serve=not no_serve, host=host, port=port, profile=profile))


COMMANDS = (demo_command,)
