"""Decide how urgent a post is, with the cues a dispatcher reads as the reason."""

from __future__ import annotations

from collections.abc import Sequence

from classify.critical import critical_cases, evidence
from classify.cues import Cue

LEVELS = ("critical", "high", "normal")
# Cues shown per post: enough to explain, short enough to read at a glance.
_MAX_CUES = 5


def decide_urgency(cues: Sequence[Cue], kind: str) -> tuple[str, list[str]]:
    """Return (urgency, cues that decided it) for a post of KIND."""
    if kind in ("offer", "irrelevant"):
        return "normal", []
    cases = critical_cases(cues)
    if cases:
        return "critical", evidence(cases)
    found: list[str] = []
    for cue in cues:
        if cue.label == "urgency:high" and not cue.negated and cue.text not in found:
            found.append(cue.text)
    if found:
        return "high", found[:_MAX_CUES]
    patient = [c.text for c in cues if c.label == "patient" and not c.negated]
    if kind == "request" and patient:
        return "high", list(dict.fromkeys(patient))[:_MAX_CUES]
    return "normal", []
