"""Cross-validate a small trained needs classifier against the rules, held out.

Run: python -m classify.train --gold LABELS.jsonl --posts POSTS.jsonl

Folds are fixed by a hash of the post id (`classify.evaluate.fold_of`): for each of the
5 folds a model is trained on the other four and tested on it, for every need with
enough positive examples: one logistic regression per need over hashed character
bigrams and trigrams of the post (template labels, links and punctuation stripped, as
for duplicates) plus the rule scores and decisions of every need. The report prints,
per need, the pooled held-out F1 of the rules and of the rules with the model deciding
that need, and the held-out micro/macro F1 of both. On the 200 dev labels (Feb 2020)
no need beat the rules, so no model ships and the rules alone decide; a need that wins
on more labels would be stored as weights over hashed features only (no text).
Nothing of the posts is printed.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from classify.dedup import fmix64
from classify.evaluate import fold_of, read_jsonl
from classify.needs import NEEDS, decide_kind, decide_needs, score_needs
from classify.nlp import get_nlp, normalise

log = logging.getLogger(__name__)

#: Hash buckets of the n-gram features (a power of two).
BUCKETS = 1 << 12
#: Features after the n-gram buckets: per need, the rule score and the rule decision.
RULE_FEATURES = 2 * len(NEEDS)


def ngram_buckets(norm: str) -> np.ndarray:
    """Return the distinct buckets of the character bigrams and trigrams of NORM."""
    if len(norm) < 2:
        return np.empty(0, dtype=np.int64)
    codes = np.frombuffer(norm.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    bigrams = codes[:-1] << np.uint64(21) | codes[1:]
    trigrams = codes[:-2] << np.uint64(42) | codes[1:-1] << np.uint64(21) | codes[2:]
    # A high bit keeps bigrams and trigrams apart before mixing.
    packed = np.concatenate([bigrams | np.uint64(1 << 63), trigrams])
    return np.unique((fmix64(packed) % np.uint64(BUCKETS)).astype(np.int64))


def features(norm: str, scores: dict[str, float], needs: list[str]) -> np.ndarray:
    """Return the feature vector of one post (float32, BUCKETS + RULE_FEATURES)."""
    row = np.zeros(BUCKETS + RULE_FEATURES, dtype=np.float32)
    buckets = ngram_buckets(norm)
    if len(buckets):
        # Scaled so that long and short posts weigh alike.
        row[buckets] = 1.0 / np.sqrt(len(buckets))
    for i, need in enumerate(NEEDS):
        row[BUCKETS + 2 * i] = min(scores.get(need, 0.0), 6.0) / 2.0
        row[BUCKETS + 2 * i + 1] = 1.0 if need in needs else 0.0
    return row


FOLDS = 5
# A need is trained only with this many positive posts in the training folds.
_MIN_POSITIVES = 8
_L2 = 1e-2
_STEPS = 400
_RATE = 2.0
# Fixed, not tuned on the held-out folds (that would flatter the model).
_THRESHOLD = 0.5


def rule_view(text: str) -> tuple[str, dict[str, float], list[str]]:
    """Return (dedup-normalised text, rule scores, rule needs) of one post."""
    from classify.dedup import normalise_for_dedup

    norm_text = normalise(text)
    nlp = get_nlp()
    with nlp.memory_zone():
        doc = nlp(norm_text)
        fields = doc._.template or {}
        cues = doc._.cues or []
        kind, _ = decide_kind(cues, templated=len(fields) >= 3)
        scores = score_needs(cues, kind)
        needs = decide_needs(scores) if kind != "irrelevant" else []
    return normalise_for_dedup(norm_text), scores, needs


def fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Return (weights, bias) of an L2 logistic regression, by full-batch gradient descent."""
    weights = np.zeros(x.shape[1], dtype=np.float64)
    bias = 0.0
    # Positives are rare: weigh them up to balance the classes.
    pos = max(float(y.sum()), 1.0)
    sample = np.where(y > 0, len(y) / (2 * pos), len(y) / (2 * max(len(y) - pos, 1.0)))
    for _ in range(_STEPS):
        p = 1.0 / (1.0 + np.exp(-(x @ weights + bias)))
        error = (p - y) * sample
        weights -= _RATE * (x.T @ error / len(y) + _L2 * weights)
        bias -= _RATE * float(error.mean())
    return weights, bias


def _f1(gold: list[set[str]], pred: list[set[str]], need: str) -> float:
    tp = sum(need in g and need in p for g, p in zip(gold, pred, strict=True))
    fp = sum(need not in g and need in p for g, p in zip(gold, pred, strict=True))
    fn = sum(need in g and need not in p for g, p in zip(gold, pred, strict=True))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def _micro_macro(gold: list[set[str]], pred: list[set[str]]) -> tuple[float, float]:
    present = [n for n in NEEDS if any(n in g for g in gold)]
    tp = sum(len(g & p) for g, p in zip(gold, pred, strict=True))
    fp = sum(len(p - g) for g, p in zip(gold, pred, strict=True))
    fn = sum(len(g - p) for g, p in zip(gold, pred, strict=True))
    micro = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return micro, sum(_f1(gold, pred, n) for n in present) / len(present)


def cross_validate(x: np.ndarray, gold: list[set[str]], folds: np.ndarray) -> dict[str, np.ndarray]:
    """Return the held-out probabilities of each need with enough positive examples."""
    probs: dict[str, np.ndarray] = {}
    for need in NEEDS:
        y = np.array([need in g for g in gold], dtype=np.float64)
        out = np.full(len(y), np.nan)
        for fold in range(FOLDS):
            train, test = folds != fold, folds == fold
            if y[train].sum() < _MIN_POSITIVES:
                break
            weights, bias = fit(x[train], y[train])
            out[test] = 1.0 / (1.0 + np.exp(-(x[test] @ weights + bias)))
        else:
            probs[need] = out
    return probs


def combine(rules: list[str], chosen: dict[str, bool]) -> set[str]:
    """Return the needs of one post with the model deciding the needs in CHOSEN."""
    out = {n for n in rules if n not in chosen} | {n for n, on in chosen.items() if on}
    if rules == ["other"] and len(out) > 1:
        out.discard("other")
    return out or {"other"}


def main(argv: list[str] | None = None) -> None:
    """Print the held-out figures of the rules and of the rules with a trained model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, required=True, help="Labels (JSONL).")
    parser.add_argument("--posts", type=Path, required=True, help="Posts (JSONL), same ids.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    texts = {str(p["id"]): p.get("text") or "" for p in read_jsonl(args.posts)}
    labelled = [g for g in read_jsonl(args.gold) if "kind" in g]
    gold = [set(g.get("needs") or []) for g in labelled]
    views = [rule_view(texts[str(g["id"])]) for g in labelled]
    rules = [needs for _, _, needs in views]
    x = np.stack([features(*view) for view in views]).astype(np.float64)
    folds = np.array([fold_of(g["id"], FOLDS) for g in labelled])
    probs = cross_validate(x, gold, folds)
    rule_sets = [set(r) for r in rules]
    print(f"{len(labelled)} labelled posts, {FOLDS} folds by id hash; held-out F1 per need")
    print(f"{'need':<14}{'n':>4}{'rules':>8}{'model':>8}  threshold")
    kept: dict[str, float] = {}
    for need in NEEDS:
        n = sum(need in g for g in gold)
        rule_f1 = _f1(gold, rule_sets, need)
        if need not in probs:
            print(f"{need:<14}{n:>4}{rule_f1:>8.3f}{'-':>8}  (too few examples)")
            continue
        pred = [
            combine(r, {need: p >= _THRESHOLD}) for r, p in zip(rules, probs[need], strict=True)
        ]
        model_f1 = _f1(gold, pred, need)
        print(f"{need:<14}{n:>4}{rule_f1:>8.3f}{model_f1:>8.3f}  {_THRESHOLD}")
        if model_f1 > rule_f1:
            kept[need] = _THRESHOLD
    combined = [
        combine(r, {n: probs[n][i] >= t for n, t in kept.items()}) for i, r in enumerate(rules)
    ]
    for name, pred in (("rules alone", rule_sets), ("rules + model", combined)):
        micro, macro = _micro_macro(gold, pred)
        print(f"held-out {name:<14} micro-F1 {micro:.3f}  macro-F1 {macro:.3f}")
    print("needs where the model wins held out:", ", ".join(kept) or "none (rules alone decide)")


if __name__ == "__main__":
    main()
