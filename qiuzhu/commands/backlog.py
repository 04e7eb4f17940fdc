"""`qiuzhu index ...`, `qiuzhu load` and `qiuzhu search`: the backlog in Elasticsearch."""

from __future__ import annotations

import sys
from datetime import date, datetime
from typing import TextIO

import click

from qiuzhu.errors import InvalidInput


def _backlog():
    from index.client import make_client, require
    from index.mapping import names

    client = make_client()
    require(client)
    return client, names()


@click.group("index")
def index_group() -> None:
    """Create, migrate and repair the backlog index."""


@index_group.command("create")
def create_command() -> None:
    """Create the backlog index and its alias, and the side indices, where missing."""
    from index.admin import ensure

    client, names = _backlog()
    index = ensure(client, names)
    click.echo(f"The backlog alias {names.requests} points at {index}.")


@index_group.command("migrate")
@click.option(
    "--force", is_flag=True, help="Build a new version even when the mapping has not changed."
)
def migrate_command(force: bool) -> None:
    """Copy the backlog into a new index with the current mapping and swap the alias."""
    from index.admin import migrate

    client, names = _backlog()
    result = migrate(client, names, force=force)
    if result.skipped:
        click.echo(
            f"{result.new} already has the current mapping; nothing to do "
            "(--force rebuilds it anyway)."
        )
    else:
        click.echo(
            f"Copied {result.copied} requests from {result.old} to {result.new}; "
            f"{names.requests} now points at {result.new}. {result.old} is kept until "
            "you delete it."
        )


@index_group.command("replay")
def replay_command() -> None:
    """Send again every request that an earlier write had to spool."""
    from index.bulk import Spool, replay

    client, _ = _backlog()
    spool = Spool()
    waiting = spool.pending()
    if not waiting:
        click.echo("The spool is empty.")
        return
    report = replay(client, spool)
    click.echo(
        f"Replayed {waiting} spooled request(s): {report.written} written, "
        f"{report.spooled} spooled again."
    )
    if report.spooled:
        sys.exit(3)


@index_group.command("status")
def status_command() -> None:
    """Show the backlog's index, document count and what waits in the spool."""
    from index.admin import current_index
    from index.bulk import Spool
    from index.client import call

    client, names = _backlog()
    index = current_index(client, names)
    count = call(client, client.count, index=names.requests)["count"] if index else 0
    click.echo(f"alias {names.requests} -> {index or '(not created yet)'}: {count} requests")
    click.echo(f"spool {Spool().folder}: {Spool().pending()} request(s) waiting")


@click.command("load")
@click.argument("file", type=click.File("r", encoding="utf-8"))
def load_command(file: TextIO) -> None:
    """Load analysed requests (JSONL, `qiuzhu analyze` format) from FILE, or - for stdin.

    Malformed lines are reported with their line numbers; the rest is loaded.
    """
    from index.load import load

    client, names = _backlog()
    report = load(client, names, file)
    for number, message in report.bad_lines[:50]:
        click.echo(f"line {number}: {message}", err=True)
    if len(report.bad_lines) > 50:
        click.echo(f"... and {len(report.bad_lines) - 50} more malformed lines", err=True)
    bulk = report.bulk
    click.echo(
        f"{report.lines} lines: {bulk.created} new, {bulk.updated + bulk.unchanged} "
        f"already in the backlog, {len(report.bad_lines)} malformed, {bulk.spooled} spooled."
    )
    if bulk.spooled:
        raise click.ClickException(
            f"{bulk.spooled} request(s) could not be indexed and wait in {bulk.spool_file}: "
            "run `qiuzhu index replay` when Elasticsearch is back."
        )


def _parse_since(value: str | None) -> date | datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"--since {value!r} is not a date such as 2020-02-05 or 2020-02-05T08:00"
        ) from None


@click.command("search")
@click.argument("text", required=False, default="")
@click.option("--district", multiple=True, help="Only requests in this district (repeatable).")
@click.option("--street", multiple=True, help="Only requests in this street (repeatable).")
@click.option("--community", multiple=True, help="Only requests in this community (repeatable).")
@click.option("--need", multiple=True, help="Only requests with this need code, e.g. bed.")
@click.option("--urgency", multiple=True, help="Only this urgency: critical, high or normal.")
@click.option("--status", multiple=True, help="Only this workflow status, e.g. new.")
@click.option("--since", help="Only requests posted at or after this date (ISO 8601).")
@click.option(
    "--sort",
    type=click.Choice(["urgency", "recent", "relevance"]),
    default="urgency",
    show_default=True,
    help="Most urgent and longest waiting first, newest first, or best match first.",
)
@click.option(
    "--size",
    type=click.IntRange(1, 200),
    default=20,
    show_default=True,
    help="How many rows to print.",
)
@click.option(
    "--all-posts", is_flag=True, help="One row per post instead of one row per duplicate cluster."
)
def search_command(
    text: str,
    district: tuple[str, ...],
    street: tuple[str, ...],
    community: tuple[str, ...],
    need: tuple[str, ...],
    urgency: tuple[str, ...],
    status: tuple[str, ...],
    since: str | None,
    sort: str,
    size: int,
    all_posts: bool,
) -> None:
    """Search the backlog and print a table, most urgent first, with the total count.

    Contact data is masked in the table.
    """
    from index.search import Filters, run_search

    filters = Filters(
        text=text,
        district=list(district),
        street=list(street),
        community=list(community),
        needs=list(need),
        urgency=list(urgency),
        status=list(status),
        since=_parse_since(since),
    )
    client, names = _backlog()
    result = run_search(
        client, names, filters, sort=sort, size=size, collapse=not all_posts, personal=True
    )
    click.echo(format_table(result.hits))
    click.echo(f"{result.total} requests in {result.clusters} clusters match.")


def _cell(value: object, width: int) -> str:
    text = str(value if value not in (None, [], "") else "-")
    out, used = "", 0
    for ch in text:
        w = 2 if ord(ch) > 0x2E7F else 1
        if used + w > width:
            break
        out += ch
        used += w
    return out + " " * (width - used)


def _names(hit: dict) -> list[str]:
    personal = hit.get("personal") or {}
    return [*personal.get("names", []), personal.get("template_name") or ""]


def format_table(hits: list[dict]) -> str:
    """Return HITS as a fixed-width table a person can scan (CJK counted double width).

    The text is masked again here: a line on a terminal is easily seen or pasted.
    """
    from index.masking import scrub

    columns = [
        ("urgency", 8),
        ("posted", 16),
        ("district", 10),
        ("community", 16),
        ("needs", 18),
        ("status", 9),
        ("dup", 3),
        ("text", 40),
    ]
    lines = ["  ".join(_cell(name, width) for name, width in columns).rstrip()]
    for hit in hits:
        row = {
            "urgency": hit.get("urgency"),
            "posted": (hit.get("posted_at") or "")[:16].replace("T", " "),
            "district": hit.get("district"),
            "community": hit.get("community") or hit.get("street"),
            "needs": ",".join(hit.get("needs", [])),
            "status": hit.get("status"),
            "dup": hit.get("cluster_size", 1),
            "text": " ".join(scrub(hit.get("text_masked"), _names(hit)).split()),
        }
        lines.append("  ".join(_cell(row[name], width) for name, width in columns).rstrip())
    return "\n".join(lines)


COMMANDS = (index_group, load_command, search_command)
