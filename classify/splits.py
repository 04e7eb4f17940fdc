"""Train / validation / test splits of the labelled posts: data under version control.

Each crisis is split by time (the earliest posts train, the latest test), so that every
figure is measured on posts later than the ones learnt from, as the held-out posts are.
A split file lists `id<TAB>split` a line. Once written it is frozen: the trainer and
`qiuzhu eval` only read it, and `write_splits` refuses to change an id's split.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from qiuzhu.errors import InvalidInput

SPLITS = ("train", "validation", "test")
#: Shares of train and validation; the rest is test.
FRACTIONS = (0.6, 0.2)


def by_time(
    posts: Iterable[Mapping[str, Any]], fractions: tuple[float, float] = FRACTIONS
) -> dict[str, str]:
    """Return {id: split} for POSTS split by `posted_at` (then id) at FRACTIONS.

    Posts without a time go to train. A cut never separates posts of the same time (a
    source that gives only the day keeps each day in one split).
    """
    rows = sorted(
        ((str(p.get("posted_at") or ""), str(p["id"])) for p in posts),
        key=lambda row: row,
    )
    out: dict[str, str] = {}
    cuts = [round(len(rows) * fractions[0]), round(len(rows) * (fractions[0] + fractions[1]))]
    split = 0
    for number, (when, key) in enumerate(rows):
        while split < 2 and number >= cuts[split] and (not when or rows[number - 1][0] != when):
            split += 1
        out[key] = SPLITS[split] if when else "train"
    return out


def by_hash(ids: Iterable[str], fractions: tuple[float, float] = FRACTIONS) -> dict[str, str]:
    """Return {id: split} by a hash of each id: for invented posts, which have no real time."""
    out = {}
    for key in ids:
        digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
        share = int.from_bytes(digest, "big") / 2**64
        out[key] = (
            "train"
            if share < fractions[0]
            else "validation"
            if share < fractions[0] + fractions[1]
            else "test"
        )
    return out


def read_splits(path: Path) -> dict[str, str]:
    """Return {id: split} of a split file.

    Raises:
        InvalidInput: the file is missing, or a line is not `id<TAB>split`.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InvalidInput(f"cannot read the split file {path}: {exc.strerror}") from None
    out: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        key, _, split = line.partition("\t")
        if split not in SPLITS or not key:
            raise InvalidInput(f"{path}:{number}: expected `id<TAB>train|validation|test`")
        if key in out:
            raise InvalidInput(f"{path}:{number}: id {key} is listed twice")
        out[key] = split
    return out


def write_splits(path: Path, splits: Mapping[str, str], header: str) -> int:
    """Add the ids of SPLITS that PATH lacks; return how many were added.

    Ids already in PATH keep their split: a frozen test split never changes.

    Raises:
        InvalidInput: SPLITS gives an id of PATH another split.
    """
    known = read_splits(path) if path.exists() else {}
    for key, split in splits.items():
        if key in known and known[key] != split:
            raise InvalidInput(
                f"id {key} is in the {known[key]} split of {path}; splits are frozen"
            )
    new = [key for key in splits if key not in known]
    if not new:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        if not known:
            out.write(f"# {header}\n")
        for key in new:
            out.write(f"{key}\t{splits[key]}\n")
    return len(new)
