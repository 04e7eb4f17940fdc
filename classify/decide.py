"""Decide kind, needs and urgency of a post: the trained model decides, rules explain.

The model gives probabilities (classify.model); the per-need and urgency thresholds
calibrated on the validation split turn them into decisions. The critical detector
(classify.critical) may raise urgency to critical, never lower it. Every need and the
urgency keep the phrases that drove them, for the dispatcher: the cue phrases of the
need when the post has any, else the post's words that weighed most in the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np

from classify import features
from classify.critical import critical_cases, evidence
from classify.cues import Cue
from classify.features import PostView
from classify.model import Model
from classify.needs import NEEDS, outcomes_of

#: Evidence phrases shown per need.
MAX_NEED_CUES = 3
#: Defaults where calibration left no threshold (too few validation examples).
NEED_THRESHOLD = 0.5
CRITICAL_THRESHOLD = 0.5
HIGH_THRESHOLD = 0.5


class Decision(NamedTuple):
    """What the classifier says of one post."""

    kind: str
    outcome: str
    needs: list[str]
    needs_scores: dict[str, float]
    needs_cues: dict[str, list[str]]
    urgency: str
    urgency_cues: list[str]
    critical: list[str]


def choose_needs(probs: dict[str, float], thresholds: dict[str, float]) -> list[str]:
    """Return the needs whose probability passes their threshold, most probable first.

    A post that is about something always has a need: the most probable one when none
    passes. `other` only when nothing else does.
    """
    kept = [n for n in NEEDS if probs[n] >= thresholds.get(f"need:{n}", NEED_THRESHOLD)]
    if len(kept) > 1 and "other" in kept:
        kept.remove("other")
    if not kept:
        kept = [max(NEEDS, key=lambda n: probs[n])]
    return sorted(kept, key=lambda n: (-probs[n], NEEDS.index(n)))


def choose_urgency(probs: dict[str, float], thresholds: dict[str, float]) -> str:
    """Return the urgency level that the model's probabilities pass."""
    if probs["critical"] >= thresholds.get("urgency:critical", CRITICAL_THRESHOLD):
        return "critical"
    if probs["critical"] + probs["high"] >= thresholds.get("urgency:high", HIGH_THRESHOLD):
        return "high"
    return "normal"


def _cue_phrases(cues: Sequence[Cue], label: str) -> list[str]:
    live = [c for c in cues if c.label == label and not c.negated]
    live.sort(key=lambda c: -c.weight)
    return list(dict.fromkeys(c.text for c in live))


@lru_cache(maxsize=1)
def _dictionary_tags() -> dict[str, str]:
    """Return jieba's dictionary words with their part-of-speech tags."""
    import jieba.posseg

    return jieba.posseg.dt.word_tag_tab


def _explains(word: str, tags: dict[str, str]) -> bool:
    """Tell whether WORD may be shown as evidence to every role: a dictionary word, no name.

    Words outside the dictionary (names, numbers, one post's coinages) and the words it
    tags as person names never leave as evidence: the evidence is shown to analysts too.
    """
    tag = tags.get(word)
    return len(word) >= 2 and tag is not None and not tag.startswith("nr")


class _Words:
    """The post's words that the model can weigh, bucketed once for every explanation."""

    def __init__(self, model: Model, featured: features.Featured) -> None:
        self.model = model
        first: dict[str, int] = {}
        for i, word in enumerate(featured.words):
            if len(word) >= 2:
                first.setdefault(word, i)
        self.words = list(first)
        self.buckets = featured.word_buckets[list(first.values())]
        self.ones = np.ones(len(self.words), dtype=np.float32)

    def weighing(self, output: str, limit: int) -> list[str]:
        """Return up to LIMIT of the words that weigh most for OUTPUT (positive weights)."""
        if not self.words:
            return []
        tags = _dictionary_tags()
        part = self.model.contributions(self.buckets, self.ones, output)
        out: list[str] = []
        for i in np.argsort(-part, kind="stable"):
            if part[i] <= 0 or len(out) == limit:
                break
            if _explains(self.words[i], tags):
                out.append(self.words[i])
        return out


def decide(model: Model, view: PostView) -> Decision:
    """Return the decision of MODEL on the post VIEW describes."""
    cases = critical_cases(view.cues)
    view = view._replace(critical=tuple(sorted({case for case, _ in cases})))
    featured = features.featurize_explained(view, model.steps)
    probs = model.probabilities(featured.buckets, featured.values)
    thresholds = model.thresholds
    kind = max(probs["kind"], key=lambda k: probs["kind"][k])
    outcome = ""
    if kind == "update":
        outcomes = outcomes_of(view.cues)
        outcome = outcomes[0] if outcomes else ""
    needs: list[str] = []
    if kind != "irrelevant":
        needs = choose_needs(probs["needs"], thresholds)
    needs_cues: dict[str, list[str]] = {}
    words: _Words | None = None
    for need in needs:
        phrases = _cue_phrases(view.cues, f"need:{need}")[:MAX_NEED_CUES]
        if not phrases:
            words = words or _Words(model, featured)
            phrases = words.weighing(f"need:{need}", MAX_NEED_CUES)
        needs_cues[need] = phrases
    urgency, urgency_cues = "normal", []
    if kind in ("request", "update"):
        urgency = choose_urgency(probs["urgency"], thresholds)
        # An update that reports the episode over (admitted, resolved, deceased) puts no
        # life at risk any more, whatever its story says.
        if cases and outcome in ("", "waiting"):
            urgency, urgency_cues = "critical", evidence(cases)
        elif urgency != "normal":
            urgency_cues = (
                _cue_phrases(view.cues, "urgency:high")
                or _cue_phrases(view.cues, "patient")
                or (words or _Words(model, featured)).weighing(f"urgency:{urgency}", MAX_NEED_CUES)
            )[: MAX_NEED_CUES + 2]
    return Decision(
        kind=kind,
        outcome=outcome,
        needs=needs,
        needs_scores={n: round(probs["needs"][n], 3) for n in needs},
        needs_cues=needs_cues,
        urgency=urgency,
        urgency_cues=urgency_cues,
        critical=[case for case, _ in cases],
    )


def as_fields(decision: Decision) -> dict[str, Any]:
    """Return DECISION as the analysed post's fields."""
    return {
        "kind": decision.kind,
        "outcome": decision.outcome,
        "needs": decision.needs,
        "needs_scores": decision.needs_scores,
        "needs_cues": decision.needs_cues,
        "urgency": decision.urgency,
        "urgency_cues": decision.urgency_cues,
    }
