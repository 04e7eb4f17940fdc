"""Surname references (王先生, 老李, 戴|阿姨) and nicknames (女儿小娟) in a post's text.

A reference names a person by surname and title, or 老/小 and surname: its surname is
what identifies the person, so only the surname is masked (`mask_reference`). A nickname
is 小 or 阿 and a given-name character, or one character twice, right after a kinship,
role or introduction word. classify/names.py finds full names and calls these.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from classify.name_statistics import Cues, Statistics, cues, statistics


class Words(Protocol):
    """A post's text, its jieba words and where each word starts (name_context.Post)."""

    text: str
    words: Sequence[str]
    starts: list[int]


# What may stand between a cue word and the name: a colon, a bracket, a space.
GLUE = set(":：（( \t")


def mask_reference(reference: str) -> str:
    """Return a name or title reference masked: 陈玉珍 -> 陈**, 王先生 -> *先生, 老李 -> 老*."""
    split = split_reference(reference)
    if split is None:
        return reference[:1] + "*" * (len(reference) - 1)
    before, surname, after = split
    return before + "*" * len(surname) + after


def split_reference(text: str) -> tuple[str, str, str] | None:
    """Return (prefix, surname, title) of a title reference (老李, 王先生), else None."""
    c = cues()
    surnames = statistics().surnames
    if len(text) >= 2 and text[0] in c.prefixes and text[1:] in surnames:
        return text[0], text[1:], ""
    for size in (2, 1):
        surname = text[:size]
        if surname in surnames and text[size:] in c.titles:
            return "", surname, text[size:]
    return None


#: 老X or 小X that is a dictionary word this common is that word (老师, 小区, 小时), not a
#: surname reference; rarer ones (老何, 小许) are read by what follows.
_PREFIXED_MAX_COUNT = 50


_PREFIXED_END = set("，,。.！!？?；;：:、 \t\n)）|")


def prefixed(
    text: str, c: Cues, stats: Statistics, freq: dict[str, int], tags: dict[str, str]
) -> list[str]:
    """Return the 老X and 小X references the words missed: 老万是, 闫在, 老何 (a pronoun in
    jieba's dictionary), 小许 (an adverb there), where X is a surname and a verb, particle
    or punctuation follows (classify/data/persons.yaml: after_reference)."""
    found = []
    for prefix in c.prefixes:
        position = text.find(prefix)
        while position >= 0:
            reference = text[position : position + 2]
            surname = reference[1:]
            after = text[position + 2 : position + 3]
            if (
                surname in stats.surnames
                and (not after or after in _PREFIXED_END or after in c.after_reference)
                and surname_ok(surname, stats, tags)
                and (
                    tags.get(reference, "nr").startswith("nr")
                    or freq.get(reference, 0) <= _PREFIXED_MAX_COUNT
                )
                and not (position and text[position - 1] in c.prefixes)
                # 小蔡家巷, 老王家湾: a place named after a family.
                and not (after == "家" and text[position + 3 : position + 4] in c.place_ends)
                and tags.get(surname, "nr")[:1] not in "cpudry"
            ):
                found.append(reference)
            position = text.find(prefix, position + 1)
    return found


#: A nickname's given-name character is at least this usual in given names (log odds:
#: 虎, 倩, 强, 福, 宝; not 心 of 小心, 时 of 小时).
_NICKNAME_GIVEN = 0.3


#: A dictionary word this common is no nickname (宝宝, 刚刚, 明明), unless tagged a name.
COMMON_COUNT = 20


def nicknames(
    post: Words, c: Cues, stats: Statistics, freq: dict[str, int], tags: dict[str, str]
) -> list[str]:
    """Return the nicknames right after a kinship, role or introduction word: 女儿|小娟,
    我叫|小虎, 您家的|阿强, 女儿|乐乐 (小 or 阿 and a given-name character, or one twice)."""
    found = []
    text, words, starts = post.text, post.words, post.starts
    for index in range(len(words) - 1):
        if not cue_word_before(words, index + 1, c) and not (
            words[index] == "的" and index and words[index - 1] in c.before
        ):
            continue
        start = starts[index + 1]
        while start < len(text) and text[start] in GLUE:
            start += 1
        nickname = text[start : start + 2]
        if len(nickname) < 2 or not (nickname[0] in "小阿" or nickname[0] == nickname[1]):
            continue
        if stats.given.get(nickname[1], -9.0) < _NICKNAME_GIVEN or start + 2 not in starts:
            continue
        tag = tags.get(nickname)
        if (tag is None or not tag.startswith("nr")) and freq.get(nickname, 0) > COMMON_COUNT:
            continue
        if nickname not in c.before and nickname not in c.titles:
            found.append(nickname)
    return found


#: A single-character surname that is also a function word (和, 向, 于) names nobody before
#: a title unless it is at least this common a surname (log10 of percent: 0.5 %).
FUNCTION_WORD_SHARE = -0.3


#: The rarest surname a reference (老X, X先生) may have (log10 of percent: 0.05 %).
REFERENCE_SHARE = -1.3


def title_after(
    words: Sequence[str], index: int, stats: Statistics, c: Cues, freq: dict[str, int]
) -> bool:
    """Return whether WORDS[INDEX] is a lone surname before a title (戴|阿姨, 解|老师), the
    two no dictionary word (帅|哥)."""
    if words[index] not in stats.surnames or index + 1 >= len(words):
        return False
    following = words[index + 1]
    return following in c.titles and freq.get(words[index] + following, 0) <= 3


def surname_ok(surname: str, stats: Statistics, tags: dict[str, str], rare: bool = False) -> bool:
    """Return whether SURNAME may stand in a reference: common enough, or, where RARE ones
    may (a surname the segmentation cut off before a title: 栾|阿姨), a word jieba knows
    only as a name or not at all (栾, 笪, 郗: not 仇 "hatred", 委 of 健康委|主任)."""
    if stats.surnames[surname] >= REFERENCE_SHARE:
        return True
    tag = tags.get(surname)
    return rare and (tag is None or tag.startswith("nr"))


def reference_at(word: str, following: str, stats: Statistics, tags: dict[str, str]) -> str:
    """Return the title reference WORD (with FOLLOWING) makes, or ""."""
    split = split_reference(word)
    if split is not None:
        if not surname_ok(split[1], stats, tags):
            return ""
        tag = tags.get(word)
        # A dictionary word that is no person (小区, 老师): not a reference.
        if tag is None or tag.startswith("nr"):
            return word
        return ""
    if word in cues().prefixes and following[:1] in stats.surnames:
        # 老|袁家, 小|赵: the segmentation cut the prefix off its surname.
        surname = following[:1]
        alone = len(following) == 1 or following[1:] == "家"
        function_word = tags.get(surname, "nr")[:1] in "cpudry" and stats.surnames[surname] < 0
        if alone and surname_ok(surname, stats, tags) and not function_word:
            return word + surname
        return ""
    share = stats.surnames.get(word)
    if share is None or following not in cues().titles:
        return ""
    if not surname_ok(word, stats, tags, rare=True):
        return ""
    if tags.get(word, "nr")[:1] in "cpudry" and share < FUNCTION_WORD_SHARE:
        return ""
    return word + following


def cue_word_before(words: Sequence[str], index: int, c: Cues) -> bool:
    """Return whether a kinship, role or introduction word precedes WORDS[INDEX]."""
    index -= 1
    while index >= 0 and words[index] in GLUE:
        index -= 1
    if index < 0:
        return False
    word = words[index]
    return word in c.before or (index > 0 and words[index - 1] + word in c.before)
