"""Find the names of private persons in a post's free text, and how each is masked.

A name is a surname followed by one or two given-name characters. Candidates come from
the post's jieba words (the segmentation the pipeline made already): a word that starts
with a surname, or a lone surname and the word after it. Each candidate is scored from
independent signals, and kept when the score reaches `THRESHOLD`:

* the surname's share of the population (Faker's zh_CN person data, from the national
  surname ranking) and how often each following character stands in given names
  against how often it stands in any text (ngender's counts of given-name characters
  over jieba's dictionary);
* the word itself: jieba's dictionary tags common words (高烧, 马上, 周围: not names)
  and well-known names (`nr`); a word jieba's HMM made up is often a name;
* the words around it: kinship, role and introduction words before (我妈妈, 患者,
  联系人, 我叫), an age, a sex, a phone number or a list separator after
  (classify/data/persons.yaml);
* places and institutions: a candidate inside a place name of the post (the gazetteer's
  王家湾, 李家墩社区), inside a hospital name (协和医院), or followed by a place or
  institution ending (张公堤, 王家墩机场) is none.

Only a candidate these leave near the threshold is read again with jieba's part-of-speech
tagger, whose person tag (`nr`) decides it: the tagger is slow, so it reads just the
clause of that candidate.

A surname with a title (王先生, 李阿姨, 张医生) or after 老/小 (老李, 小王) is a *reference*:
its surname is what identifies the person, so the surname is masked (`mask_reference`).
References and nicknames (女儿小娟) are found by classify/name_references.py; a found
name's given name standing alone elsewhere in the post (大家叫她瑞芳) is masked too.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from classify.name_context import Post, evidence_before
from classify.name_references import (
    COMMON_COUNT,
    FUNCTION_WORD_SHARE,
    REFERENCE_SHARE,
    cue_word_before,
    mask_reference,
    nicknames,
    prefixed,
    reference_at,
    split_reference,
    title_after,
)
from classify.name_statistics import Cues, Statistics, cues, place_stems, statistics

__all__ = ["Found", "find_names", "load", "mask_reference", "split_reference"]

#: Score a candidate needs to be taken for a name.
THRESHOLD = 3.0
#: Candidates scoring this far below the threshold, or half as far above, are read again
#: with jieba's tagger.
UNDECIDED = 0.75

_HAN = re.compile(r"^[\u4e00-\u9fff]+$")
# After a name: an age, a sex, a bracket, a phone number, a list separator.
_AGE_AFTER = re.compile(
    r"^[\s,，、:：(（/]*(?:\d{1,3}\s*岁|[一二三四五六七八九十]{2,3}岁|[男女](?![人子士生孩])|\d{2,3}(?!\d))"
)
_PHONE_AFTER = re.compile(r"^[\s,，:：(（]*(?:电话|手机|联系方式)?[\s,，:：]*(?:\+?86)?1[3-9]\d")
_LIST = "、/;；|"
#: Entries each memo below holds before it is emptied.
_MEMO_MAX = 100_000
#: Whether a word is a plain word (`_plain`), by word.
_PLAIN: dict[str, bool] = {}
# A place ending and a township's: 孙杏|村镇, 李庄|集乡.
_TOWNSHIP = re.compile(r"^[\u4e00-\u9fff](?:镇|乡|街道)")


def load() -> None:
    """Load the statistics, cue words and jieba's tagger now (the pipeline does, with its
    other tables): importing the tagger reads jieba's dictionary again, half a second."""
    import jieba.posseg  # noqa: F401

    _tables()


@dataclass(frozen=True)
class Found:
    """The person names of a post: full names, and surname-with-title references."""

    names: tuple[str, ...] = ()
    references: tuple[str, ...] = ()

    @property
    def all(self) -> list[str]:
        return [*self.names, *self.references]


@lru_cache(maxsize=1)
def _tables() -> tuple[Statistics, Cues, dict[str, int], dict[str, str]]:
    import jieba

    stats = statistics()
    # jieba's live word counts: its dictionary and the place names and cue phrases qiuzhu
    # added (a word counted there without a dictionary tag is one of those).
    jieba.initialize()
    return stats, cues(), jieba.dt.FREQ, stats.tags


def find_names(text: str, words: Sequence[str] | None = None, known: Sequence[str] = ()) -> Found:
    """Return the private persons' names and title references in TEXT (NFKC text).

    WORDS are TEXT's jieba words (the pipeline's segmentation), cut here when not given.
    KNOWN are names found already (the template's): where one stands, it is not scored.
    """
    if not text:
        return Found()
    if words is None:
        from classify.segment import Segmenter

        words = _segmenter(Segmenter).cut(text)
    stats, c, freq, tags = _tables()
    starters, memo = stats.starters, _PLAIN
    # Most words start with no surname, and most that do are plain words (小区, 时间,
    # 江岸区): both are told apart in comprehensions, the rest is read word by word.
    indices = []
    for i in [i for i, word in enumerate(words) if word[0] in starters]:
        plain = memo.get(words[i])
        if plain is None:
            if len(memo) >= _MEMO_MAX:
                memo.clear()
            plain = memo[words[i]] = _plain(words[i], freq, tags)
        if (
            not plain
            or cue_word_before(words, i, c)
            or title_after(words, i, stats, c, freq)
            or _compound_before_given(words, i, stats)
        ):
            indices.append(i)
    if not indices:
        return Found()
    post = Post(text, words)
    names: dict[str, None] = {}
    references: dict[str, None] = {}
    count = len(words)
    taken = 0
    for index in indices:
        word = words[index]
        start = post.starts[index]
        if start < taken:
            continue
        same = next((name for name in known if text.startswith(name, start)), None)
        if same is not None:
            taken = start + len(same)
            continue
        # A title reference: 王先生 (one word), 程/阿姨, 张/医生, 老李, 小王.
        reference = reference_at(word, words[index + 1] if index + 1 < count else "", stats, tags)
        if reference and not post.in_place(start, start + len(reference)):
            references[reference] = None
            taken = start + len(reference)
            continue
        # The longest candidate that reaches the threshold (杨春花 over 杨春), else the best.
        best, best_score = "", -99.0
        following = words[index + 1] if index + 1 < count else ""
        for candidate in _candidates(text, start, word, following, stats, tags):
            score = _score(candidate, start, post, stats, c, freq, tags)
            if score > best_score:
                best, best_score = candidate, score
            if score >= THRESHOLD:
                break
        if best and THRESHOLD - UNDECIDED <= best_score < THRESHOLD + UNDECIDED / 2:
            # Only here is the slow tagger asked: does it see a person start at START?
            size = _surname_size(best, stats, tags)
            best_score += post.person_tagged(start, start + len(best), size)
        if best and best_score >= THRESHOLD:
            names[best] = None
            taken = start + len(best)
    for name in list(names):
        # The given name alone, elsewhere in the post, is the same person (大家叫她瑞芳).
        given = name[_surname_size(name, stats, tags) :]
        common = freq.get(given, 0) > COMMON_COUNT and not tags.get(given, "nr").startswith("nr")
        if len(given) == 2 and not common and given in text.replace(name, ""):
            names[given] = None
    for reference in prefixed(text, c, stats, freq, tags):
        if not any(reference in found or found in reference for found in (*names, *references)):
            references[reference] = None
    for nickname in nicknames(post, c, stats, freq, tags):
        if not any(nickname in found or found in nickname for found in (*names, *references)):
            names[nickname] = None
    return Found(tuple(names), tuple(references))


@lru_cache(maxsize=1)
def _segmenter(factory: Any) -> Any:
    return factory()


#: A compound surname's first character is rarer than this as a surname of its own
#: (log10 of percent: 0.1 %): 诸葛, 司马, not 高明.
_COMPOUND_FIRST_SHARE = -1.0
#: A place ending at least this usual in given names (log odds: 江, 园, 苑, 岭) ends
#: names too.
_GIVEN_PLACE_END = 0.5


def _compound_before_given(words: Sequence[str], index: int, stats: Statistics) -> bool:
    """Return whether WORDS[INDEX] is a compound surname a given name follows (东方|玉兰,
    欧阳天|佑): a dictionary word of its own, it is scored like any name."""
    word = words[index]
    if word[:2] not in stats.compound or len(word) > 3 or index + 1 >= len(words):
        return False
    return len(word) == 3 or 1 <= len(words[index + 1]) <= 2


def _surname_size(name: str, stats: Statistics, tags: dict[str, str]) -> int:
    """Return the length of NAME's surname: 2 for a compound one (欧阳, 诸葛), else 1."""
    pair = name[:2]
    if pair in stats.compound:
        return 2
    # Compound surnames beyond Faker's (诸葛, 司马): jieba's dictionary knows them as
    # persons, and their first character is rare as a surname of its own (unlike 高明).
    # Or its second character is rare in given names (夏侯: 侯; not 高明).
    if len(pair) == 2 and tags.get(pair) == "nr" and pair[1] in stats.surnames:
        rare_first = stats.surnames.get(pair[0], -9.0) < _COMPOUND_FIRST_SHARE
        return 2 if rare_first or stats.given.get(pair[1], -9.0) < 0 else 1
    return 1


def _candidates(
    text: str, start: int, word: str, following: str, stats: Statistics, tags: dict[str, str]
) -> list[str]:
    """Return the name candidates at START, where WORD begins: surname and 1-2 characters.

    Where the words already say where a name would end, only that candidate is scored: a
    word of the surname and one or two characters (陈玉珍), or a lone surname and the one-
    or two-character word after it that is no dictionary word (赵|德华). Otherwise both
    lengths are (龚正华血, 郝|建设: 郝建 masks most of a name whose given name is a word).
    """
    size = _surname_size(text[start : start + 2], stats, tags)
    if size == 1 and text[start] not in stats.surnames:
        return []
    rest = len(word) - size
    if rest == 0 and len(following) == 1:
        lengths: tuple[int, ...] = (size + 1,)
    elif rest == 0 and len(following) == 2 and tags.get(following) is None:
        lengths = (size + 2,)  # 赵|德华: a word jieba's HMM made, the given name whole
    elif (rest == 2 and stats.given.get(word[-1], -9.0) >= 1.0) or (
        rest == 1 and len(following) >= 2
    ):
        # 陈玉珍 (its last character a given name's), 陈玉|患者: the word is the name.
        lengths = (size + rest,)
    else:
        lengths = (size + 2, size + 1)
    out = []
    for length in lengths:
        candidate = text[start : start + length]
        if len(candidate) == length and _HAN.match(candidate):
            out.append(candidate)
    return out


def _score(
    name: str,
    start: int,
    post: Post,
    stats: Statistics,
    c: Cues,
    freq: dict[str, int],
    tags: dict[str, str],
) -> float:
    """Return the evidence that NAME, at START, is a private person's name."""
    text = post.text
    end = start + len(name)
    size = _surname_size(name, stats, tags)
    given = name[size:]
    share = stats.surnames.get(name[:size], -1.5)
    score = min(share, 0.5)
    weights = [min(stats.given.get(char, -4.0), 3.0) for char in given]
    # The weakest character decides most: one function word (的, 在) sinks the candidate.
    score += min(weights) + 0.5 * sum(weights) / len(weights)
    if given in stats.common_given:
        score += 1.0
    score += _words(name, start, end, post, freq, tags)
    function_word = tags.get(name[0], "nr")[:1] in "cpudry" and share < FUNCTION_WORD_SHARE
    if size == 1 and function_word and tags.get(given, "")[:2] != "nr" and freq.get(given, 0) > 3:
        score -= 4.0  # a function word before a common word (和|朋友, 向|医生): no surname
    context = evidence_before(text, start, c)
    rest = text[end : end + 12]
    if _AGE_AFTER.match(rest) or _PHONE_AFTER.match(rest):
        context += 2.0
    elif rest.startswith(c.after) or _title_at(rest, c):
        context += 1.0  # 张秀英老人, 程国华在荥阳, 仇红梅阿姨
    elif not rest or rest[:1] in "，,。！!？?\n\t )）":
        context += 0.5
    # (An empty string is "in" any string: the post's first and last characters are checked.)
    if (rest and rest[0] in _LIST) or (start and text[start - 1] in _LIST):
        context += 1.5
    if share < REFERENCE_SHARE and context < 1.5:
        # A rare surname (楼, 区) with nothing around it that speaks of a person.
        score -= 2.0
    score += context
    if name[-1] in c.place_ends:
        # 王家湾, 张公堤; a place ending common in given names weighs less where the words
        # around speak of a person (我叫刘长江, 刘长江,男).
        usual = len(given) == 2 and stats.given.get(name[-1], -9.0) >= _GIVEN_PLACE_END
        score -= 1.5 if usual and context >= 2.0 else 5.0
    elif rest[:1] in c.place_ends and (_place_follows(end, post) or _TOWNSHIP.match(rest)):
        score -= 5.0  # 王家|湾, 孙杏|村镇
    if score < THRESHOLD - UNDECIDED:
        return score  # what follows only lowers it, and reads the gazetteer
    if c.institution.match(rest):
        score -= 5.0
    if name in place_stems():
        score -= 5.0
    if post.in_place(start, end):
        score -= 8.0
    return score


def _title_at(rest: str, c: Cues) -> bool:
    """Return whether REST starts with a title (阿姨, 爷爷, 师傅) of two characters or more."""
    return any(rest.startswith(title) for title in c.titles if len(title) >= 2)


def _place_follows(end: int, post: Post) -> bool:
    """Return whether the word at END may end a place name (王家|湾, 陈家|墩) or a word
    starting with a place ending is another word (李兰娟|院士, 王伟|站在)."""
    after = bisect_left(post.starts, end)
    if after >= len(post.words) or post.starts[after] != end:
        return True  # inside a word: the character alone decides
    word = post.words[after]
    if len(word) == 1:
        return True
    tag = _tables()[3].get(word)
    return tag is None or tag.startswith("ns")


def _words(
    name: str, start: int, end: int, post: Post, freq: dict[str, int], tags: dict[str, str]
) -> float:
    """Return what the post's words and jieba's dictionary say of NAME at START..END."""
    starts = post.starts
    index = bisect_right(starts, start) - 1
    word = post.words[index]
    if word == name:
        tag = tags.get(name)
        if tag is None:
            # Not in the dictionary: made up by jieba's HMM, which glues names; in the
            # dictionary without a tag: a place name or cue phrase qiuzhu added.
            return 1.5 if not freq.get(name) else -3.0
        if tag.startswith("nr"):
            return 1.5
        return -4.0 if freq.get(name, 0) > 3 else 0.0
    if tags.get(name, "nr")[:2] != "nr" and freq.get(name, 0) > 3:
        return -4.0  # a common word (建设) that the segmentation split otherwise
    compound = len(word) == 2 and word in _tables()[0].compound
    if len(word) >= 2 and len(word) < len(name) and freq.get(word, 0) > 3 and not compound:
        # The first two characters are a word of their own (张江|高科, 夏天|明).
        tag = tags.get(word)
        if tag is None or not tag.startswith("nr"):
            return -2.0
    after = bisect_left(starts, end)
    if after < len(starts) and starts[after] == end:
        return 0.5  # ends where a word ends
    # Ends inside a dictionary word (张江高|科); inside a word jieba's HMM made up
    # (施文静|和她) says nothing.
    inside = post.words[after - 1]
    return -1.5 if freq.get(inside, 0) > 3 else 0.0


def _plain(word: str, freq: dict[str, int], tags: dict[str, str]) -> bool:
    """Return whether WORD is a common word (高烧, 小区, 和), a place or a cue phrase qiuzhu
    added.

    Such a word starts like a name but names nobody unless a cue word says so.
    """
    tag = tags.get(word)
    if len(word) < 2:
        # A surname that is mostly a function word or a verb (和, 都, 将, 成, 于): read
        # as a surname only after a cue word; common surnames (王, 张) always.
        share = statistics().surnames.get(word, 0.0)
        return tag is not None and tag[:1] in "cpdurymqfveo" and share < FUNCTION_WORD_SHARE
    if tag is None:
        return bool(freq.get(word))  # added by qiuzhu (江岸区, 呼吸困难)
    return not tag.startswith("nr") and freq.get(word, 0) > 3
