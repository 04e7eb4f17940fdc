"""Per-source crawl state kept between runs: the high-water mark and the seen-set.

Plain JSON files under VAR_DIR/crawl-state, one per source; no Scrapy here. The
incremental pipeline writes them; spiders read the high-water mark to stop paging once
they are past it (less an overlap window).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass
class CrawlState:
    """What earlier crawls of one source saw.

    Attributes:
        high_water: the newest `posted_at` of the last crawl that ran to its end; an
            interrupted crawl leaves it alone, so resuming still reads everything.
        seen: content hash by item id of every item emitted within the window that
            spiders still read (see `prune`).
        posted: `posted_at` (ISO 8601) by item id, for the items of `seen` that have one.
    """

    path: Path
    high_water: datetime | None = None
    seen: dict[str, str] = field(default_factory=dict)
    posted: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path, source_id: str) -> CrawlState:
        """Read the state of SOURCE_ID from FOLDER; a missing or unreadable file starts afresh."""
        path = Path(folder) / f"{source_id}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            mark = data.get("high_water")
            return cls(
                path=path,
                high_water=datetime.fromisoformat(mark) if mark else None,
                seen=dict(data.get("seen", {})),
                posted=dict(data.get("posted", {})),
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

        Spiders drop what lies before the mark less their overlap window without asking
        the seen-set, so entries far behind it are never read again and would only make
        the file grow every night. Items without a date (spreadsheet rows) are kept.
        """
        if self.high_water is None:
            return 0
        limit = self.high_water - keep
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

    def save(self) -> None:
        """Write the state atomically (a crash never leaves half a file)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "high_water": self.high_water.isoformat() if self.high_water else None,
            "seen": self.seen,
            "posted": self.posted,
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=0), encoding="utf-8")
        os.replace(tmp, self.path)
