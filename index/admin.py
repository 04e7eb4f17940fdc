"""Create the backlog's indices, migrate the backlog to a new mapping, remove indices.

The integ-test distribution has neither the reindex module (`_reindex`) nor the data-streams
API that `helpers.reindex` asks first, so a migration copies documents itself (a scroll and
bulk writes from here), then moves the alias in one atomic `update_aliases` call. The old
index stays until it is removed on purpose.
"""

from __future__ import annotations

import base64
import logging
import re
from dataclasses import dataclass
from typing import Any

from elasticsearch import BadRequestError, Elasticsearch, NotFoundError, helpers

from index.client import answering
from index.clusters import card_of
from index.mapping import (
    EVENT_MAPPING,
    REQUEST_MAPPING,
    Names,
    index_body,
    mapping_digest,
)
from index.masking import remask
from qiuzhu import settings
from qiuzhu.errors import ConfigError, Conflict

log = logging.getLogger(__name__)

#: Every index qiuzhu keeps beside the backlog: its name under Names, and its mapping.
SIDE_INDICES: dict[str, dict[str, Any]] = {"events": EVENT_MAPPING}


def register_side_index(attr: str, mapping: dict[str, Any]) -> None:
    """Declare another index under `Names.<attr>` that `ensure` creates."""
    SIDE_INDICES[attr] = mapping


def current_index(client: Elasticsearch, names: Names) -> str | None:
    """Return the index the backlog alias points at, or None when there is none."""
    with answering(client):
        try:
            aliases = client.indices.get_alias(name=names.requests)
        except NotFoundError:
            return None
    return sorted(aliases)[-1] if aliases else None


def _version(index: str) -> int:
    match = re.search(r"-v(\d+)$", index)
    return int(match.group(1)) if match else 0


def is_current(client: Elasticsearch, names: Names) -> bool:
    """Return whether the backlog's index has the code's mapping (True when none exists)."""
    index = current_index(client, names)
    if index is None:
        return True
    with answering(client):
        meta = client.indices.get_mapping(index=index)[index]["mappings"].get("_meta", {})
    return bool(meta.get("qiuzhu_mapping") == mapping_digest(REQUEST_MAPPING))


def require_current(client: Elasticsearch, names: Names) -> None:
    """Raise ConfigError when the backlog needs `qiuzhu index migrate` before writes."""
    if not is_current(client, names):
        raise ConfigError(
            f"The backlog {names.requests} has an older mapping than this qiuzhu writes: run "
            "`qiuzhu index migrate` first (nothing was written)."
        )


def ensure(client: Elasticsearch, names: Names) -> str:
    """Create the backlog (first version behind its alias) and side indices if missing.

    Returns the backlog's current index name. Logs a warning when its mapping is older than
    the code's, since `qiuzhu index migrate` is then due.
    """
    index = current_index(client, names)
    with answering(client):
        if index is None:
            index = names.requests_version(1)
            try:
                client.indices.create(
                    index=index,
                    aliases={names.requests: {"is_write_index": True}},
                    **index_body(REQUEST_MAPPING, "requests"),
                )
                log.info("Created %s behind alias %s", index, names.requests)
            except BadRequestError as exc:
                # Another process (a run on other sources) created it a moment ago.
                if exc.error != "resource_already_exists_exception":
                    raise
        else:
            meta = client.indices.get_mapping(index=index)[index]["mappings"].get("_meta", {})
            if meta.get("qiuzhu_mapping") != mapping_digest(REQUEST_MAPPING):
                log.warning("%s has an older mapping: run `qiuzhu index migrate`", index)
            _keep_refresh_interval(client, index)
        for attr, mapping in SIDE_INDICES.items():
            side = getattr(names, attr)
            if client.indices.exists(index=side):
                _add_fields(client, side, mapping, attr)
            else:
                try:
                    client.indices.create(index=side, **index_body(mapping, attr))
                except BadRequestError as exc:  # created meanwhile by a concurrent run
                    if exc.error != "resource_already_exists_exception":
                        raise
    return index


def _keep_refresh_interval(client: Elasticsearch, index: str) -> None:
    """Give the backlog INDEX_REFRESH_INTERVAL (a dynamic setting: no migration needed)."""
    want = settings.get("INDEX_REFRESH_INTERVAL")
    found = client.indices.get_settings(index=index, name="index.refresh_interval")
    if found.get(index, {}).get("settings", {}).get("index", {}).get("refresh_interval") != want:
        client.indices.put_settings(index=index, settings={"index": {"refresh_interval": want}})
        log.info("%s now publishes unpublished writes every %s", index, want)


@dataclass(frozen=True)
class Migration:
    """What `migrate` did."""

    old: str | None
    new: str
    copied: int
    skipped: bool


def migrate(client: Elasticsearch, names: Names, force: bool = False) -> Migration:
    """Move the backlog to a new versioned index with the code's mapping.

    Does nothing when the current index already has the code's mapping, unless FORCE.

    Raises:
        Conflict: documents went missing during the copy (the alias is then left alone).
    """
    old = current_index(client, names)
    if old is None:
        return Migration(None, ensure(client, names), 0, skipped=False)
    with answering(client):
        meta = client.indices.get_mapping(index=old)[old]["mappings"].get("_meta", {})
        if meta.get("qiuzhu_mapping") == mapping_digest(REQUEST_MAPPING) and not force:
            return Migration(old, old, 0, skipped=True)
        version = _version(old) + 1
        while client.indices.exists(index=names.requests_version(version)):
            version += 1
        new = names.requests_version(version)
        client.indices.create(index=new, **index_body(REQUEST_MAPPING, "requests"))
        client.indices.refresh(index=old)
        copied, errors = _copy(client, old, new)
        client.indices.refresh(index=new)
        before = client.count(index=old)["count"]
        after = client.count(index=new)["count"]
        if errors or after != before:
            raise Conflict(
                f"Migration to {new} copied {after} of {before} documents "
                f"({errors} errors); the alias still "
                f"points at {old}. Delete {new} and run the migration again."
            )
        client.indices.update_aliases(
            actions=[
                {"remove": {"index": old, "alias": names.requests}},
                {"add": {"index": new, "alias": names.requests, "is_write_index": True}},
            ]
        )
    log.info("Migrated %d documents from %s to %s; %s stays until removed", copied, old, new, old)
    return Migration(old, new, copied, skipped=False)


def _add_fields(client: Elasticsearch, index: str, mapping: dict[str, Any], kind: str) -> None:
    """Bring a side index's mapping up to the code's, when the change only adds fields."""
    meta = client.indices.get_mapping(index=index)[index]["mappings"].get("_meta", {})
    if meta.get("qiuzhu_mapping") == mapping_digest(mapping):
        return
    body = index_body(mapping, kind)["mappings"]
    try:
        client.indices.put_mapping(index=index, **body)
        log.info("Added the new fields of %s's mapping", index)
    except BadRequestError as exc:
        log.error(
            "%s's mapping cannot be updated in place (%s): recreate the index", index, exc.error
        )


def _carded(source: dict[str, Any]) -> dict[str, Any]:
    """Return SOURCE as the current code writes it: names found and masked again (with
    the masking of today), and a dedup card, which documents written before cards lack."""
    if not source.get("text"):
        return source
    source = remask(source)
    if source.get("dedup_card") and _card_version(source["dedup_card"]) >= 2:
        return source
    return {**source, "dedup_card": card_of(source)}


def _card_version(encoded: str) -> int:
    """Return the version of a stored dedup card (0 if unreadable): older ones are re-made."""
    try:
        return base64.b64decode(encoded[:4])[0]
    except (ValueError, IndexError):
        return 0


def _copy(client: Elasticsearch, source: str, target: str) -> tuple[int, int]:
    # helpers.reindex asks the data-streams API, which this distribution lacks.
    actions = (
        {
            "_op_type": "index",
            "_index": target,
            "_id": hit["_id"],
            "_source": _carded(hit["_source"]),
        }
        for hit in helpers.scan(
            client, index=source, query={"query": {"match_all": {}}}, size=500, preserve_order=False
        )
    )
    copied, errors = 0, 0
    for ok, _ in helpers.streaming_bulk(
        client, actions, chunk_size=500, raise_on_error=False, max_retries=5
    ):
        copied += ok
        errors += not ok
    return copied, errors


def drop(client: Elasticsearch, names: Names) -> list[str]:
    """Delete every index under NAMES' prefix (by name: wildcard deletes are refused)."""
    with answering(client):
        found = client.indices.get(
            index=names.pattern,
            expand_wildcards="all",
            allow_no_indices=True,
            ignore_unavailable=True,
        )
        indices = sorted(found)
        if indices:
            client.indices.delete(index=",".join(indices))
    return indices
