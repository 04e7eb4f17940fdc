"""Stream any filtered view of the backlog as CSV, a page at a time.

Rows are read with a point in time and `search_after`, so an export of the whole backlog
holds one page in memory and sees one consistent snapshot even while ingestion writes.
Without contacts, rows are the role-safe `views.shape` of each post; with contacts (a
role allowed to see them, on purpose), the contact columns are added and the export is
recorded as one reveal event.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from elasticsearch import Elasticsearch
from elasticsearch.dsl import Q

from index.client import answering
from index.mapping import PERSONAL_FIELDS, PLACE_LEVELS, Names
from index.search import Filters, filter_clauses, text_query
from index.views import ROW_FIELDS, shape

PAGE = 1000
KEEP_ALIVE = "2m"
COLUMNS = (
    "id",
    "cluster",
    "cluster_size",
    "is_canonical",
    "source",
    "posted_at",
    "kind",
    "outcome",
    "needs",
    "urgency",
    "urgency_cues",
    *PLACE_LEVELS,
    "district_code",
    "street_code",
    "community_code",
    "status",
    "team",
    "assignee",
    "updated_at",
    "text",
)
CONTACT_COLUMNS = ("url", "full_text", *PERSONAL_FIELDS)


def cell(value: Any) -> str:
    """Return VALUE as a CSV cell a spreadsheet shows as text, never runs as a formula."""
    if value is None:
        return ""
    if isinstance(value, list):
        return "|".join(str(v) for v in value)
    text = str(value)
    # A cell starting with = + - @ would be a formula in a spreadsheet: crawled text is hostile.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _line(values: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([cell(v) for v in values])
    return buffer.getvalue()


def rows(
    client: Elasticsearch, names: Names, filters: Filters, *, contacts: bool, links: bool
) -> Iterator[str]:
    """Yield the CSV header line, then one line per post that FILTERS select.

    The caller must have checked that the role may see contacts before passing CONTACTS.
    """
    filters.validate()
    text = text_query(filters.text, filters.masked_text)
    query = Q("bool", must=[text] if text else [], filter=filter_clauses(filters)).to_dict()
    includes = [*ROW_FIELDS, "text_masked", "personal.names", "template", "url"]
    if contacts:
        includes += ["text", "personal"]
    columns = [*COLUMNS, *(CONTACT_COLUMNS if contacts else ())]
    yield "\ufeff" + _line(columns)  # the BOM makes spreadsheet programs read UTF-8
    with answering(client):
        pit = client.open_point_in_time(index=names.requests, keep_alive=KEEP_ALIVE)["id"]
    try:
        after: list[Any] | None = None
        while True:
            with answering(client):
                response = client.search(
                    pit={"id": pit, "keep_alive": KEEP_ALIVE},
                    query=query,
                    sort=[
                        {"posted_at": {"order": "asc", "missing": "_last"}},
                        {"_shard_doc": "asc"},
                    ],
                    size=PAGE,
                    source_includes=includes,
                    search_after=after,
                    track_total_hits=False,
                )
            hits = response["hits"]["hits"]
            if not hits:
                break
            pit = response.get("pit_id", pit)
            for hit in hits:
                source = hit["_source"]
                row = shape(source, links=links)
                values = [row.get(c) for c in COLUMNS]
                if contacts:
                    personal = source.get("personal") or {}
                    values += [source.get("url"), source.get("text")]
                    values += [personal.get(f) for f in PERSONAL_FIELDS]
                yield _line(values)
            after = hits[-1]["sort"]
    finally:
        with answering(client):
            client.close_point_in_time(id=pit)
