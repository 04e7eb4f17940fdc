"""Console users and API tokens, kept in the `<prefix>-users` index (strict mapping).

Passwords are hashed with Argon2id (argon2-cffi); API tokens are random 256-bit strings
of which only a SHA-256 digest is stored, under the document id `token:<digest>`, so a
token is checked with one `get`. Nothing here ever logs a password or a token.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from elasticsearch import BadRequestError, ConflictError, Elasticsearch, NotFoundError

from index.admin import register_side_index
from index.client import answering
from index.mapping import BOOLEAN, DATE, KEYWORD, STORED, Names, index_body
from qiuzhu.errors import Conflict, InvalidInput, NotFound

ROLES = ("dispatcher", "analyst", "admin")
#: Roles that may see contact data (each reveal is recorded).
CONTACT_ROLES = ("dispatcher", "admin")
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_.-")

USER_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "kind": KEYWORD,  # user | token
        "name": KEYWORD,
        "role": KEYWORD,
        "password_hash": STORED,
        "label": KEYWORD,
        "created_at": DATE,
        "expires_at": DATE,
        "disabled": BOOLEAN,
    },
}
register_side_index("users", USER_MAPPING)

_hasher = PasswordHasher()


@dataclass(frozen=True)
class User:
    """Who is calling, and with which role.

    `session_key` changes with the password: a console session carries the key of the
    password it was opened with, so a new password ends every older session.
    """

    name: str
    role: str
    session_key: str = field(default="", compare=False, repr=False)

    @property
    def sees_contacts(self) -> bool:
        return self.role in CONTACT_ROLES


def ensure_index(client: Elasticsearch, names: Names) -> None:
    """Create the users index with its strict mapping when it is missing."""
    with answering(client):
        if not client.indices.exists(index=names.users):
            try:
                client.indices.create(index=names.users, **index_body(USER_MAPPING, "users"))
            except BadRequestError as exc:  # created meanwhile by another process
                if "resource_already_exists" not in str(exc):
                    raise


def _check_name(name: str) -> None:
    if not 2 <= len(name) <= 40 or not set(name) <= _NAME_CHARS:
        raise InvalidInput(
            "A user name has 2 to 40 characters among lower-case letters, digits, _ . and -."
        )


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}: use one of {', '.join(ROLES)}.")


def add_user(
    client: Elasticsearch, names: Names, name: str, role: str, password: str, *, replace: bool
) -> User:
    """Create user NAME with ROLE and PASSWORD (or replace it when REPLACE).

    Raises:
        InvalidInput: a bad name, role or a password under 8 characters.
        Conflict: the user exists and REPLACE is false.
    """
    _check_name(name)
    _check_role(role)
    if len(password) < 8:
        raise InvalidInput("A password needs at least 8 characters.")
    doc = {
        "kind": "user",
        "name": name,
        "role": role,
        "password_hash": _hasher.hash(password),
        "created_at": datetime.now(UTC).isoformat(),
        "disabled": False,
    }
    ensure_index(client, names)
    with answering(client):
        try:
            client.index(
                index=names.users,
                id=f"user:{name}",
                document=doc,
                op_type="index" if replace else "create",
                refresh=True,
            )
        except ConflictError:
            raise Conflict(
                f"The user {name!r} exists already: pass --replace to set a new password."
            ) from None
    return User(name, role)


def get_user(client: Elasticsearch, names: Names, name: str) -> User | None:
    """Return the enabled user NAME, or None."""
    with answering(client):
        try:
            doc = client.get(index=names.users, id=f"user:{name}")["_source"]
        except NotFoundError:
            return None
    if doc.get("disabled"):
        return None
    return _user(doc)


def _user(doc: dict[str, Any]) -> User:
    # A digest of the stored hash (itself salted anew by each password change).
    key = hashlib.sha256(f"session:{doc['password_hash']}".encode()).hexdigest()[:24]
    return User(doc["name"], doc["role"], key)


def authenticate(client: Elasticsearch, names: Names, name: str, password: str) -> User | None:
    """Return the user when NAME and PASSWORD match an enabled user, else None."""
    with answering(client):
        try:
            doc = client.get(index=names.users, id=f"user:{name}")["_source"]
        except NotFoundError:
            # Spend the same time as a real check, so timing does not tell names apart.
            _hasher.hash(password)
            return None
    try:
        _hasher.verify(doc["password_hash"], password)
    except (VerificationError, InvalidHashError):
        return None
    if doc.get("disabled"):
        return None
    return _user(doc)


def remove_user(client: Elasticsearch, names: Names, name: str) -> int:
    """Remove user NAME and every API token of it; return how many tokens went.

    Its console sessions end with it: each request looks the user up again (within the
    few seconds the API remembers a lookup).

    Raises:
        NotFound: no such user.
    """
    with answering(client):
        try:
            client.delete(index=names.users, id=f"user:{name}", refresh=True)
        except NotFoundError:
            raise NotFound(f"No user is called {name!r}.") from None
        found = client.search(
            index=names.users,
            query={"bool": {"filter": [{"term": {"kind": "token"}}, {"term": {"name": name}}]}},
            source=False,
            size=10_000,
        )
        ids = [hit["_id"] for hit in found["hits"]["hits"]]
        for token_id in ids:
            client.delete(index=names.users, id=token_id, refresh=True)
    return len(ids)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    client: Elasticsearch, names: Names, name: str, *, label: str = "", days: float = 90
) -> str:
    """Create an API token for user NAME valid for DAYS and return it (shown once).

    Raises:
        NotFound: no such user.
    """
    user = get_user(client, names, name)
    if user is None:
        raise NotFound(f"No enabled user is called {name!r}: create it with `qiuzhu users add`.")
    if not 0 < days <= 3650:
        raise InvalidInput("A token lives between a moment and 3650 days.")
    token = f"qz_{secrets.token_urlsafe(32)}"
    now = datetime.now(UTC)
    doc = {
        "kind": "token",
        "name": user.name,
        "role": user.role,
        "label": label or None,
        "created_at": now.isoformat(),
        "expires_at": (now + timedelta(days=days)).isoformat(),
        "disabled": False,
    }
    with answering(client):
        client.index(index=names.users, id=f"token:{_digest(token)}", document=doc, refresh=True)
    return token


def token_user(client: Elasticsearch, names: Names, token: str) -> User | None:
    """Return the user an unexpired API TOKEN belongs to, or None."""
    if not token.startswith("qz_") or len(token) > 100:
        return None
    with answering(client):
        try:
            doc = client.get(index=names.users, id=f"token:{_digest(token)}")["_source"]
        except NotFoundError:
            return None
    if doc.get("disabled") or doc["expires_at"] < datetime.now(UTC).isoformat():
        return None
    # The user's current role wins over the role the token was made with.
    return get_user(client, names, doc["name"])


def list_users(client: Elasticsearch, names: Names) -> list[dict[str, Any]]:
    """Return every user's name, role and creation time (never a hash)."""
    with answering(client):
        response = client.search(
            index=names.users,
            query={"term": {"kind": "user"}},
            source_includes=["name", "role", "created_at", "disabled"],
            sort=[{"name": "asc"}],
            size=1000,
            ignore_unavailable=True,
        )
    return [h["_source"] for h in response["hits"]["hits"]]
