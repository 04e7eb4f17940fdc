"""Corrections that teach: dispatchers' corrections as training examples, and how the
current model fares on them.

A kept correction (index/corrections.py) names a request and its corrected kind, needs,
urgency and place; its text stays in the backlog and is read at training time only, so
no real post's text is written anywhere by this. `examples` makes `classify.corpus`
examples of them: a fixed fifth (by a hash of the id) goes to validation, the rest to
train, never to a test split (the frozen test splits stay as they are). `figures` scores
a model on them per need, and tells drift: whether the most recent corrections disagree
with the model more than the earlier ones.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from classify.corpus import Example

CORPUS = "corrections"
#: Share of corrections (in fifths, by a hash of the id) kept for validation.
_VALIDATION_FIFTHS = 1
#: Corrections this recent are "recent" for drift, and how many there must be at least.
RECENT = timedelta(days=7)
MIN_RECENT = 10
#: The rise in disagreement that counts as drift.
DRIFT = 0.10


def split_of(request_id: str) -> str:
    """Return the split a correction trains in: validation for a fixed fifth, else train."""
    digest = hashlib.blake2b(request_id.encode(), digest_size=2).digest()
    return "validation" if int.from_bytes(digest, "big") % 5 < _VALIDATION_FIFTHS else "train"


def examples(labels: list[dict[str, Any]], posts: dict[str, dict[str, Any]]) -> list[Example]:
    """Return the corrections LABELS whose post is in POSTS (id -> text, source, posted_at)
    as training examples."""
    out = []
    for label in labels:
        post = posts.get(label["request_id"])
        if not post or not post.get("text"):
            continue
        after = label.get("after") or {}
        gold = {
            "kind": after.get("kind") or "request",
            "outcome": "",
            "needs": list(after.get("needs") or []),
            "urgency": after.get("urgency") or "normal",
            "district": after.get("district") or "",
            "district_code": after.get("district_code") or "",
            "street": after.get("street") or "",
            "community": after.get("community") or "",
            "cluster": label["request_id"],
        }
        item = {"id": label["request_id"], **post}
        out.append(Example(CORPUS, split_of(label["request_id"]), item, gold))
    return out


def _f1(tp: int, fp: int, fn: int) -> float | None:
    if not tp + fp + fn:
        return None
    return round(2 * tp / (2 * tp + fp + fn), 4)


def _share(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def figures(
    model: Any, found: list[Example], labels: list[dict[str, Any]], now: datetime
) -> dict[str, Any]:
    """Return MODEL's per-need F1 on the corrections FOUND, how many corrections touched
    each need, and drift (recent against earlier disagreement)."""
    from classify.train import decisions, prepare

    touched: Counter[str] = Counter()
    for label in labels:
        before = set((label.get("before") or {}).get("needs") or [])
        after = set((label.get("after") or {}).get("needs") or [])
        touched.update(before ^ after)
    result: dict[str, Any] = {
        "corrections": len(labels),
        "scored": len(found),
        "touched": dict(touched),
    }
    if not found:
        return {**result, "needs_f1": {}, "drift": None}
    data = prepare(found, model.meta.get("steps") or [])
    made = decisions(model, data)
    counts: dict[str, list[int]] = {}
    disagree: list[tuple[bool, bool]] = []
    at = {label["request_id"]: label.get("at") or "" for label in labels}
    for example, decision in zip(found, made, strict=True):
        gold, predicted = set(example.gold["needs"]), set(decision.needs)
        for need in gold | predicted:
            tp_fp_fn = counts.setdefault(need, [0, 0, 0])
            tp_fp_fn[
                0 if need in gold and need in predicted else 1 if need in predicted else 2
            ] += 1
        wrong = (
            gold != predicted
            or decision.kind != example.gold["kind"]
            or decision.urgency != example.gold["urgency"]
        )
        when = at.get(example.post["id"], "")
        disagree.append((bool(when) and datetime.fromisoformat(when) >= now - RECENT, wrong))
    result["needs_f1"] = {need: _f1(*c) for need, c in sorted(counts.items())}
    recent = [w for r, w in disagree if r]
    earlier = [w for r, w in disagree if not r]
    drift = None
    if len(recent) >= MIN_RECENT and earlier:
        drift = (_share(recent) or 0) - (_share(earlier) or 0) >= DRIFT
    result["disagreement"] = {
        "recent": _share(recent),
        "earlier": _share(earlier),
        "recent_n": len(recent),
        "earlier_n": len(earlier),
    }
    result["drift"] = drift
    return result
