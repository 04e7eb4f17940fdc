"""Failed logins, counted per user and per address, so that guessing a password is slow.

Each key (`user:<name>`, `address:<ip>`) is one document in `<prefix>-logins`: how many
logins failed since the window started, and until when the next attempt must wait. Once
a key has API_LOGIN_FAILURES failures (a user) or API_LOGIN_ADDRESS_FAILURES (an address)
within API_LOGIN_WINDOW seconds, each further failure makes the wait twice as long, from
30 seconds up to the window. An attempt while a key waits is refused before the password is
checked, and not counted, so the wait ends on time. A successful login clears its user's
count; an address's count only expires, or one valid account would reset it for guesses at
others. The counts live in Elasticsearch, so every API worker and machine shares them;
writes use optimistic concurrency (the distribution runs no scripts).
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

from index.admin import register_side_index
from index.client import answering
from index.mapping import DATE, INTEGER, KEYWORD, Names
from qiuzhu import settings

LOGIN_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "kind": KEYWORD,  # user | address
        "failures": INTEGER,
        "window_start": DATE,
        "wait_until": DATE,
    },
}
register_side_index("logins", LOGIN_MAPPING)

#: The first wait once a key reached its limit, in seconds; it doubles with each failure.
FIRST_WAIT = 30.0
_RETRIES = 5


@dataclass(frozen=True)
class Limits:
    """How many failures a user and an address may have in a window of seconds."""

    user: int
    address: int
    window: float

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            settings.get("API_LOGIN_FAILURES"),
            settings.get("API_LOGIN_ADDRESS_FAILURES"),
            settings.get("API_LOGIN_WINDOW"),
        )


def _keys(name: str, address: str) -> dict[str, str]:
    # Digests, not the name or address itself: this index is no record of who tried what.
    def digest(kind: str, value: str) -> str:
        return f"{kind}:" + hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()[:32]

    return {"user": digest("user", name.lower()), "address": digest("address", address)}


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def wait_seconds(
    client: Elasticsearch, names: Names, name: str, address: str, now: datetime | None = None
) -> int:
    """Return how many seconds NAME, from ADDRESS, must wait before a login (0: none)."""
    moment = _now(now)
    waits = [0.0]
    with answering(client):
        try:
            found = client.mget(index=names.logins, ids=list(_keys(name, address).values()))
        except NotFoundError:  # no login ever failed here (`ensure` creates the index)
            return 0
    for doc in found["docs"]:
        until = (doc.get("_source") or {}).get("wait_until") if doc.get("found") else None
        if until:
            waits.append((datetime.fromisoformat(until) - moment).total_seconds())
    return max(0, int(max(waits) + 0.999))


def record_failure(
    client: Elasticsearch,
    names: Names,
    name: str,
    address: str,
    limits: Limits | None = None,
    now: datetime | None = None,
) -> None:
    """Count a failed login of NAME from ADDRESS against both keys."""
    limits = limits or Limits.from_settings()
    moment = _now(now)
    for kind, key in _keys(name, address).items():
        limit = limits.user if kind == "user" else limits.address
        _count(client, names, kind, key, limit, limits.window, moment)


def _count(
    client: Elasticsearch,
    names: Names,
    kind: str,
    key: str,
    limit: int,
    window: float,
    moment: datetime,
) -> None:
    for _ in range(_RETRIES):
        with answering(client):
            try:
                current = client.get(index=names.logins, id=key)
            except NotFoundError:
                current = None
            doc = dict(current["_source"]) if current else {}
            start = doc.get("window_start")
            if not start or (moment - datetime.fromisoformat(start)).total_seconds() > window:
                doc = {"kind": kind, "failures": 0, "window_start": moment.isoformat()}
            doc["failures"] = int(doc["failures"]) + 1
            over = doc["failures"] - limit
            if over >= 0:
                wait = min(FIRST_WAIT * 2**over, window)
                doc["wait_until"] = (moment + timedelta(seconds=wait)).isoformat()
            try:
                if current is None:
                    client.index(index=names.logins, id=key, document=doc, op_type="create")
                else:
                    client.index(
                        index=names.logins,
                        id=key,
                        document=doc,
                        if_seq_no=current["_seq_no"],
                        if_primary_term=current["_primary_term"],
                    )
                return
            except ConflictError:
                continue  # another worker counted at the same moment: count again


def record_success(client: Elasticsearch, names: Names, name: str) -> None:
    """Clear the failures of NAME after a successful login (not its address's)."""
    with answering(client), contextlib.suppress(NotFoundError):
        client.delete(index=names.logins, id=_keys(name, "")["user"])
