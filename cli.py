"""The `qiuzhu` command: a thin click layer over importable functions.

Expected failures (Elasticsearch down, a bad file, a bad query) raise a `QiuzhuError`;
the group turns it into one clear line on stderr and the error's exit code.
"""

from __future__ import annotations

from typing import Any

import click

from qiuzhu import __version__
from qiuzhu.errors import QiuzhuError


class _QiuzhuException(click.ClickException):
    def __init__(self, error: QiuzhuError) -> None:
        from classify.personal import mask_numbers

        # A message may quote a value from a file or a query: its numbers are masked.
        super().__init__(mask_numbers(error.message))
        self.exit_code = error.exit_code  # type: ignore[misc]


class QiuzhuGroup(click.Group):
    """A click group that renders `QiuzhuError` as a one-line message and exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except QiuzhuError as exc:
            raise _QiuzhuException(exc) from exc

    def group(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", QiuzhuGroup)
        return super().group(*args, **kwargs)


@click.group(cls=QiuzhuGroup)
@click.version_option(__version__, prog_name="qiuzhu")
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="Log more: each -v goes one level below QIUZHU_LOG_LEVEL (INFO: -v logs DEBUG).",
)
@click.option(
    "-q",
    "--quiet",
    count=True,
    help="Log less: each -q goes one level above QIUZHU_LOG_LEVEL (-q logs warnings only).",
)
def main(verbose: int, quiet: int) -> None:
    """Turn scattered public help requests into one searchable, deduplicated backlog."""
    from qiuzhu import logs

    # Every logger, Scrapy's and the workers' this command starts, logs at this level.
    logs.configure(logs.chosen_level(verbose, quiet))


@main.command("settings")
@click.option(
    "--markdown",
    is_flag=True,
    help="Print the README's settings table (name, default, meaning) instead.",
)
def settings_command(markdown: bool) -> None:
    """Print every setting with its environment variable, current value and meaning."""
    from qiuzhu import settings

    if markdown:
        click.echo(settings.markdown_table())
        return
    for decl in settings.SETTINGS:
        click.echo(f"{decl.env}={settings.get(decl.name)}")
        click.echo(f"    {decl.help}")


@main.command("profiles")
def profiles_command() -> None:
    """List the crisis profiles (QIUZHU_PROFILE picks one) and mark the one in use."""
    from qiuzhu import profiles

    chosen = profiles.current().id  # an unknown one is an error that lists the others
    for profile_id in profiles.available():
        mark = "*" if profile_id == chosen else " "
        click.echo(f"{mark} {profiles.describe(profiles.load(profile_id))}")


def _register() -> None:
    # Each noun's commands live in qiuzhu/commands/; they import their packages lazily so
    # that `qiuzhu --help` stays fast.
    from qiuzhu.commands import backlog, crawl, demo, es, ingest, nlp, serve

    for command in (
        *es.COMMANDS,
        *backlog.COMMANDS,
        *crawl.COMMANDS,
        *nlp.COMMANDS,
        *serve.COMMANDS,
        *ingest.COMMANDS,
        *demo.COMMANDS,
    ):
        main.add_command(command)


_register()

if __name__ == "__main__":  # pragma: no cover
    main()
