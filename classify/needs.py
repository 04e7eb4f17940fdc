"""Decide kind, outcome and needs of a post from its cues."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from classify.cues import Cue, patterns

#: Need codes in the taxonomy's order (ties in confidence keep this order).
NEEDS = (
    "bed",
    "testing",
    "medicine",
    "urgent_care",
    "supplies",
    "food",
    "transport",
    "special_care",
    "mental",
    "pets",
    "rescue",
    "shelter",
    "volunteers",
    "other",
)
KINDS = ("request", "offer", "update", "irrelevant")
OUTCOMES = ("deceased", "admitted", "resolved", "waiting")

# A need is kept when its cues add up to this; one strong cue or two weak ones.
_THRESHOLD = 2.0
# A request about a sick person plainly needs care: bed is implied by patient cues.
_IMPLIED_BED = 2.0


def _live(cues: Sequence[Cue], prefix: str) -> list[Cue]:
    return [cue for cue in cues if cue.label.startswith(prefix) and not cue.negated]


def _live_by_label(cues: Sequence[Cue]) -> dict[str, list[Cue]]:
    """Return the cues that are not negated, grouped by label (one pass over the post)."""
    found: dict[str, list[Cue]] = defaultdict(list)
    for cue in cues:
        if not cue.negated:
            found[cue.label].append(cue)
    return found


def outcomes_of(cues: Sequence[Cue]) -> list[str]:
    """Return the outcomes the post reports, most telling first."""
    found = {cue.label.split(":", 1)[1] for cue in _live(cues, "outcome:")}
    return [outcome for outcome in OUTCOMES if outcome in found]


def decide_kind(cues: Sequence[Cue], templated: bool) -> tuple[str, str]:
    """Return (kind, outcome) of a post; outcome is empty unless kind is update."""
    count: dict[str, float] = defaultdict(float)
    for cue in _live(cues, "kind:"):
        count[cue.label.split(":", 1)[1]] += 1
    outcomes = outcomes_of(cues)
    needs = sum(cue.weight for cue in _live(cues, "need:"))
    patient = any(not c.negated for c in cues if c.label == "patient")
    explicit_update = count["update"] > 0
    resolved = any(o in ("admitted", "resolved") for o in outcomes)
    if (explicit_update and outcomes) or (resolved and needs < _THRESHOLD and not templated):
        return "update", outcomes[0] if outcomes else ""
    if count["offer"] and count["offer"] >= count["request"] and not templated:
        return "offer", ""
    if templated or count["request"] or (patient and needs) or needs >= _THRESHOLD:
        return "request", ""
    return "irrelevant", ""


def score_needs(cues: Sequence[Cue], kind: str) -> dict[str, float]:
    """Return a confidence score for every need that the cues support."""
    scores: dict[str, float] = defaultdict(float)
    outright: set[str] = set()
    for cue in _live(cues, "need:"):
        need = cue.label.split(":", 1)[1]
        scores[need] += cue.weight
        if cue.weight >= _THRESHOLD:
            outright.add(need)
    # Topic words alone, however many, only say what the post is about, not what it asks.
    for need in set(scores) - outright:
        scores[need] = min(scores[need], _THRESHOLD / 2)
    # An outcome resolves the needs it cancels, unless a strong cue of the need comes after
    # it: "药已经买到了，现在求安排住院" still asks for a bed.
    cancelled: set[str] = set()
    table = patterns().cancels
    live = _live_by_label(cues)
    for cue in _live(cues, "outcome:"):
        for need in table.get(cue.label.split(":", 1)[1], ()):
            later = [c for c in live[f"need:{need}"] if c.start > cue.start]
            if not any(c.weight >= _THRESHOLD for c in later):
                cancelled.add(need)
    patient = sum(1 for c in cues if c.label == "patient" and not c.negated)
    if patient and kind in ("request", "update") and "bed" not in cancelled:
        scores["bed"] += _IMPLIED_BED + min(patient, 5) * 0.1
    tested = [c.start for c in cues if c.label == "tested" and not c.negated]
    if tested and "testing" in scores:
        # Only a testing cue after the last test reported still asks for one.
        later = [c for c in live["need:testing"] if c.start > tested[-1]]
        if sum(c.weight for c in later) < _THRESHOLD:
            scores.pop("testing")
    for need in cancelled:
        # An outcome resolves a need unless the post still asks for it outright.
        strong = sum(c.weight for c in live[f"need:{need}"] if c.weight > 1)
        if strong < _THRESHOLD * 2:
            scores.pop(need, None)
    return {need: round(score, 2) for need, score in scores.items()}


def decide_needs(scores: dict[str, float]) -> list[str]:
    """Return the needs whose score passes the threshold, by confidence; `other` if none."""
    kept = [need for need in NEEDS if scores.get(need, 0.0) >= _THRESHOLD and need != "other"]
    kept.sort(key=lambda need: (-scores[need], NEEDS.index(need)))
    if scores.get("other", 0.0) >= _THRESHOLD:
        kept.append("other")
    return kept or ["other"]
