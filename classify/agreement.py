"""Agreement of two labellers, field by field: Cohen's kappa and the share of equal labels.

`qiuzhu agreement FIRST --second SECOND` matches the labels by post id; FIRST may be
several files (the first labels of each crisis). Needs are multi-label: each need is a
yes/no field of its own, and their kappas are averaged over the needs either labeller
used. Places compare the name at each level, an empty name counting as a value.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from classify.evaluate import read_jsonl
from classify.needs import NEEDS
from qiuzhu.errors import InvalidInput

FIELDS = ("kind", "urgency", "outcome", "province", "city", "district", "street", "community")


def kappa(first: Sequence[Any], second: Sequence[Any]) -> float:
    """Return Cohen's kappa of two labellings of the same items (1.0 when both are constant)."""
    from sklearn.metrics import cohen_kappa_score

    if len(set(first) | set(second)) < 2:
        return 1.0
    return float(cohen_kappa_score(list(first), list(second)))


def agreement(first: list[dict[str, Any]], second: list[dict[str, Any]]) -> dict[str, Any]:
    """Return per-field kappa and equal share of the posts both label fully."""
    by_id = {str(row["id"]): row for row in first if "kind" in row}
    pairs = [(by_id[str(row["id"])], row) for row in second if str(row["id"]) in by_id]
    if not pairs:
        raise InvalidInput("the two label sets share no fully labelled post id")
    out: dict[str, Any] = {"posts": len(pairs), "fields": {}}
    for name in FIELDS:
        a = [str(p.get(name) or "") for p, _ in pairs]
        b = [str(q.get(name) or "") for _, q in pairs]
        equal = sum(x == y for x, y in zip(a, b, strict=True)) / len(pairs)
        out["fields"][name] = {"kappa": kappa(a, b), "equal": equal}
    needs = {}
    for need in NEEDS:
        has_a = [need in (p.get("needs") or []) for p, _ in pairs]
        has_b = [need in (q.get("needs") or []) for _, q in pairs]
        if any(has_a) or any(has_b):
            needs[need] = {"kappa": kappa(has_a, has_b), "first": sum(has_a), "second": sum(has_b)}
    out["needs"] = needs
    out["needs_mean_kappa"] = sum(v["kappa"] for v in needs.values()) / len(needs)
    out["needs_equal"] = sum(
        set(p.get("needs") or []) == set(q.get("needs") or []) for p, q in pairs
    ) / len(pairs)
    return out


def agreement_files(first: Sequence[Path], second: Path) -> dict[str, Any]:
    """Return `agreement` of the labels in FIRST (several files) and SECOND."""
    rows = [row for path in first for row in read_jsonl(path)]
    return agreement(rows, read_jsonl(second))


def format_agreement(result: dict[str, Any]) -> str:
    """Return the agreement as a readable table."""
    out = [
        f"posts labelled by both: {result['posts']}",
        "",
        f"{'field':<12}{'kappa':>8}{'equal':>8}",
    ]
    for name, m in result["fields"].items():
        out.append(f"{name:<12}{m['kappa']:>8.3f}{m['equal']:>8.3f}")
    out.append(
        f"{'needs':<12}{result['needs_mean_kappa']:>8.3f}{result['needs_equal']:>8.3f}"
        "   (mean kappa over needs; equal: the same set)"
    )
    out += ["", f"{'need':<14}{'kappa':>8}{'first':>7}{'second':>7}"]
    for need, m in result["needs"].items():
        out.append(f"{need:<14}{m['kappa']:>8.3f}{m['first']:>7}{m['second']:>7}")
    return "\n".join(out)
