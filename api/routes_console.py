"""The web console's pages (server-rendered shells; data comes from the JSON API), login,
logout, API tokens and the admins' views of users and ingestion runs."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from api import labels
from api.app import HERE, Caller, state_of
from api.auth import COOKIE, require
from index import logins, runs, users
from qiuzhu import profiles, settings
from qiuzhu.errors import Forbidden, NotAuthenticated

router = APIRouter()
templates = Jinja2Templates(directory=HERE / "templates")
# The crisis the backlog serves (`qiuzhu profiles`), named on every page that shows it.
templates.env.globals["crisis_title"] = lambda: profiles.current().title
HOME = {"dispatcher": "/", "admin": "/", "analyst": "/analyst"}


def _same_origin(request: Request) -> bool:
    # Browsers say where a form post comes from in Sec-Fetch-Site; older ones in Origin.
    site = request.headers.get("sec-fetch-site")
    if site:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser: scripts use tokens, and a login needs the password
    return urlsplit(origin).netloc == request.headers.get("host")


def _page(request: Request, template: str, *roles: str) -> Response:
    state = state_of(request)
    try:
        user = state.auth.identify(request)
    except NotAuthenticated:
        return RedirectResponse("/login", status_code=303)
    if roles and user.role not in roles:
        return RedirectResponse(HOME[user.role], status_code=303)
    session = state.auth.session(request)
    context = {
        "user": user,
        "role_label": labels.ROLE[user.role],
        "csrf": state.auth.signer.csrf(session) if session else "",
        "page": template.removesuffix(".html"),
    }
    return templates.TemplateResponse(request, template, context)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    """Show the login form."""
    return templates.TemplateResponse(request, "login.html", {"error": None, "page": "login"})


@router.post("/login")
def login(
    request: Request,
    name: str = Form(max_length=40),
    password: str = Form(max_length=200),
) -> Response:
    """Check a name and password; on success set the session cookie and go to the console."""
    if not _same_origin(request):
        raise Forbidden("Log in from the console's own login page.")
    state = state_of(request)
    name = name.strip()
    # Behind a proxy, uvicorn gives the client's address from X-Forwarded-For when the
    # proxy is trusted (FORWARDED_ALLOW_IPS; 127.0.0.1 by default).
    address = request.client.host if request.client else "unknown"
    wait = logins.wait_seconds(state.client, state.names, name, address)
    if wait:
        # Refused before the password is checked: guessing costs the guesser time alone.
        minutes = max(1, round(wait / 60))
        return templates.TemplateResponse(
            request,
            "login.html",
            {
                "error": f"登录失败次数过多，请{minutes}分钟后再试。"
                f"Too many failed logins: try again in {minutes} min.",
                "page": "login",
            },
            status_code=429,
            headers={"Retry-After": str(wait)},
        )
    user = users.authenticate(state.client, state.names, name, password)
    if user is None:
        logins.record_failure(state.client, state.names, name, address)
        return templates.TemplateResponse(
            request,
            "login.html",
            {"error": "用户名或密码不正确。Wrong name or password.", "page": "login"},
            status_code=401,
        )
    logins.record_success(state.client, state.names, name)
    response = RedirectResponse(HOME[user.role], status_code=303)
    response.set_cookie(
        COOKIE,
        state.auth.signer.issue(user),
        max_age=int(state.auth.signer.seconds),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
def logout(request: Request, user: Caller) -> Response:
    """End the console session."""
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/", response_class=HTMLResponse)
def dispatcher_page(request: Request) -> Response:
    """The dispatchers' console: search, clusters, detail and workflow."""
    return _page(request, "dispatch.html", "dispatcher", "admin")


@router.get("/analyst", response_class=HTMLResponse)
def analyst_page(request: Request) -> Response:
    """The analysts' console: heatmap, daily line, age, resolution, communities, export."""
    return _page(request, "analyst.html")


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request) -> Response:
    """The admins' page: users and ingestion runs."""
    return _page(request, "admin.html", "admin")


class TokenBody(BaseModel):
    """A token to create for the caller."""

    label: str = Field(default="", max_length=80)
    days: float = Field(default=0, ge=0, le=3650)


@router.post("/api/tokens")
def create_token(body: TokenBody, request: Request, user: Caller) -> dict[str, Any]:
    """Create an API token for the caller; it is shown once and stored only as a digest."""
    state = state_of(request)
    days = body.days or settings.get("API_TOKEN_DAYS")
    token = users.create_token(state.client, state.names, user.name, label=body.label, days=days)
    return {"token": token, "user": user.name, "role": user.role, "days": days}


@router.get("/api/admin/runs")
def admin_runs(request: Request, user: Caller) -> dict[str, Any]:
    """Return the newest ingestion runs (empty when none was recorded)."""
    require(user, "admin")
    state = state_of(request)
    return {"runs": runs.recent_runs(state.client, state.names)}


@router.get("/api/admin/users")
def admin_users(request: Request, user: Caller) -> dict[str, Any]:
    """Return every user's name and role."""
    require(user, "admin")
    state = state_of(request)
    return {"users": users.list_users(state.client, state.names)}
