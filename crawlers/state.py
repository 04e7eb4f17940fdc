"""Per-source crawl state kept between runs: the high-water mark, the seen-set, the retries.

Plain JSON files in the CRAWL_STATE_DIR folder (default VAR_DIR/crawl-state), one per
source; no Scrapy here. The incremental pipeline writes them; spiders read them to decide
which list rows to follow and when to stop paging (`crawlers.paging`).

A file can hold personal data (a post kept for a retry keeps its text), so it is readable
by its owner only, like the spool.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from qiuzhu import settings

logger = logging.getLogger(__name__)

#: Runs that retry a post whose page (or full text) could not be read before it is given up.
RETRY_RUNS = 3
#: How far behind the mark a list that keeps failing is still read back to; past it the
#: list is read like the others again (its failures stay in every report).
HOLD_LIMIT = timedelta(days=7)


def state_dir() -> Path:
    """Return the folder of crawl state: the CRAWL_STATE_DIR setting, or VAR_DIR/crawl-state."""
    configured: str = settings.get("CRAWL_STATE_DIR")
    return Path(configured).expanduser() if configured else settings.var_dir("crawl-state")


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass
class CrawlState:
    """What earlier crawls of one source saw.

    Attributes:
        high_water: the newest `posted_at` of the last crawl that ran to its end and read
            every list page it meant to; other crawls leave it alone, so the next one
            still reads what they never reached.
        seen: content hash by item id of every item emitted within the window that
            spiders still read (see `prune`).
        posted: `posted_at` (ISO 8601) by item id, for the items of `seen` that have one.
        retry: posts to read again next run, by item id: `attempts` (runs that failed to
            read it) and `request` (what the spider needs to ask again).
        held: by list (start URL), the older cutoff to read back to, for lists an earlier
            crawl could not read whole (`paging.Paging.held`).
        full_read_at: when the last full re-read of every list page ended (`paging`).
        last_new_at: when a crawl last found a post it had never emitted.
        quiet_runs: finished crawls since then that found nothing new.
    """

    path: Path
    high_water: datetime | None = None
    seen: dict[str, str] = field(default_factory=dict)
    posted: dict[str, str] = field(default_factory=dict)
    retry: dict[str, dict[str, Any]] = field(default_factory=dict)
    held: dict[str, datetime] = field(default_factory=dict)
    full_read_at: datetime | None = None
    last_new_at: datetime | None = None
    quiet_runs: int = 0

    @classmethod
    def load(cls, folder: Path, source_id: str) -> CrawlState:
        """Read the state of SOURCE_ID from FOLDER; a missing or unreadable file starts afresh."""
        path = Path(folder) / f"{source_id}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                path=path,
                high_water=_when(data.get("high_water")),
                seen=dict(data.get("seen", {})),
                posted=dict(data.get("posted", {})),
                retry={k: dict(v) for k, v in dict(data.get("retry", {})).items()},
                held={k: datetime.fromisoformat(v) for k, v in dict(data.get("held", {})).items()},
                full_read_at=_when(data.get("full_read_at")),
                last_new_at=_when(data.get("last_new_at")),
                quiet_runs=int(data.get("quiet_runs", 0)),
            )
        except FileNotFoundError:
            return cls(path=path)
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            logger.warning("crawl state %s is unreadable (%s); starting afresh", path, exc)
            return cls(path=path)

    def remember(self, item_id: str, digest: str, posted_at: datetime | None) -> None:
        """Record that ITEM_ID was emitted with content hash DIGEST."""
        self.seen[item_id] = digest
        if posted_at is not None:
            self.posted[item_id] = posted_at.isoformat()

    def prune(self, keep: timedelta) -> int:
        """Forget items posted more than KEEP before the high-water mark; return how many.

        Spiders drop what lies before the mark less their reach (the overlap window, or a
        full re-read's longer one) without asking the seen-set, so entries behind KEEP
        are never read again and would only make the file grow every night. Items without
        a date are left to `forget_unmet`.
        """
        if self.high_water is None:
            return 0
        # A list read back to an older cutoff must still recognise what it meets there.
        limit = min([self.high_water - keep, *self.holds().values()])
        old = []
        for item_id, posted in self.posted.items():
            try:
                if datetime.fromisoformat(posted) < limit:
                    old.append(item_id)
            except (TypeError, ValueError):
                old.append(item_id)
        for item_id in old:
            self.posted.pop(item_id, None)
            self.seen.pop(item_id, None)
        return len(old)

    def holds(self) -> dict[str, datetime]:
        """Return the held cutoffs (see `held`) no further than HOLD_LIMIT behind the mark."""
        if self.high_water is None:
            return {}
        floor = self.high_water - HOLD_LIMIT
        return {k: v for k, v in self.held.items() if v >= floor}

    def forget_unmet(self, met: Iterable[str]) -> int:
        """Forget undated items a crawl that read the whole source did not meet; return how many.

        An undated item (a sheet row without a time) cannot be pruned by date; once a
        complete read no longer lists it, it has left the source.
        """
        met = set(met)
        gone = [i for i in self.seen if i not in self.posted and i not in met]
        for item_id in gone:
            del self.seen[item_id]
        return len(gone)

    def save(self) -> None:
        """Write the state atomically (a crash never leaves half a file), owner-only."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "high_water": self.high_water.isoformat() if self.high_water else None,
            "full_read_at": self.full_read_at.isoformat() if self.full_read_at else None,
            "last_new_at": self.last_new_at.isoformat() if self.last_new_at else None,
            "quiet_runs": self.quiet_runs,
            "seen": self.seen,
            "posted": self.posted,
            "retry": self.retry,
            "held": {k: v.isoformat() for k, v in self.held.items()},
        }
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # a leftover .tmp keeps its mode through O_CREAT
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, ensure_ascii=False, indent=0)
        os.replace(tmp, self.path)
