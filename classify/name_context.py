"""A post's words as name finding reads them: the places around a candidate, what jieba's
part-of-speech tagger says of one, and what the text before it says (classify/names.py
scores the candidates).

Both are asked only for candidates the cheaper signals leave open: the gazetteer's scan
of the text around a candidate, and the tagger, which is slow, over the candidate's
clause alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import accumulate

from classify.name_references import GLUE
from classify.name_statistics import Cues

#: Entries the tagger's memo holds before it is emptied.
_MEMO_MAX = 100_000
#: jieba's tags of a candidate's window, by window text (offsets from its start).
_TAGGED: dict[str, list[tuple[int, int, str]]] = {}
_CLAUSE_ENDS = set("，。！？；,.!?;\n \t")
#: Characters of context the tagger reads on each side of a candidate.
_TAGGER_CONTEXT = 2
#: Longest place or hospital name looked for around a candidate.
_ALIAS_MAX = 12
_HOUSING = re.compile(r"小区|花园|新村|家园|社区|村|大院|宿舍|片区")


class Post:
    """One post's words and what the scoring reads of them, computed on demand."""

    def __init__(self, text: str, words: Sequence[str]) -> None:
        self.text = text
        self.words = words
        self.starts = [0, *accumulate(map(len, words))]

    def places(self, start: int, end: int) -> list[tuple[int, int, bool]]:
        """Return the place and hospital names around START..END, and whether each is bare.

        Only names that could hold START..END are read: those within an alias's length
        of it. A bare stem (王家湾 of 王家湾社区, 石宝山 of 石宝山村) is a place only when
        more than a name could be: see `in_place`.
        """
        from classify import gazetteer
        from classify.places import _hospital_spans

        gaz = gazetteer.load()
        offset = max(0, start - _ALIAS_MAX)
        window = self.text[offset : end + _ALIAS_MAX]
        spans = []
        for s, e, alias in gaz._scan(window):
            bare = all(strength <= gazetteer.BARE for _, strength in gaz.lookup(alias))
            spans.append((s + offset, e + offset, bare))
        spans.extend((s + offset, e + offset, False) for s, e in _hospital_spans(window))
        return spans

    def in_place(self, start: int, end: int) -> bool:
        """Return whether START..END lies inside a place or hospital name of the post.

        A bare stem holds a name when it reaches past it (王家|湾) or a housing word
        follows it (高明小区); one that is exactly the candidate (石宝山) is a name.
        """
        return any(
            s <= start and end <= e and (not bare or e > end or _HOUSING.match(self.text, e))
            for s, e, bare in self.places(start, end)
        )

    def person_tagged(self, start: int, end: int, surname: int = 1) -> float:
        """Return what jieba's tagger says of START..END: a person's name (> 0) or not.

        The tagger reads only the candidate's clause, at most _TAGGER_CONTEXT characters
        on each side: it is slow.
        """
        import jieba.posseg

        text = self.text
        first = max(start - _TAGGER_CONTEXT, 0)
        last = min(end + _TAGGER_CONTEXT, len(text))
        for position in range(start - 1, first - 1, -1):
            if text[position] in _CLAUSE_ENDS:
                first = position + 1
                break
        for position in range(end, last):
            if text[position] in _CLAUSE_ENDS:
                last = position
                break
        window = text[first:last]
        # Reposts and lists repeat the same few characters around a name: tagged once.
        tagged = _TAGGED.get(window)
        if tagged is None:
            tagged = []
            offset = 0
            for pair in jieba.posseg.cut(window):
                tagged.append((offset, offset + len(pair.word), pair.flag))
                offset += len(pair.word)
            if len(_TAGGED) >= _MEMO_MAX:
                _TAGGED.clear()
            _TAGGED[window] = tagged
        # The tagger's word at START: a person's name exactly (陈玉珍), or a surname it
        # tags as a person before a word it tags otherwise (贺|立新).
        for s, e, f in tagged:
            if s + first == start and f.startswith("nr"):
                return 1.5 if e + first == end else 1.0 if e == s + surname else -0.5
        return -0.5


_DWELLING = re.compile(r"\d+\s*(?:号楼|栋|幢|单元|室|号)\s*$")
_NUMBERED = re.compile(r"(?:^|[\s:：;；,，])(?:\d{1,3}|[一二三四五六七八九十]{1,2})[.、)）]\s*$")


def evidence_before(text: str, start: int, c: Cues) -> float:
    """Return the evidence the text before START gives: a cue word, a line, cell or list start."""
    position = start
    while position > 0 and text[position - 1] in GLUE:
        position -= 1
    window = text[max(0, position - c.longest_before) : position]
    for size in range(len(window), 0, -1):
        if window[-size:] in c.before:
            return 3.0
    if _NUMBERED.search(text[max(0, start - 6) : start]):
        return 1.0  # 1. 周玉梅  2、吴长发
    if _DWELLING.search(text[max(0, start - 8) : start]):
        return 1.0  # 5号楼莫学文, 15栋潘一鸣, 2201室 竺志强: a resident's list
    if position == 0 or position < start or text[position - 1] in "\n,，。;；!！?？、/|\t":
        return 0.5  # the start of a line, a cell, a field after a colon, a list item
    return 0.0
