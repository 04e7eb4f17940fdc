"""Calibrate the classifier's decision thresholds on the validation split, and score it.

Per need, the threshold on its probability that gives the best F1 on validation (the F1
curve smoothed over neighbouring thresholds, so that one post does not move it). For
urgency, the critical threshold that reaches the most critical recall while precision
stays at CRITICAL_PRECISION or above (the detector's finds count as critical whatever
the threshold), then the high threshold with the best macro-F1 of the three levels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from classify.decide import choose_urgency
from classify.evaluate import score
from classify.model import Model
from classify.needs import NEEDS
from classify.urgency import LEVELS

if TYPE_CHECKING:
    from classify.decide import Decision
    from classify.train import Data

GRID = np.round(np.arange(0.05, 0.951, 0.05), 2)
#: A need is calibrated only with this many positive validation posts; else 0.5.
MIN_POSITIVES = 3
#: The critical precision calibration keeps (the target is 0.75; a margin for new posts).
CRITICAL_PRECISION = 0.8


def _f1(gold: np.ndarray, pred: np.ndarray) -> float:
    tp = float((gold & pred).sum())
    wrong = float((gold ^ pred).sum())
    return 2 * tp / (2 * tp + wrong) if tp else 0.0


#: How much F1 a threshold gives up per unit of distance from 0.5: with few validation
#: posts, the best threshold is mostly noise; near-equal thresholds prefer the middle.
PULL = 0.05


def _best(curve: np.ndarray) -> float:
    smooth = np.convolve(np.pad(curve, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    smooth = smooth - PULL * np.abs(GRID - 0.5)
    top = np.flatnonzero(smooth >= smooth.max() - 1e-9)
    return float(GRID[top[len(top) // 2]])


def probabilities(model: Model, data: Data) -> list[dict[str, Any]]:
    """Return MODEL's probabilities for each post of DATA."""
    return [model.probabilities(b, v) for b, v in data.feats]


def calibrate(model: Model, validation: Data) -> dict[str, float]:
    """Return the decision thresholds that do best on VALIDATION (see the module)."""
    probs = probabilities(model, validation)
    gold = [e.gold for e in validation.examples]
    thresholds: dict[str, float] = {}
    about = [i for i, g in enumerate(gold) if g["kind"] != "irrelevant"]
    for need in NEEDS:
        y = np.array([need in gold[i].get("needs", []) for i in about])
        if y.sum() < MIN_POSITIVES:
            continue
        p = np.array([probs[i]["needs"][need] for i in about])
        curve = np.array([_f1(y, p >= t) for t in GRID])
        thresholds[f"need:{need}"] = _best(curve)
    urgent = [i for i, g in enumerate(gold) if g["kind"] in ("request", "update")]
    level = np.array([gold[i].get("urgency", "normal") for i in urgent])
    detected = np.array([bool(validation.views[i].critical) for i in urgent])
    p_crit = np.array([probs[i]["urgency"]["critical"] for i in urgent])
    crit = level == "critical"
    best_t, best_key = 0.95, (-1.0, -1.0)
    for t in GRID:
        pred = detected | (p_crit >= t)
        tp = float((pred & crit).sum())
        precision = tp / pred.sum() if pred.sum() else 0.0
        recall = tp / crit.sum() if crit.sum() else 0.0
        key = (
            float(precision >= CRITICAL_PRECISION),
            recall if precision >= CRITICAL_PRECISION else precision,
        )
        if key > best_key:
            best_t, best_key = float(t), key
    thresholds["urgency:critical"] = best_t
    scores: list[float] = []
    for t in GRID:
        trial = {**thresholds, "urgency:high": float(t)}
        pred = [
            "critical" if detected[k] else choose_urgency(probs[i]["urgency"], trial)
            for k, i in enumerate(urgent)
        ]
        scores.append(_macro_f1(list(level), pred))
    thresholds["urgency:high"] = _best(np.array(scores))
    return thresholds


def _macro_f1(gold: list[str], pred: list[str]) -> float:
    scores = []
    for lv in LEVELS:
        g = np.array([x == lv for x in gold])
        p = np.array([x == lv for x in pred])
        if g.any():
            scores.append(_f1(g, p))
    return float(np.mean(scores)) if scores else 0.0


def score_decisions(data: Data, made: list[Decision]) -> dict[str, Any]:
    """Return the figures of MADE against DATA's labels (needs, kind, urgency)."""
    gold = [{k: v for k, v in e.gold.items() if k != "cluster"} for e in data.examples]
    predicted = [{"kind": d.kind, "needs": d.needs, "urgency": d.urgency} for d in made]
    result = score(gold, predicted)
    # The classifier alone: places are not decided here.
    result.pop("places")
    result.pop("unlocated_share")
    result.pop("misplaced_province")
    confusion = result["urgency_confusion"]
    pairs = [(g, p) for g in LEVELS for p, n in confusion[g].items() for _ in range(n)]
    result["urgency_macro_f1"] = _macro_f1([g for g, _ in pairs], [p for _, p in pairs])
    return result
