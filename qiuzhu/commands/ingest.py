"""`qiuzhu ingest`, `qiuzhu runs` and `qiuzhu schedule`: the nightly run and its records."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from qiuzhu.errors import InvalidInput


def _split(values: tuple[str, ...]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@click.command("ingest")
@click.option(
    "--sources",
    multiple=True,
    metavar="ID[,ID...]",
    help="Crawl only these source ids (comma-separated, or the option repeated); by default "
    "the INGEST_SOURCES setting, and when that is empty every enabled source.",
)
@click.option(
    "--es-urls",
    envvar="QIUZHU_ES_URLS",
    help="Elasticsearch URL, or a comma-separated list of node URLs, to index into.",
)
@click.option(
    "--registry",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Source registry YAML file to read instead of the CRAWL_SOURCES setting.",
)
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    help="Crawl this many sources at once, each in its own process (default INGEST_PROCESSES).",
)
@click.option(
    "-s",
    "--set",
    "pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a Scrapy setting in every crawl of this run, for example -s DOWNLOAD_DELAY=1.",
)
@click.option(
    "--trigger",
    default="cli",
    show_default=True,
    help="Who started the run, as the run record should say (the scheduler passes its job).",
)
def ingest_command(
    sources: tuple[str, ...],
    es_urls: str | None,
    registry: Path | None,
    processes: int | None,
    pairs: tuple[str, ...],
    trigger: str,
) -> None:
    """Replay the spool, crawl, classify, deduplicate and index now, and record the run.

    Exits 0 when every source was crawled, 1 when a source failed (the others are indexed),
    3 when Elasticsearch does not answer and 5 when another run holds a source.
    """
    from ingest.run import ingest
    from qiuzhu import settings
    from qiuzhu.commands.crawl import _overrides

    urls = None
    if es_urls:
        try:
            urls = settings.setting("ES_URLS").parse(es_urls)
        except ValueError as exc:
            raise InvalidInput(f"--es-urls {es_urls!r} is not valid: {exc}.") from None
    result = ingest(
        _split(sources) or None,
        es_urls=urls,
        registry=registry,
        processes=processes,
        crawl_settings=_overrides(pairs),
        trigger=trigger,
        handle_signals=True,
        echo=click.echo,
    )
    sys.exit(result.exit_code)


def _abandoned(record: dict[str, Any]) -> bool:
    from qiuzhu import settings

    if record.get("status") != "running" or not record.get("heartbeat_at"):
        return False
    beat = datetime.fromisoformat(record["heartbeat_at"])
    return datetime.now(UTC) - beat > timedelta(seconds=settings.get("LOCK_TTL"))


@click.command("runs")
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Show this many of the most recent runs.",
)
@click.option("--run", "run_id", help="Show only the run with this id, with every source.")
@click.option("--brief", is_flag=True, help="Show one summary per run, without its sources.")
@click.option("--json", "as_json", is_flag=True, help="Print the run records as JSON lines.")
def runs_command(limit: int, run_id: str | None, brief: bool, as_json: bool) -> None:
    """List recent ingest runs: when, how long, and per source what was crawled and indexed."""
    from index import runs
    from index.client import make_client, require
    from index.mapping import names
    from ingest.records import format_run
    from qiuzhu.errors import NotFound

    client = make_client()
    require(client)
    if run_id:
        one = runs.get(client, names(), run_id)
        if one is None:
            raise NotFound(f"No run {run_id!r} is recorded: `qiuzhu runs` lists the recent ones.")
        found = [one]
    else:
        found = runs.recent_runs(client, names(), limit)
    if not found:
        click.echo("No run is recorded yet: `qiuzhu ingest` runs one now.")
        return
    for record in found:
        record.pop("id", None)
        if as_json:
            click.echo(json.dumps(record, ensure_ascii=False))
            continue
        if _abandoned(record):
            record["status"] = "abandoned"
            record["message"] = (
                f"no heartbeat since {record['heartbeat_at']}: the run died without ending; "
                "its locks have expired and the next run repeats its work"
            )
        click.echo(format_run(record, details=not brief))


@click.command("schedule")
@click.option(
    "--list",
    "list_only",
    is_flag=True,
    help="Show the jobs in the job store and their next run times, then exit.",
)
def schedule_command(list_only: bool) -> None:
    """Run the scheduler in the foreground: the nightly run, and crisis-mode runs if set."""
    import scheduler

    if not list_only:
        scheduler.run()
        return
    jobs = scheduler.list_jobs()
    if not jobs:
        click.echo(
            f"No jobs in {scheduler.jobstore_path()} yet: `qiuzhu schedule` adds them from "
            "the settings (SCHEDULE_TIME, SCHEDULE_TIMEZONE, SCHEDULE_INTERVAL_MINUTES)."
        )
        return
    for job in jobs:
        when = job.next_run_time.isoformat() if job.next_run_time else "paused"
        click.echo(f"{job.id}\t{job.trigger}\tnext run {when}")


COMMANDS = (ingest_command, runs_command, schedule_command)
