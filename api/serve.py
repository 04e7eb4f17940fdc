"""Run the console with uvicorn, and create users from code (the demo uses both)."""

from __future__ import annotations

import logging

from api.auth import load_secret
from index import users
from index.admin import ensure
from index.client import make_client
from index.mapping import names
from qiuzhu import settings

log = logging.getLogger(__name__)

DEMO_USERS = {"demo": "dispatcher", "demo-analyst": "analyst", "demo-admin": "admin"}
DEMO_PASSWORD = "qiuzhu-demo"


def serve(host: str | None = None, port: int | None = None, workers: int | None = None) -> None:
    """Serve the API and console on HOST:PORT (default API_HOST, API_PORT) until stopped.

    With more than one worker (API_WORKERS), that many processes share the port: the
    Python work of a page (shaping, masking, JSON) then runs on every core.
    """
    import uvicorn

    host = host or settings.get("API_HOST")
    port = port or settings.get("API_PORT")
    workers = workers or settings.get("API_WORKERS")
    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("Serving on %s: put a TLS-terminating proxy in front of it", host)
    # Every worker must sign sessions alike: settle the secret before they start.
    load_secret()
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # No logging set-up of uvicorn's own: its loggers reach qiuzhu's masking handler
        # (api.app configures it in each worker), at the level of the command. No access
        # log: request lines carry search words.
        log_config=None,
        log_level=max(logging.getLogger().getEffectiveLevel(), logging.WARNING),
        access_log=False,
    )


def url(host: str | None = None, port: int | None = None) -> str:
    """Return the console's URL for HOST:PORT (default API_HOST, API_PORT)."""
    return f"http://{host or settings.get('API_HOST')}:{port or settings.get('API_PORT')}/"


def add_user(name: str, role: str, password: str, *, replace: bool = False) -> users.User:
    """Create (or with REPLACE, reset) a console user in the configured backlog."""
    client = make_client()
    try:
        ensure(client, names())
        return users.add_user(client, names(), name, role, password, replace=replace)
    finally:
        client.close()


def remove_user(name: str) -> int:
    """Remove user NAME and its API tokens from the configured backlog; return the tokens."""
    client = make_client()
    try:
        ensure(client, names())
        return users.remove_user(client, names(), name)
    finally:
        client.close()


def create_token(name: str, label: str = "", days: float | None = None) -> str:
    """Create and return an API token for user NAME."""
    client = make_client()
    try:
        ensure(client, names())
        return users.create_token(
            client, names(), name, label=label, days=days or settings.get("API_TOKEN_DAYS")
        )
    finally:
        client.close()


def demo_users(password: str = DEMO_PASSWORD) -> dict[str, str]:
    """Create (or reset) one demo user per role; return name -> role.

    The demo's password is public: never call this on a backlog with real data.
    """
    for name, role in DEMO_USERS.items():
        add_user(name, role, password, replace=True)
    return dict(DEMO_USERS)
