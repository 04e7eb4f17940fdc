"""Per-source lock documents: created only if absent, replaced only by compare-and-set.

One document per source id in `Names.locks`. Creating it with `op_type=create` succeeds for
exactly one writer; replacing or deleting it names the `_seq_no` and `_primary_term` that
were read, so of two processes taking over the same expired lock only one wins. The policy
(who may take over, when to renew) lives in `ingest.locks`; this module only talks to
Elasticsearch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

from index.admin import register_side_index
from index.client import answering
from index.mapping import BOOLEAN, DATE, INTEGER, KEYWORD, Names

#: Elasticsearch client type, named here so that callers need not import elasticsearch.
Client = Elasticsearch

LOCK_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "source": KEYWORD,
        "owner": KEYWORD,
        "host": KEYWORD,
        "pid": INTEGER,
        "run_id": KEYWORD,
        "acquired_at": DATE,
        "renewed_at": DATE,
        "expires_at": DATE,
        "taken_over": BOOLEAN,
    },
}
register_side_index("locks", LOCK_MAPPING)


@dataclass(frozen=True)
class StoredLock:
    """A lock document as read, with the version that a replace or delete must name."""

    doc: dict[str, Any]
    seq_no: int
    primary_term: int


def create(client: Elasticsearch, names: Names, source: str, doc: dict[str, Any]) -> bool:
    """Create the lock of SOURCE; return False when one exists already.

    Raises:
        Unavailable: Elasticsearch did not answer.
    """
    with answering(client):
        try:
            client.create(index=names.locks, id=source, document=doc)
        except ConflictError:
            return False
    return True


def read(client: Elasticsearch, names: Names, source: str) -> StoredLock | None:
    """Return the lock of SOURCE with its version, or None when there is none."""
    with answering(client):
        try:
            found = client.get(index=names.locks, id=source)
        except NotFoundError:
            return None
    return StoredLock(found["_source"], found["_seq_no"], found["_primary_term"])


def replace(
    client: Elasticsearch, names: Names, source: str, stored: StoredLock, doc: dict
) -> bool:
    """Replace the lock STORED with DOC unless someone changed it since; return success."""
    with answering(client):
        try:
            client.index(
                index=names.locks,
                id=source,
                document=doc,
                if_seq_no=stored.seq_no,
                if_primary_term=stored.primary_term,
            )
        except (ConflictError, NotFoundError):
            return False
    return True


def delete(client: Elasticsearch, names: Names, source: str, stored: StoredLock) -> bool:
    """Delete the lock STORED unless someone changed it since; return success."""
    with answering(client):
        try:
            client.delete(
                index=names.locks,
                id=source,
                if_seq_no=stored.seq_no,
                if_primary_term=stored.primary_term,
            )
        except (ConflictError, NotFoundError):
            return False
    return True


def held(client: Elasticsearch, names: Names) -> list[dict[str, Any]]:
    """Return every lock document, by source id."""
    with answering(client):
        if not client.indices.exists(index=names.locks):
            return []
        response = client.search(
            index=names.locks, query={"match_all": {}}, size=1000, sort=[{"source": "asc"}]
        )
    return [hit["_source"] for hit in response["hits"]["hits"]]
