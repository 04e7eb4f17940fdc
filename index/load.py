"""Load already-analysed requests (the `qiuzhu analyze` JSONL format) into the backlog."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from elasticsearch import Elasticsearch

from index.admin import ensure, require_current
from index.backlog import write_docs
from index.bulk import BulkReport, Spool
from index.clusters import SameEpisode
from index.documents import crawled_part
from index.mapping import Names
from qiuzhu.errors import InvalidInput

log = logging.getLogger(__name__)


@dataclass
class LoadReport:
    """What a load read, skipped and wrote."""

    lines: int = 0
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    bulk: BulkReport = field(default_factory=BulkReport)


def parse_lines(lines: Iterable[str], report: LoadReport) -> Iterator[dict[str, Any]]:
    """Yield one document's crawled part per good line; note each bad line's number."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        report.lines += 1
        try:
            post = json.loads(line)
            yield crawled_part(post)
        except ValueError as exc:
            report.bad_lines.append((number, f"not JSON ({exc.args[0].split(':')[0]})"))
        except InvalidInput as exc:
            report.bad_lines.append((number, exc.message))


def load(
    client: Elasticsearch,
    names: Names,
    stream: TextIO,
    spool: Spool | None = None,
    same_episode: SameEpisode | None = None,
    batch_size: int = 500,
) -> LoadReport:
    """Load every good line of STREAM into the backlog; bad lines are reported, not fatal.

    With SAME_EPISODE, each batch is deduplicated against the whole backlog; without it,
    the clusters in the file are kept.
    """
    ensure(client, names)
    require_current(client, names)
    report = LoadReport()
    docs = parse_lines(stream, report)
    report.bulk = write_docs(client, names, docs, spool, same_episode, batch_size)
    if report.bad_lines:
        log.warning("%d malformed line(s) skipped", len(report.bad_lines))
    return report
