"""`qiuzhu sources`, `qiuzhu crawl` and `qiuzhu demo-site`: gathering help requests."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import click

from qiuzhu.errors import InvalidInput

_REGISTRY_HELP = "Source registry YAML file to read instead of the CRAWL_SOURCES setting."


@click.command("sources")
@click.option("--registry", type=click.Path(dir_okay=False, path_type=Path), help=_REGISTRY_HELP)
def sources_command(registry: Path | None) -> None:
    """List the sources in the registry: id, kind, enabled and first start URL."""
    from crawlers.registry import load_sources

    for source in load_sources(registry).values():
        state = "enabled" if source.enabled else "disabled"
        click.echo(f"{source.id}\t{source.kind}\t{state}\t{source.start_urls[0]}")


def _overrides(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"-s expects KEY=VALUE, got {pair!r}.")
        out[key] = value
    return out


@click.command("crawl")
@click.argument("source_ids", nargs=-1, metavar="[SOURCE]...")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append the crawled help requests to this JSONL file, one JSON object a line.",
)
@click.option(
    "--jobdir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="QIUZHU_CRAWL_JOBDIR",
    help="Keep each source's pending requests in this folder, so that running the same "
    "command again after an interruption resumes where it stopped.",
)
@click.option("--registry", type=click.Path(dir_okay=False, path_type=Path), help=_REGISTRY_HELP)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="QIUZHU_CRAWL_STATE_DIR",
    help="Keep each source's crawl state (high-water mark, posts seen, posts to retry) in "
    "this folder instead of the CRAWL_STATE_DIR setting's, for example to try a new "
    "registry beside the production state.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Read the crawl state but never write it, index nothing and keep no jobdir: "
    "the report shows what a crawl would find, and only -o is written.",
)
@click.option(
    "--full-read",
    is_flag=True,
    help="Read every list page of every source, as a due full re-read of an unordered "
    "source does, to find posts the shorter crawls passed by.",
)
@click.option(
    "-s",
    "--set",
    "pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a Scrapy setting for this crawl, for example -s DOWNLOAD_TIMEOUT=5.",
)
def crawl_command(
    source_ids: tuple[str, ...],
    output: Path | None,
    jobdir: Path | None,
    registry: Path | None,
    state_dir: Path | None,
    dry_run: bool,
    full_read: bool,
    pairs: tuple[str, ...],
) -> None:
    """Crawl the named sources (default: every enabled one) and print a report per source."""
    from crawlers.report import format_report
    from crawlers.run import crawl

    reports = crawl(
        source_ids,
        output,
        _overrides(pairs),
        jobdir,
        registry,
        state_dir=state_dir,
        dry_run=dry_run,
        full_read=full_read,
    )
    for source_id, report in reports.items():
        click.echo(format_report(source_id, report))
        for warning in report.get("warnings", ()):
            click.echo(f"  warning: {warning}")
    if output is not None:
        total = sum(r["items"] for r in reports.values())
        click.echo(f"{total} help requests appended to {output}.")
    if dry_run:
        click.echo("Dry run: the crawl state was read, not written; nothing was indexed.")


@click.command("demo-site")
@click.option("--host", help="Address to listen on; default the host of DEMO_SITE_URL.")
@click.option("--port", type=int, help="Port to listen on; default the port of DEMO_SITE_URL.")
def demo_site_command(host: str | None, port: int | None) -> None:
    """Serve the bundled demo site (invented posts in every source shape) until Ctrl-C."""
    from crawlers.demo_site import make_server
    from qiuzhu import settings

    url = urlsplit(settings.get("DEMO_SITE_URL"))
    host = host or url.hostname or "127.0.0.1"
    port = port if port is not None else (url.port or 80)
    try:
        server = make_server(host, port)
    except OSError as exc:
        raise InvalidInput(f"cannot listen on {host}:{port}: {exc.strerror}.") from None
    click.echo(
        f"Serving the demo site on http://{host}:{server.server_address[1]}/ (Ctrl-C stops)."
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


COMMANDS = (sources_command, crawl_command, demo_site_command)
