"""The FastAPI application: one factory, one error handler, strict security headers.

`create_app()` reads its Elasticsearch URLs and index prefix from the settings (so a test
that sets QIUZHU_INDEX_PREFIX gets its own backlog), or from explicit overrides.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import auth

# index.logins and index.users declare their side indices, which `admin.ensure` creates.
from index import admin, logins, runs, users  # noqa: F401
from index.client import Client, make_client
from index.mapping import Names, names
from index.masking import mask_numbers
from index.users import User
from qiuzhu import __version__, logs, settings
from qiuzhu.errors import QiuzhuError, Unavailable

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeaders:
    """Add the CSP and related headers to every response (a plain ASGI middleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(_HEADERS)
                if not scope["path"].startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, wrapped)


class FastJSON(JSONResponse):
    """JSON rendered by orjson, skipping FastAPI's per-field encoding.

    An analyst's district × need × day table is hundreds of kilobytes; encoding it field
    by field took longer than Elasticsearch took to count it.
    """

    def render(self, content: object) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


@dataclass
class State:
    """What every route needs: the client, the index names, the authenticator."""

    client: Client
    names: Names
    auth: auth.Authenticator


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query"))
        parts.append(f"`{where or 'body'}`: {error.get('msg', 'invalid')}")
    return "Invalid request: " + "; ".join(parts) + "."


def create_app(
    *,
    es_urls: list[str] | None = None,
    prefix: str | None = None,
    client: Client | None = None,
    secret: bytes | None = None,
    session_hours: float | None = None,
) -> FastAPI:
    """Return the API and console application.

    Every argument overrides the matching setting (QIUZHU_ES_URLS, QIUZHU_INDEX_PREFIX,
    QIUZHU_API_SESSION_SECRET, QIUZHU_API_SESSION_HOURS).
    """
    # A worker process that uvicorn started logs through the masking handler too.
    logs.ensure_configured()
    # Enough connections for every worker thread, so concurrent searches never queue here.
    client = client or make_client(es_urls, connections_per_node=64)
    index_names = names(prefix)
    signer = auth.Signer(
        secret or auth.load_secret(), session_hours or settings.get("API_SESSION_HOURS")
    )
    state = State(client, index_names, auth.Authenticator(signer, client, index_names))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            admin.ensure(client, index_names)
        except Unavailable as exc:
            log.warning("Starting without the backlog: %s", exc.message)
        yield

    app = FastAPI(
        title="qiuzhu 求助",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.qz = state

    @app.exception_handler(QiuzhuError)
    async def qiuzhu_error(request: Request, exc: QiuzhuError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        # An error may quote what was sent (a search, a value): its numbers are masked.
        return JSONResponse(
            {"error": mask_numbers(exc.message)}, status_code=exc.status, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _validation_message(exc)}, status_code=400)

    @app.get("/health")
    def health() -> JSONResponse:
        """Say whether the API runs and Elasticsearch answers (no login needed)."""
        try:
            status = runs.ping(client)
        except Unavailable as exc:
            return JSONResponse(
                {"status": "unavailable", "elasticsearch": "down", "error": exc.message},
                status_code=503,
            )
        return JSONResponse({"status": "ok", "elasticsearch": status, "version": __version__})

    from api import (
        routes_console,
        routes_corrections,
        routes_offers,
        routes_requests,
        routes_stats,
    )

    app.include_router(routes_requests.router)
    app.include_router(routes_stats.router)
    app.include_router(routes_offers.router)
    app.include_router(routes_corrections.router)
    app.include_router(routes_console.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(SecurityHeaders)
    return app


def state_of(request: Request) -> State:
    """Return the application's State."""
    qz: State = request.app.state.qz
    return qz


async def caller(request: Request) -> User:
    """Return the calling user (a FastAPI dependency).

    Asynchronous, so a caller checked in the last few seconds costs no trip through the
    thread pool; only a lookup in Elasticsearch runs there.
    """
    authenticator = state_of(request).auth
    try:
        return authenticator.identify(request, lookup=False)
    except auth.NeedsLookup:
        return await run_in_threadpool(authenticator.identify, request)


#: A route parameter holding the authenticated caller.
Caller = Annotated[User, Depends(caller)]
