"""`qiuzhu serve` and `qiuzhu users add|remove|token`: the console and its users."""

from __future__ import annotations

import sys

import click


@click.command("serve")
@click.option(
    "--host",
    envvar="QIUZHU_API_HOST",
    default=None,
    help="Address to listen on; the default, 127.0.0.1, keeps the console on this machine.",
)
@click.option("--port", envvar="QIUZHU_API_PORT", type=int, default=None, help="Port to listen on.")
def serve_command(host: str | None, port: int | None) -> None:
    """Serve the dispatchers' and analysts' API and web console."""
    from api.serve import serve, url

    click.echo(f"Console at {url(host, port)} (Ctrl-C stops it)")
    serve(host, port)


@click.group("users")
def users_group() -> None:
    """Create and remove console users, and create API tokens."""


@users_group.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["dispatcher", "analyst", "admin"]),
    required=True,
    help="What the user may do: dispatchers triage and see contacts (each reveal is "
    "recorded), analysts see counts and masked text only, admins do both and see runs.",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of prompting.",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Replace an existing user (sets a new password, which ends the user's sessions).",
)
def users_add(name: str, role: str, password_stdin: bool, replace: bool) -> None:
    """Create user NAME with a role; the password is prompted for (or read from stdin)."""
    from api.serve import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    user = add_user(name, role, password, replace=replace)
    click.echo(f"User {user.name} ({user.role}) is ready.")


@users_group.command("remove")
@click.argument("name")
def users_remove(name: str) -> None:
    """Remove user NAME and its API tokens; its console sessions end within seconds."""
    from api.serve import remove_user

    tokens = remove_user(name)
    click.echo(f"User {name} is removed, with {tokens} API token(s).")


@users_group.command("token")
@click.argument("name")
@click.option("--label", default="", help="What the token is for, shown to admins.")
@click.option("--days", type=float, default=None, help="Days the token stays valid.")
def users_token(name: str, label: str, days: float | None) -> None:
    """Create an API token for user NAME and print it (it is shown only this once)."""
    from api.serve import create_token

    click.echo(create_token(name, label, days))


COMMANDS = (serve_command, users_group)
