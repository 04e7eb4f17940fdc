"""Measure the masking of names against labelled posts: `qiuzhu eval-masking`.

Each labelled post is one JSON object a line:

```json
{"id": "n001", "text": "...", "names": ["陈玉珍"], "titles": ["程阿姨"], "keep": ["王家湾"]}
```

`names` are private persons' full names, which must not survive in `text_masked`;
`titles` are a surname with a title or after 老/小 (王先生, 老李), whose surname must be
masked; `keep` are place and institution names, which must survive whole. The posts go
through `analyze_post` exactly as ingestion analyses them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from classify.analyze import analyze_post
from qiuzhu.errors import InvalidInput


def _strings(row: dict[str, Any], key: str) -> list[str]:
    value = row.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidInput(f"post {row.get('id')!r}: `{key}` must be a list of strings")
    return value


def evaluate_masking(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Return the share of names and titles masked and of places kept, with the misses.

    Misses name the post id and the labelled string, never the post's text.

    Raises:
        InvalidInput: a row lacks `id` or `text`, or a label is not a list of strings.
    """
    counts = {"posts": 0, "names": 0, "names_masked": 0, "titles": 0, "titles_masked": 0}
    counts.update({"keep": 0, "kept": 0, "found": 0, "found_unlabelled": 0})
    misses: dict[str, list[tuple[str, str]]] = {"name": [], "title": [], "place": [], "extra": []}
    for row in rows:
        out = analyze_post({"id": row.get("id"), "text": row.get("text")})
        masked = out["text_masked"]
        counts["posts"] += 1
        names, titles, keep = (_strings(row, key) for key in ("names", "titles", "keep"))
        for label, kind, total, hit in (
            (names, "name", "names", "names_masked"),
            (titles, "title", "titles", "titles_masked"),
        ):
            for value in label:
                counts[total] += 1
                if value in masked:
                    misses[kind].append((str(row["id"]), value))
                else:
                    counts[hit] += 1
        for value in keep:
            counts["keep"] += 1
            if value in masked:
                counts["kept"] += 1
            else:
                misses["place"].append((str(row["id"]), value))
        labelled = [*names, *titles]
        for found in out["names"]:
            counts["found"] += 1
            if not any(found in value or value in found for value in labelled):
                counts["found_unlabelled"] += 1
                misses["extra"].append((str(row["id"]), found))

    def share(part: str, whole: str) -> float:
        return counts[part] / counts[whole] if counts[whole] else 1.0

    return {
        "counts": counts,
        "names_masked": share("names_masked", "names"),
        "titles_masked": share("titles_masked", "titles"),
        "places_kept": share("kept", "keep"),
        "precision": 1 - share("found_unlabelled", "found") if counts["found"] else 1.0,
        "misses": misses,
    }


def format_masking(result: dict[str, Any], misses: bool = False) -> str:
    """Return RESULT as lines a person reads; with MISSES, every miss by post id."""
    c = result["counts"]
    lines = [
        f"posts                {c['posts']}",
        f"names masked         {result['names_masked']:.1%}  ({c['names_masked']}/{c['names']})",
        f"titles masked        {result['titles_masked']:.1%}  ({c['titles_masked']}/{c['titles']})",
        f"places kept          {result['places_kept']:.1%}  ({c['kept']}/{c['keep']})",
        f"found and labelled   {result['precision']:.1%}  "
        f"({c['found'] - c['found_unlabelled']}/{c['found']})",
    ]
    if misses:
        for kind, label in (
            ("name", "name left"),
            ("title", "title left"),
            ("place", "place masked"),
            ("extra", "unlabelled"),
        ):
            lines.extend(f"{label:<14} {post}: {value}" for post, value in result["misses"][kind])
    return "\n".join(lines)
