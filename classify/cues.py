"""Find the cue phrases of classify/patterns/cues.yaml in a post.

All literal phrases go into one Aho-Corasick automaton; overlapping hits are resolved
leftmost-longest, so 已住院 (an outcome) wins over 住院 (a need). Cues right after a
negation in the same clause are marked negated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, NamedTuple

import ahocorasick
import yaml

from classify.clauses import by_clause
from qiuzhu.errors import ConfigError

STRONG, WEAK, TOPIC = 2.0, 1.0, 0.5
# How far (characters) an ask marker reaches within its clause.
_CLAUSE_REACH = 20
_CLAUSE_END = re.compile(r"[，。！？；,.!?;\n]")
# How far back (characters) a negation reaches.
_NEGATION_REACH = 6
# How far back (characters, same clause) a word can say a `tested` phrase reports no test:
# "医院无法进行核酸检测确诊", "希望给母亲做核酸检测确诊".
_TESTED_REACH = 10
# A clause: a run of text without a clause end.
_CLAUSE = re.compile(r"[^，。！？；,.!?;\n]+")
_MEMO: dict[str, tuple[Cue, ...]] = {}


class Cue(NamedTuple):
    """One cue found in a text: where, which label, how strong, and its words.

    A named tuple: posts carry a few dozen cues and a tuple is built several times
    faster than a frozen dataclass.
    """

    start: int
    end: int
    label: str
    weight: float
    text: str
    negated: bool = False


@dataclass(frozen=True)
class Patterns:
    """The compiled cue patterns."""

    automaton: Any
    regexes: tuple[tuple[re.Pattern[str], str, dict[str, Any]], ...]
    tested: re.Pattern[str]
    #: Words that, right before a `tested` phrase, say no test was reported.
    tested_negations: tuple[str, ...]
    cancels: dict[str, tuple[str, ...]]
    #: Critical cases made of signals that must all be in the post.
    combos: dict[str, tuple[str, ...]]
    phrases: frozenset[str]
    labels: frozenset[str]
    #: No phrase holds a clause end, so cues can be found clause by clause.
    clausal: bool


def _add(table: dict[str, list[tuple[str, float]]], phrase: str, label: str, weight: float) -> None:
    table.setdefault(str(phrase), []).append((label, weight))


@lru_cache(maxsize=1)
def patterns() -> Patterns:
    """Return the compiled patterns of classify/patterns/cues.yaml."""
    source = resources.files("classify").joinpath("patterns/cues.yaml").read_text("utf-8")
    try:
        raw = yaml.safe_load(source)
        table: dict[str, list[tuple[str, float]]] = {}
        for need, groups in raw["needs"].items():
            for phrase in groups.get("strong") or ():
                _add(table, phrase, f"need:{need}", STRONG)
            for phrase in groups.get("topic") or ():
                _add(table, phrase, f"need:{need}", WEAK)
        for phrase in raw["ask_markers"]:
            _add(table, phrase, "ask", WEAK)
        for phrase in raw["patient"]:
            _add(table, phrase, "patient", WEAK)
        for phrase in raw["negations"]:
            _add(table, phrase, "negation", WEAK)
        # Found apart from the other cues, so that 已确诊 still reports 确诊 as a symptom.
        tested = re.compile("|".join(re.escape(p) for p in raw.get("tested") or ()) or "(?!)")
        tested_negations = tuple(raw.get("tested_negations") or ())
        for phrase in raw["symptom_negations"]:
            _add(table, phrase, "symptom_negation", WEAK)
        cancels = {}
        for outcome, spec in raw["outcomes"].items():
            cancels[outcome] = tuple(spec["cancels"])
            for phrase in spec["phrases"]:
                _add(table, phrase, f"outcome:{outcome}", STRONG)
        for kind, phrases in raw["kind"].items():
            for phrase in phrases:
                _add(table, phrase, f"kind:{kind}", WEAK)
        for level, phrases in raw["urgency"].items():
            for phrase in phrases:
                _add(table, phrase, f"urgency:{level}", STRONG)
        combos: dict[str, tuple[str, ...]] = {}
        for case, spec in raw["critical"].items():
            if isinstance(spec, dict):
                combos[case] = tuple(spec["all"])
                continue
            for phrase in spec:
                _add(table, phrase, f"critical:{case}", STRONG)
        for signal, phrases in raw["signals"].items():
            for phrase in phrases:
                _add(table, phrase, f"signal:{signal}", WEAK)
        unknown = {s for parts in combos.values() for s in parts} - set(raw["signals"])
        if unknown:
            raise KeyError(f"critical cases name unknown signals: {', '.join(sorted(unknown))}")
        regexes = tuple(
            (re.compile(spec["pattern"]), spec["label"], spec) for spec in raw.get("regex", ())
        )
    except (KeyError, TypeError, re.error, yaml.YAMLError) as exc:
        raise ConfigError(f"classify/patterns/cues.yaml is malformed: {exc}") from exc
    # A longer phrase hides the labels of the shorter ones inside it (leftmost-longest):
    # 轻生的念头 is still a suicidal thought. Only critical cases carry over; a need inside
    # an outcome (住院 in 已住院) must not.
    critical = [
        (p, label)
        for p, labels in table.items()
        for label, _ in labels
        if label.startswith("critical:")
    ]
    for phrase, labels in table.items():
        for inner, label in critical:
            if inner != phrase and inner in phrase and all(lb != label for lb, _ in labels):
                labels.append((label, STRONG))
    automaton = ahocorasick.Automaton()
    for phrase, labels in table.items():
        automaton.add_word(phrase, _entry(phrase, labels))
    automaton.make_automaton()
    names = {label for entries in table.values() for label, _ in entries}
    names.update(label for _, label, _ in regexes)
    names.add("tested")
    clausal = not any(_CLAUSE_END.search(phrase) for phrase in table)
    _MEMO.clear()
    return Patterns(
        automaton,
        regexes,
        tested,
        tested_negations,
        cancels,
        combos,
        frozenset(table),
        frozenset(names),
        clausal,
    )


def _entry(phrase: str, labels: list[tuple[str, float]]) -> tuple[Any, ...]:
    """Return what the automaton keeps for PHRASE: its labels, sorted out once."""
    names = {label for label, _ in labels}
    kept = tuple(
        (
            label,
            weight,
            label.startswith("need:"),
            # 已经有了轻生的念头: a mental cue is not answered by having something.
            label.startswith(("need:", "urgency:", "critical:", "signal:", "patient"))
            and label != "need:mental",
        )
        for label, weight in labels
        if label not in ("negation", "symptom_negation")
    )
    flags = (
        "negation" in names,
        "symptom_negation" in names,
        bool(names & {"ask", "kind:request"}),
    )
    return (phrase, *flags, kept)


def _negated(text: str, start: int, negations: list[tuple[int, int]]) -> bool:
    for neg_start, neg_end in negations:
        near = start - _NEGATION_REACH <= neg_end <= start and neg_start < start
        if near and not _CLAUSE_END.search(text, neg_end, start):
            return True
    return False


def _same_clause(text: str, start: int, positions: list[int]) -> bool:
    for position in positions:
        low, high = sorted((position, start))
        if high - low <= _CLAUSE_REACH and not _CLAUSE_END.search(text, low, high):
            return True
    return False


def _regex_cues(text: str, pats: Patterns) -> list[Cue]:
    out = []
    for regex, label, spec in pats.regexes:
        for match in regex.finditer(text):
            value = match.group(1)
            if value.isdigit():
                number = int(value)
                if "below" in spec and number >= spec["below"]:
                    continue
                if "above" in spec and number <= spec["above"]:
                    continue
            cue = str(spec.get("cue", "{0}")).format(value)
            out.append(Cue(match.start(), match.end(), label, STRONG, cue))
    return out


def _clause_cues(text: str, pats: Patterns) -> list[Cue]:
    """Return the phrase cues of TEXT (one clause, or a whole text) in order."""
    hits = [(end - len(entry[0]) + 1, end + 1, entry) for end, entry in pats.automaton.iter(text)]
    hits.sort(key=lambda hit: (hit[0], hit[0] - hit[1]))
    chosen = []
    last_end = 0
    for hit in hits:
        if hit[0] >= last_end:
            chosen.append(hit)
            last_end = hit[1]
    need_negations = [(s, e) for s, e, entry in chosen if entry[1]]
    symptom_negations = [(s, e) for s, e, entry in chosen if entry[2]]
    asks = [s for s, _, entry in chosen if entry[3]]
    cues: list[Cue] = []
    for start, end, (phrase, _, _, _, labels) in chosen:
        for label, weight, is_need, negatable in labels:
            if is_need and weight == WEAK:
                # A topic word counts as a need only in a clause that asks or lacks.
                weight = STRONG if _same_clause(text, start, asks) else TOPIC
            negated = negatable and _negated(
                text, start, need_negations if is_need else symptom_negations
            )
            cues.append(Cue(start, end, label, weight, phrase, negated))
    return cues


def _phrase_cues(text: str, pats: Patterns) -> list[Cue]:
    """Return the phrase cues of TEXT, clause by clause, remembering each clause's cues.

    Negation and asking reach only within a clause and no phrase holds a clause end, so a
    clause's cues depend on the clause alone; posts repeat many clauses.
    """
    if not pats.clausal:
        return _clause_cues(text, pats)
    cues: list[Cue] = []
    for offset, found in by_clause(
        text, _CLAUSE, _MEMO, lambda clause: tuple(_clause_cues(clause, pats))
    ):
        if not found:
            continue
        if offset:
            cues.extend(
                Cue(c.start + offset, c.end + offset, c.label, c.weight, c.text, c.negated)
                for c in found
            )
        else:
            cues.extend(found)
    return cues


# A hashtag (#全国确诊新型肺炎病例#) names a topic; it reports nothing about the post.
_HASHTAG = re.compile(r"#[^#\n]{1,30}#")


def _tested_cues(text: str, pats: Patterns) -> list[Cue]:
    """Return the cues that report a test done, leaving out hashtags and negated ones."""
    tags = [match.span() for match in _HASHTAG.finditer(text)]
    out = []
    for match in pats.tested.finditer(text):
        start = match.start()
        if any(low <= start < high for low, high in tags):
            continue
        before = text[max(0, start - _TESTED_REACH) : start]
        before = _CLAUSE_END.split(before)[-1]
        if any(word in before for word in pats.tested_negations):
            continue
        out.append(Cue(start, match.end(), "tested", WEAK, match.group()))
    return out


def find_cues(text: str) -> list[Cue]:
    """Return the cues in TEXT in order, each marked negated where a negation governs it."""
    pats = patterns()
    cues = _phrase_cues(text, pats)
    cues.extend(_regex_cues(text, pats))
    cues.extend(_tested_cues(text, pats))
    cues.sort(key=lambda cue: cue.start)
    return cues
