"""Who is calling: console sessions (signed cookie + CSRF token) and API tokens (Bearer).

A session cookie holds the user name, role, expiry, a random nonce and a key derived from
the user's password hash, signed with HMAC-SHA256; it is HttpOnly and SameSite=Strict. A
new password, or the user's removal, ends every session. Every state-changing request
made with a session must also carry `X-CSRF-Token`, an HMAC of the session's nonce that
the console reads from its page. Bearer tokens are checked against their stored digest.
Users and tokens are looked up again at most every few seconds, so a disabled, removed or
re-passworded user or a changed role takes effect quickly without a lookup per request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from index import users
from index.users import User
from qiuzhu import settings
from qiuzhu.errors import Forbidden, NotAuthenticated

COOKIE = "qiuzhu_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
_CACHE_SECONDS = 10.0


def load_secret() -> bytes:
    """Return the session secret from the setting, else from (or into) VAR_DIR."""
    configured = str(settings.get("API_SESSION_SECRET"))
    if configured:
        return configured.encode()
    path = settings.var_dir("api-session-secret")
    if path.is_file():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret)
    return secret


@dataclass(frozen=True)
class Session:
    """A verified console session."""

    user: User
    nonce: str
    expires: float


class Signer:
    """Signs and checks session cookies and derives their CSRF tokens."""

    def __init__(self, secret: bytes, hours: float) -> None:
        self.secret = secret
        self.seconds = hours * 3600

    def _mac(self, data: bytes) -> str:
        return hmac.new(self.secret, data, hashlib.sha256).hexdigest()

    def issue(self, user: User) -> str:
        payload = {
            "u": user.name,
            "r": user.role,
            "k": user.session_key,
            "e": int(time.time() + self.seconds),
            "n": secrets.token_urlsafe(16),
        }
        body = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
        return f"{body}.{self._mac(body.encode())}"

    def check(self, cookie: str) -> Session | None:
        body, _, mac = cookie.partition(".")
        if not body or not hmac.compare_digest(mac, self._mac(body.encode())):
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return None
        if payload["e"] < time.time():
            return None
        user = User(payload["u"], payload["r"], payload.get("k", ""))
        return Session(user, payload["n"], payload["e"])

    def csrf(self, session: Session) -> str:
        return self._mac(f"csrf:{session.nonce}".encode())


class _TTLCache:
    def __init__(self) -> None:
        self._items: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[bool, Any]:
        with self._lock:
            item = self._items.get(key)
        if item and item[0] > time.monotonic():
            return True, item[1]
        return False, None

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[key] = (time.monotonic() + _CACHE_SECONDS, value)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class NeedsLookup(Exception):
    """The caller is not in the cache: `identify` must look it up in Elasticsearch."""


class Authenticator:
    """Resolve a request to its user, from a Bearer token or a session cookie."""

    def __init__(self, signer: Signer, client: Any, names: Any) -> None:
        self.signer = signer
        self.client = client
        self.names = names
        self.cache = _TTLCache()

    def _user(self, name: str, lookup: bool) -> User | None:
        hit, user = self.cache.get(f"u:{name}")
        if not hit:
            if not lookup:
                raise NeedsLookup
            user = users.get_user(self.client, self.names, name)
            self.cache.put(f"u:{name}", user)
        return user

    def _token(self, token: str, lookup: bool) -> User | None:
        key = "t:" + hashlib.sha256(token.encode()).hexdigest()
        hit, user = self.cache.get(key)
        if not hit:
            if not lookup:
                raise NeedsLookup
            user = users.token_user(self.client, self.names, token)
            self.cache.put(key, user)
        return user

    def session(self, request: Request) -> Session | None:
        cookie = request.cookies.get(COOKIE)
        return self.signer.check(cookie) if cookie else None

    def identify(self, request: Request, *, lookup: bool = True) -> User:
        """Return the caller, checking CSRF for a session's state-changing request.

        Without LOOKUP, only users and tokens checked in the last few seconds are known,
        so the call does no I/O and may run on the event loop.

        Raises:
            NotAuthenticated: no valid token or session.
            Forbidden: a session's state-changing request without the right CSRF token.
            NeedsLookup: without LOOKUP, the caller is not in the cache.
        """
        header = request.headers.get("authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            user = self._token(token.strip(), lookup) if scheme.lower() == "bearer" else None
            if user is None:
                raise NotAuthenticated("The API token is unknown, expired or disabled.")
            return user
        session = self.session(request)
        if session is None:
            raise NotAuthenticated(
                "Log in at /login, or send an API token as `Authorization: Bearer <token>`."
            )
        user = self._user(session.user.name, lookup)
        if user is None:
            raise NotAuthenticated("This user no longer exists or is disabled: log in again.")
        if not hmac.compare_digest(user.session_key, session.user.session_key):
            raise NotAuthenticated("The password was changed since this login: log in again.")
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent, self.signer.csrf(session)):
                raise Forbidden(
                    "Missing or wrong X-CSRF-Token header: reload the console page and retry."
                )
        return user


def require(user: User, *roles: str) -> None:
    """Raise Forbidden unless USER has one of ROLES."""
    if user.role not in roles:
        raise Forbidden(
            f"This needs the role {' or '.join(roles)}; you are logged in as {user.role}."
        )
