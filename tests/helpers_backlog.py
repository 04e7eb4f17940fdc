"""Invented analysed requests for the index tests (no real person's data)."""

from __future__ import annotations

import io
import json
from typing import Any


def post(n: int, **extra: Any) -> dict[str, Any]:
    """Return an invented analysed request numbered N."""
    return {
        "id": str(n),
        "source": "fixture",
        "text": f"测试求助{n}：江岸区后湖街道 老人发烧 需要床位",
        "kind": "request",
        "needs": ["bed"],
        "urgency": "high",
        "district": "江岸区",
        "posted_at": f"2020-02-05T{n % 24:02d}:00:00+08:00",
        **extra,
    }


def jsonl(*posts: dict[str, Any]) -> io.StringIO:
    """Return POSTS as a JSONL stream."""
    return io.StringIO("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in posts))
