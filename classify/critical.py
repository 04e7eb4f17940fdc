"""The critical detector: the taxonomy's cases of a life at immediate risk, found by rules.

Cases are reviewed data (`critical:` and `signals:` in classify/patterns/cues.yaml): a
phrase or number cue of its own (呼吸困难, 血氧 85%, 破水, 透析三天没做), or signals that
must all be live in the post (被困 with 水位还在涨). Negated cues (没有呼吸困难) count for
nothing. A case found makes a request or update critical whatever the trained model says:
the model may raise urgency, never lower it below what this detector finds.
"""

from __future__ import annotations

from collections.abc import Sequence

from classify.cues import Cue, patterns

#: Evidence phrases kept per post: enough to explain, short enough to read at a glance.
MAX_EVIDENCE = 5


def critical_cases(cues: Sequence[Cue]) -> list[tuple[str, str]]:
    """Return the (case, evidence phrase) pairs of the critical cases in CUES, in order."""
    found: list[tuple[str, str]] = []
    signals: dict[str, list[str]] = {}
    for cue in cues:
        if cue.negated:
            continue
        if cue.label.startswith("critical:"):
            found.append((cue.label[9:], cue.text))
        elif cue.label.startswith("signal:"):
            signals.setdefault(cue.label[7:], []).append(cue.text)
    for case, parts in patterns().combos.items():
        if all(part in signals for part in parts):
            found.append((case, "，".join(signals[part][0] for part in parts)))
    return found


def evidence(cases: Sequence[tuple[str, str]]) -> list[str]:
    """Return the distinct evidence phrases of CASES, at most MAX_EVIDENCE."""
    return list(dict.fromkeys(text for _, text in cases))[:MAX_EVIDENCE]
