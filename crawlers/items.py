"""The one item every spider yields: a help request as one source published it.

This module imports no Scrapy: classify/, index/ and the API read `HelpRequest` too.
Scrapy handles dataclass items through itemadapter.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

#: Reply states an official message board reports.
REPLIED = "已回复"
NOT_REPLIED = "未回复"


@dataclass
class HelpRequest:
    """A help request, offer or update as one source published it."""

    source: str
    source_id: str
    url: str
    text: str = ""
    title: str = ""
    author: str = ""
    posted_at: datetime | None = None
    images: list[str] = field(default_factory=list)
    raw: Any = None
    template: dict[str, str] = field(default_factory=dict)
    reply_state: str = ""
    deleted: bool = False
    repost_of: str = ""
    crawled_at: datetime | None = None
    #: The source's full text could not be fetched: `text` is the shortened one it lists.
    truncated: bool = False

    @property
    def id(self) -> str:
        """Return the deterministic backlog id, `<source>:<source_id>`."""
        return f"{self.source}:{self.source_id}"

    def content_hash(self) -> str:
        """Return a hash of what a reader sees, so a changed post can be told from a seen one."""
        seen = {
            "title": self.title,
            "text": self.text,
            "images": self.images,
            "reply_state": self.reply_state,
            "deleted": self.deleted,
            "repost_of": self.repost_of,
        }
        # Only when set, so the hashes of every item crawled before the field existed hold.
        if self.truncated:
            seen["truncated"] = True
        blob = json.dumps(seen, ensure_ascii=False, sort_keys=True)
        return hashlib.sha1(blob.encode("utf-8")).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """Return the item as JSON-friendly values (dates as ISO 8601), with its `id`."""
        data = asdict(self)
        for key in ("posted_at", "crawled_at"):
            value = data[key]
            data[key] = value.isoformat() if value is not None else None
        return {"id": self.id, **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HelpRequest:
        """Build an item back from `to_dict()` output (extra keys such as `id` are ignored)."""
        names = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        for key in ("posted_at", "crawled_at"):
            if isinstance(kwargs.get(key), str):
                kwargs[key] = datetime.fromisoformat(kwargs[key])
        return cls(**kwargs)
