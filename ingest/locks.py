"""Per-source locks shared by every machine writing to the cluster: take, renew, release.

A run takes the lock of each of its sources before crawling (all or none), renews them
every third of LOCK_TTL while it works, and releases them at the end. A lock is a document
that is created only if absent; an expired one, or one held by a dead process on this very
host, may be taken over, and compare-and-set on its version makes sure that of two takers
only one wins. A run that crashes therefore holds its sources for at most LOCK_TTL.
Clocks of machines sharing a cluster must agree (NTP), since expiry is wall-clock time.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from index import locks as store
from index.locks import Client
from index.mapping import Names
from qiuzhu.errors import Conflict, Unavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Owner:
    """Who holds a lock: the host, the process and the run."""

    host: str
    pid: int
    run_id: str

    @property
    def id(self) -> str:
        return f"{self.host}:{self.pid}:{self.run_id}"

    @classmethod
    def current(cls, run_id: str) -> Owner:
        """Return the owner that stands for this process running RUN_ID."""
        return cls(socket.gethostname(), os.getpid(), run_id)


@dataclass(frozen=True)
class Holder:
    """Who holds a source's lock, and until when."""

    source: str
    run_id: str
    host: str
    pid: int
    expires_at: datetime

    def describe(self) -> str:
        until = self.expires_at.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
        return (
            f"{self.source} is held by run {self.run_id} (pid {self.pid} on {self.host}) "
            f"until {until}"
        )


class SourcesLocked(Conflict):
    """Another run holds the lock of at least one of the sources asked for."""

    def __init__(self, holders: list[Holder]) -> None:
        self.holders = holders
        super().__init__(
            "Another ingest run is working on these sources, so this run did not start: "
            + "; ".join(h.describe() for h in holders)
            + ". Wait for it to end, or run the other sources with --sources; the lock of a "
            "run that died frees itself when it expires (LOCK_TTL)."
        )


def _now() -> datetime:
    return datetime.now(UTC)


def _document(source: str, owner: Owner, ttl: float, now: datetime, **extra: Any) -> dict:
    return {
        "source": source,
        "owner": owner.id,
        "host": owner.host,
        "pid": owner.pid,
        "run_id": owner.run_id,
        "acquired_at": now.isoformat(),
        "renewed_at": now.isoformat(),
        "expires_at": (now + timedelta(seconds=ttl)).isoformat(),
        **extra,
    }


def _holder(doc: dict[str, Any]) -> Holder:
    return Holder(
        source=str(doc.get("source")),
        run_id=str(doc.get("run_id")),
        host=str(doc.get("host")),
        pid=int(doc.get("pid") or 0),
        expires_at=datetime.fromisoformat(doc["expires_at"]),
    )


def _process_gone(host: str, pid: int) -> bool:
    """Tell whether PID on HOST is known to be dead (only this host can be checked)."""
    if host != socket.gethostname() or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def take(client: Client, names: Names, source: str, owner: Owner, ttl: float) -> Holder | None:
    """Take the lock of SOURCE for OWNER; return None when taken, else who holds it.

    Raises:
        Unavailable: Elasticsearch did not answer.
    """
    for _ in range(3):
        now = _now()
        if store.create(client, names, source, _document(source, owner, ttl, now)):
            return None
        stored = store.read(client, names, source)
        if stored is None:
            continue  # released between our create and read: try again
        holder = _holder(stored.doc)
        stale = holder.expires_at <= now or _process_gone(holder.host, holder.pid)
        if stored.doc.get("owner") != owner.id and not stale:
            return holder
        doc = _document(source, owner, ttl, now, taken_over=stored.doc.get("owner") != owner.id)
        if store.replace(client, names, source, stored, doc):
            if doc["taken_over"]:
                log.warning(
                    "Took over the lock of %s from run %s (pid %d on %s), which %s",
                    source,
                    holder.run_id,
                    holder.pid,
                    holder.host,
                    "has exited" if holder.expires_at > now else "let it expire",
                )
            return None
    stored = store.read(client, names, source)
    return _holder(stored.doc) if stored else None


def take_all(
    client: Client, names: Names, sources: Iterable[str], owner: Owner, ttl: float
) -> list[str]:
    """Take the locks of every source in SOURCES, or none of them.

    Sources are taken in sorted order, so runs over overlapping sets meet on the same
    source first and one of them goes ahead.

    Raises:
        SourcesLocked: a source is held by another run (the locks taken are released).
        Unavailable: Elasticsearch did not answer.
    """
    taken: list[str] = []
    holders: list[Holder] = []
    try:
        for source in sorted(set(sources)):
            holder = take(client, names, source, owner, ttl)
            if holder is None:
                taken.append(source)
            else:
                holders.append(holder)
    except Unavailable:
        release_all(client, names, taken, owner)
        raise
    if holders:
        release_all(client, names, taken, owner)
        raise SourcesLocked(holders)
    return taken


def renew_all(
    client: Client, names: Names, sources: Iterable[str], owner: Owner, ttl: float
) -> list[str]:
    """Push the expiry of OWNER's locks on SOURCES forward; return the sources it lost."""
    lost = []
    for source in sources:
        stored = store.read(client, names, source)
        if stored is None or stored.doc.get("owner") != owner.id:
            lost.append(source)
            continue
        now = _now()
        doc = {
            **stored.doc,
            "renewed_at": now.isoformat(),
            "expires_at": (now + timedelta(seconds=ttl)).isoformat(),
        }
        if not store.replace(client, names, source, stored, doc):
            lost.append(source)
    return lost


def release_all(client: Client, names: Names, sources: Iterable[str], owner: Owner) -> list[str]:
    """Release OWNER's locks on SOURCES; return those released (others are left alone)."""
    released = []
    for source in sources:
        try:
            stored = store.read(client, names, source)
            mine = stored is not None and stored.doc.get("owner") == owner.id
            if mine and stored is not None and store.delete(client, names, source, stored):
                released.append(source)
        except Unavailable:
            log.warning(
                "Elasticsearch did not answer: the lock of %s stays until it expires", source
            )
            break
    return released


class Heartbeat(threading.Thread):
    """Renew a run's locks every third of TTL until stopped; report lost locks once."""

    def __init__(
        self,
        client: Client,
        names: Names,
        sources: list[str],
        owner: Owner,
        ttl: float,
        beat: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(name="ingest-heartbeat", daemon=True)
        self.client, self.names, self.sources = client, names, sources
        self.owner, self.ttl, self.beat = owner, ttl, beat
        self.lost: set[str] = set()
        self._stop_event = threading.Event()
        self._down = False

    def run(self) -> None:
        while not self._stop_event.wait(max(self.ttl / 3, 0.5)):
            try:
                lost = renew_all(self.client, self.names, self.sources, self.owner, self.ttl)
                if self.beat is not None:
                    self.beat()
                self._down = False
            except Unavailable:
                if not self._down:
                    log.warning("Elasticsearch did not answer: source locks not renewed")
                self._down = True
                continue
            for source in set(lost) - self.lost:
                log.error("Run %s lost the lock of %s to another run", self.owner.run_id, source)
            self.lost.update(lost)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)
