"""Measure the NLP stage against labelled posts: `qiuzhu eval`."""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classify.analyze import RULES, analyze_stream
from classify.needs import NEEDS
from classify.urgency import LEVELS
from qiuzhu.errors import InvalidInput

if TYPE_CHECKING:
    from classify.corpus import Corpus
    from classify.model import Model

PLACE_LEVELS = ("province", "city", "district", "street", "community")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Return the objects of a JSONL file.

    Raises:
        InvalidInput: the file is missing or a line is not a JSON object.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    out = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            raise InvalidInput(f"{path}:{number} is not JSON: expected one object a line") from None
        if not isinstance(obj, dict) or "id" not in obj:
            raise InvalidInput(f"{path}:{number} is not a JSON object with an `id`")
        out.append(obj)
    return out


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}


def _pairs(clusters: Iterable[list[int]]) -> set[tuple[int, int]]:
    return {pair for group in clusters for pair in combinations(sorted(group), 2)}


def score(gold: list[dict[str, Any]], predicted: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the metrics of PREDICTED against GOLD, matched by position."""
    if len(gold) != len(predicted):
        raise InvalidInput("gold and predictions differ in length: match them by post id first")
    labelled = [i for i, g in enumerate(gold) if "kind" in g]
    counts: dict[str, list[int]] = {need: [0, 0, 0] for need in NEEDS}
    kind_ok = 0
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    confusion: dict[str, Counter[str]] = {level: Counter() for level in LEVELS}
    places: dict[str, list[int]] = {level: [0, 0] for level in PLACE_LEVELS}
    unlocated = 0
    #: Posts placed in another province than the one the gold names (a wrong place is
    #: worse than none: a team far away gets it).
    misplaced = 0
    for i in labelled:
        g, p = gold[i], predicted[i]
        gold_needs, pred_needs = set(g.get("needs", [])), set(p.get("needs", []))
        for need in NEEDS:
            counts[need][0] += need in gold_needs and need in pred_needs
            counts[need][1] += need not in gold_needs and need in pred_needs
            counts[need][2] += need in gold_needs and need not in pred_needs
        kind_ok += g.get("kind") == p.get("kind")
        kinds[str(g.get("kind"))][str(p.get("kind"))] += 1
        confusion[g.get("urgency", "normal")][p.get("urgency", "normal")] += 1
        for level in PLACE_LEVELS:
            if g.get(level):
                places[level][0] += 1
                places[level][1] += g[level] == p.get(level)
        unlocated += not p.get("district")
        misplaced += bool(g.get("province") and p.get("province") not in ("", None, g["province"]))
    per_need = {n: _prf(*c) for n, c in counts.items() if c[0] + c[2]}
    total = [sum(c[k] for c in counts.values()) for k in range(3)]
    critical_tp = confusion["critical"]["critical"]
    critical_pred = sum(confusion[level]["critical"] for level in LEVELS)
    result: dict[str, Any] = {
        "posts": len(gold),
        "labelled": len(labelled),
        "needs": per_need,
        "needs_micro_f1": _prf(*total)["f1"],
        "needs_macro_f1": sum(m["f1"] for m in per_need.values()) / len(per_need)
        if per_need
        else 0.0,
        "kind_accuracy": kind_ok / len(labelled) if labelled else 0.0,
        "kind_confusion": {kind: dict(row) for kind, row in kinds.items()},
        "urgency_confusion": {level: dict(confusion[level]) for level in LEVELS},
        "critical_recall": critical_tp / sum(confusion["critical"].values())
        if confusion["critical"]
        else 0.0,
        "critical_precision": critical_tp / critical_pred if critical_pred else 0.0,
        "places": {
            lv: {"accuracy": ok / n if n else 0.0, "support": n} for lv, (n, ok) in places.items()
        },
        "unlocated_share": unlocated / len(labelled) if labelled else 0.0,
        "misplaced_province": misplaced,
    }
    if all("cluster" in g for g in gold):
        gold_groups: dict[str, list[int]] = defaultdict(list)
        pred_groups: dict[str, list[int]] = defaultdict(list)
        for i, (g, p) in enumerate(zip(gold, predicted, strict=True)):
            gold_groups[g["cluster"]].append(i)
            pred_groups[str(p.get("cluster", f"missing-{i}"))].append(i)
        gold_pairs, pred_pairs = _pairs(gold_groups.values()), _pairs(pred_groups.values())
        tp = len(gold_pairs & pred_pairs)
        result["duplicates"] = _prf(tp, len(pred_pairs) - tp, len(gold_pairs) - tp)
    return result


def fold_of(post_id: Any, folds: int) -> int:
    """Return the fixed fold (0..FOLDS-1) of a post, from a hash of its id."""
    digest = hashlib.blake2b(str(post_id).encode("utf-8"), digest_size=4).digest()
    return int.from_bytes(digest, "big") % folds


def score_folds(
    gold: list[dict[str, Any]], predicted: list[dict[str, Any]], folds: int
) -> list[dict[str, Any]]:
    """Return the needs, kind and urgency metrics of each fixed fold of the labelled posts."""
    out = []
    for fold in range(folds):
        keep = [i for i, g in enumerate(gold) if fold_of(g["id"], folds) == fold]
        part = score(
            [{k: v for k, v in gold[i].items() if k != "cluster"} for i in keep],
            [predicted[i] for i in keep],
        )
        out.append(part)
    return out


def merge_gold(files: Sequence[list[dict[str, Any]]], post_ids: list[str]) -> list[dict[str, Any]]:
    """Return one gold object per post id (in POST_IDS order) from several label files.

    Labels are matched by id, so a file may label only some posts. An id labelled in
    several files takes its keys from the first file that has them (e.g. the duplicate
    `cluster` from the dev labels and kind, needs and urgency from the extra labels). A
    post no file labels gets `{"id": ...}` only and is left out of the needs metrics.

    Raises:
        InvalidInput: a gold id is not among the posts, or a file lists an id twice.
    """
    known = set(post_ids)
    merged: dict[str, dict[str, Any]] = {}
    for rows in files:
        seen: set[str] = set()
        for row in rows:
            key = str(row["id"])
            if key not in known:
                raise InvalidInput(
                    f"gold id {key} is not among the posts: give the posts file it labels"
                )
            if key in seen:
                raise InvalidInput(f"gold id {key} is listed twice in one labels file")
            seen.add(key)
            target = merged.setdefault(key, {"id": row["id"]})
            for field_name, value in row.items():
                target.setdefault(field_name, value)
    return [merged.get(key, {"id": key}) for key in post_ids]


def evaluate(
    gold_paths: Path | Sequence[Path], posts_path: Path, folds: int = 0, rules: bool = False
) -> dict[str, Any]:
    """Analyse the posts of POSTS_PATH and score them against the labels of GOLD_PATHS.

    Labels are matched to posts by id (see `merge_gold`), so several label files can be
    scored together or one alone. With FOLDS, the result also holds the metrics of each
    fixed fold (`folds`), to show how much the figures move from one part of the labels
    to another.
    """
    paths = [gold_paths] if isinstance(gold_paths, Path) else list(gold_paths)
    lines = posts_path.read_text(encoding="utf-8").splitlines()
    predicted = [
        json.loads(line) for line in analyze_stream(lines, RULES if rules else None) if line
    ]
    pred_ids = [str(p.get("id")) for p in predicted]
    if len(set(pred_ids)) != len(pred_ids):
        raise InvalidInput("the posts file lists an id twice: give every post its own id")
    gold = merge_gold([read_jsonl(path) for path in paths], pred_ids)
    result = score(gold, predicted)
    if folds > 1:
        result["folds"] = score_folds(gold, predicted, folds)
    return result


def evaluate_corpus(
    corpus: Corpus, split: str, model: Model | None = None, rules: bool = False
) -> dict[str, Any]:
    """Analyse the posts of CORPUS in SPLIT as `qiuzhu analyze` does and score them.

    MODEL decides (default: the process-wide artefact), or the cue rules alone with RULES.
    Duplicates are scored among the split's posts.
    """
    from classify.corpus import load_examples

    examples = [e for e in load_examples(corpus) if e.split == split]
    if not examples:
        raise InvalidInput(f"corpus {corpus.name} has no labelled posts in its {split} split")
    lines = [json.dumps(e.post, ensure_ascii=False) for e in examples]
    decider = RULES if rules else model
    predicted = [json.loads(line) for line in analyze_stream(lines, decider) if line]
    return score([e.gold for e in examples], predicted)


def format_report(result: dict[str, Any]) -> str:
    """Return the metrics as readable tables."""
    out = [f"posts {result['posts']}, fully labelled {result['labelled']}", ""]
    out.append(f"{'need':<14}{'P':>7}{'R':>7}{'F1':>7}{'n':>6}")
    for need, m in result["needs"].items():
        out.append(
            f"{need:<14}{m['precision']:>7.3f}{m['recall']:>7.3f}{m['f1']:>7.3f}{m['support']:>6}"
        )
    out.append(
        f"needs micro-F1 {result['needs_micro_f1']:.3f}   macro-F1 {result['needs_macro_f1']:.3f}"
    )
    out.append(f"kind accuracy {result['kind_accuracy']:.3f}  (rows gold, columns predicted)")
    kinds = ("request", "offer", "update", "irrelevant")
    out.append(f"{'':<12}" + "".join(f"{kind:>12}" for kind in kinds))
    for kind in kinds:
        row = result.get("kind_confusion", {}).get(kind, {})
        if row:
            out.append(f"{kind:<12}" + "".join(f"{row.get(p, 0):>12}" for p in kinds))
    out += ["", "urgency (rows gold, columns predicted)"]
    out.append(f"{'':<10}" + "".join(f"{level:>10}" for level in LEVELS))
    for level in LEVELS:
        row = result["urgency_confusion"][level]
        out.append(f"{level:<10}" + "".join(f"{row.get(p, 0):>10}" for p in LEVELS))
    out.append(
        f"critical recall {result['critical_recall']:.3f}   "
        f"precision {result['critical_precision']:.3f}"
    )
    if "places" in result:
        out += ["", "place accuracy (posts whose gold level is filled)"]
        for level, m in result["places"].items():
            out.append(f"{level:<10}{m['accuracy']:>7.3f}  n={m['support']}")
        out.append(f"unlocated share (no district) {result['unlocated_share']:.3f}")
        out.append(f"placed in another province than the gold's: {result['misplaced_province']}")
    if "duplicates" in result:
        d = result["duplicates"]
        out += [
            "",
            f"duplicate pairs P {d['precision']:.3f}  R {d['recall']:.3f}  F1 {d['f1']:.3f}"
            f"  gold pairs {d['support']}",
        ]
    if result.get("folds"):
        out += ["", f"{'fold':<6}{'posts':>6}{'micro':>8}{'macro':>8}{'crit R':>8}{'crit P':>8}"]
        for number, part in enumerate(result["folds"]):
            out.append(
                f"{number:<6}{part['labelled']:>6}{part['needs_micro_f1']:>8.3f}"
                f"{part['needs_macro_f1']:>8.3f}{part['critical_recall']:>8.3f}"
                f"{part['critical_precision']:>8.3f}"
            )
        micro = [part["needs_micro_f1"] for part in result["folds"]]
        macro = [part["needs_macro_f1"] for part in result["folds"]]
        out.append(
            f"{'mean':<12}{sum(micro) / len(micro):>8.3f}{sum(macro) / len(macro):>8.3f}"
            f"   (min {min(micro):.3f} / {min(macro):.3f})"
        )
    return "\n".join(out)
