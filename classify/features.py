"""The classifier's features: named steps, each hashing what it reads into one shared space.

A post's features are the union of the steps a model was trained with (its config's
`steps`), so that a step can be added or ablated by name and its effect read from the
held-out report:

* `chars`: character 1- to 3-grams of the text (links, mentions, template labels,
  punctuation and spaces dropped, digits folded to 0);
* `words`: jieba's words and word bigrams (digits folded to 0);
* `cues`: the rule cues of classify/patterns/cues.yaml (need, urgency, kind, outcome,
  patient and tested cues, negated ones apart), the critical detector's cases, and
  whether the post is templated;
* `shape`: a title, a repost chain, hashtags, a phone number.

Each step's values are scaled to unit length, so that no step drowns another by its
number of features. Hashes are stable across processes and machines (no `hash()`).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from classify.cues import Cue
from classify.dedup import fmix64, normalise_for_dedup

#: Bump when a step's output changes: an artefact built with other features is refused.
VERSION = 3
#: Hash buckets (a power of two).
BUCKETS = 1 << 18
STEPS = ("chars", "words", "cues", "shape")

_MASK = np.uint64(BUCKETS - 1)
_DROP = re.compile(r"https?://\S+|@[\w\-]{1,30}|[\W_]+", re.UNICODE)
_DIGITS = re.compile(r"\d+")
_HASHTAG = re.compile(r"#[^#\n]{1,30}#")
_PHONE = re.compile(r"(?<!\d)1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}(?!\d)|●●●")
#: Seeds that keep the steps' hashes apart.
_SEEDS = {"chars": 1, "words": 2, "cues": 3, "shape": 4}


class PostView(NamedTuple):
    """What the features read of one post (all of it computed by the analysis already)."""

    text: str
    words: Sequence[str]
    cues: Sequence[Cue]
    templated: bool
    critical: Sequence[str] = ()
    title: str = ""
    #: The text as duplicates compare it (`classify.dedup.normalise_for_dedup`), when the
    #: analysis has it already; else it is computed from `text`.
    norm: str = ""


def _fold_digits(text: str) -> str:
    return _DIGITS.sub("0", text)


def _char_codes(norm: str) -> np.ndarray:
    """Return the unmixed 64-bit codes of the character 1- to 3-grams of NORM."""
    norm = _fold_digits(norm)
    if not norm:
        return np.empty(0, dtype=np.uint64)
    codes = np.frombuffer(norm.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    grams = [codes | np.uint64(1 << 62)]
    if len(codes) > 1:
        grams.append(codes[:-1] << np.uint64(21) | codes[1:] | np.uint64(2 << 62))
    if len(codes) > 2:
        grams.append(codes[:-2] << np.uint64(42) | codes[1:-1] << np.uint64(21) | codes[2:])
    return np.concatenate(grams)


def _string_codes(strings: Sequence[str], step: str) -> np.ndarray:
    """Return the unmixed 64-bit codes of STRINGS for STEP (CRC-32 and the step's seed)."""
    seed = np.uint64(_SEEDS[step] << 40)
    packed = np.fromiter(
        (zlib.crc32(s.encode("utf-8")) for s in strings), dtype=np.uint64, count=len(strings)
    )
    return packed | seed


# Words are hashed as polynomials of their code points, all of a post's at once: the hash
# of the span [s, e) of the joined words is (S[e] - S[s]) * P^-s, with S the prefix sums
# of c_i * P^i modulo 2^64 (P odd, so it has an inverse).
_P = 0x100000001B3
_P_INV = pow(_P, -1, 1 << 64)
_POWERS: list[np.ndarray] = []


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (P^i, P^-i) modulo 2^64 for i < N (at least)."""
    if not _POWERS or len(_POWERS[0]) < n:
        size = max(n, 4096)
        up, down = [1] * size, [1] * size
        for i in range(1, size):
            up[i] = up[i - 1] * _P % (1 << 64)
            down[i] = down[i - 1] * _P_INV % (1 << 64)
        _POWERS[:] = [np.array(up, dtype=np.uint64), np.array(down, dtype=np.uint64)]
    return _POWERS[0], _POWERS[1]


def kept_words(words: Sequence[str]) -> list[str]:
    """Return WORDS as the `words` step reads them: no punctuation, lower case, digits 0."""
    # One pass over the joined words: a regex call per word costs more than jieba's cut.
    joined = "\x1e".join(w for w in words if w.isalnum())
    return _fold_digits(joined.lower()).split("\x1e") if joined else []


def _word_codes(kept: Sequence[str], bigrams: bool) -> np.ndarray:
    """Return the unmixed codes of the words KEPT (and of their bigrams)."""
    if not kept:
        return np.empty(0, dtype=np.uint64)
    codes = np.frombuffer("".join(kept).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    up, down = _powers(len(codes) + 1)
    lengths = np.fromiter(map(len, kept), dtype=np.int64, count=len(kept))
    ends = np.cumsum(lengths)
    starts = ends - lengths
    seed = np.uint64(_SEEDS["words"] << 56)
    with np.errstate(over="ignore"):
        sums = np.zeros(len(codes) + 1, dtype=np.uint64)
        np.cumsum((codes + np.uint64(1)) * up[: len(codes)], out=sums[1:])
        out = [(sums[ends] - sums[starts]) * down[starts] ^ seed]
        if bigrams and len(kept) > 1:
            # The first word's length marks where the bigram splits: 一个|人 is not 一|个人.
            split = lengths[:-1].astype(np.uint64) << np.uint64(48)
            spans = (sums[ends[1:]] - sums[starts[:-1]]) * down[starts[:-1]]
            out.append(spans ^ split ^ seed ^ np.uint64(1 << 55))
    return np.concatenate(out)


def word_buckets(words: Sequence[str]) -> np.ndarray:
    """Return the bucket of each of WORDS (as `kept_words` gives them) as a unigram."""
    return buckets_of(_word_codes(words, bigrams=False))


def buckets_of(codes: np.ndarray) -> np.ndarray:
    """Return the hash buckets of unmixed CODES (mixed with MurmurHash3's finaliser)."""
    return (fmix64(codes.copy()) & _MASK).astype(np.int64)


def cue_names(view: PostView) -> list[str]:
    """Return the names of the cue features of VIEW (readable: they explain the model)."""
    names = []
    strong_need = False
    for cue in view.cues:
        label = cue.label
        if label[:5] == "need:":
            strong = cue.weight >= 2.0
            label = f"{label}:{'strong' if strong else 'topic'}"
            strong_need = strong_need or (strong and not cue.negated)
        names.append(f"not:{label}" if cue.negated else label)
    names.extend(f"critical:{case}" for case in view.critical)
    if view.templated:
        names.append("templated")
    # Conjunctions a linear model cannot make itself: someone, and something asked or
    # lacking, or at risk, is a case; a word of asking alone is not.
    present = set(names)
    if "signal:person" in present or "patient" in present:
        if "ask" in present or "kind:request" in present:
            names.append("case:ask")
        if view.critical:
            names.append("case:critical")
        if strong_need:
            names.append("case:need")
    return names


def shape_names(view: PostView) -> list[str]:
    """Return the names of the shape features of VIEW."""
    # No length: short real posts are mostly comments, but a short request is a request.
    names = ["shape"]
    if view.title:
        names.append("titled")
    if "//@" in view.text:
        names.append("repost")
    if _HASHTAG.search(view.text):
        names.append("hashtag")
    if _PHONE.search(view.text):
        names.append("phone")
    return names


class Featured(NamedTuple):
    """A post's features, and its words with their unigram buckets (for explanations)."""

    buckets: np.ndarray
    values: np.ndarray
    words: list[str]
    word_buckets: np.ndarray


def featurize(view: PostView, steps: Sequence[str] = STEPS) -> tuple[np.ndarray, np.ndarray]:
    """Return (buckets, values) of VIEW's features for STEPS: int64 and float32 arrays.

    A feature's value is its count in the post over the square root of its step's number
    of features, so that every step weighs alike whatever the post's length. A bucket may
    occur more than once (features hashed alike); sums over the features add them up.
    """
    featured = featurize_explained(view, steps)
    return featured.buckets, featured.values


def featurize_explained(view: PostView, steps: Sequence[str] = STEPS) -> Featured:
    """Return VIEW's features as `featurize` does, with the words the `words` step read."""
    parts: list[np.ndarray] = []
    scales: list[np.ndarray] = []
    kept: list[str] = []
    words_at = -1
    size = 0
    for step in steps:
        if step == "chars":
            norm = view.norm or normalise_for_dedup(view.text)
            codes = _char_codes(norm) ^ np.uint64(_SEEDS["chars"] << 60)
        elif step == "words":
            kept = kept_words(view.words)
            codes = _word_codes(kept, bigrams=True)
            words_at = size
        elif step == "cues":
            codes = _string_codes(cue_names(view), "cues")
        elif step == "shape":
            codes = _string_codes(shape_names(view), "shape")
        else:
            raise ValueError(f"unknown feature step {step!r}: expected one of {', '.join(STEPS)}")
        if len(codes):
            parts.append(codes)
            scales.append(np.full(len(codes), 1.0 / np.sqrt(len(codes)), dtype=np.float32))
            size += len(codes)
    if not parts:
        empty = np.empty(0, dtype=np.int64)
        return Featured(empty, np.empty(0, dtype=np.float32), [], empty)
    buckets = buckets_of(np.concatenate(parts))
    # The words step puts each word's unigram first, in order, then the bigrams.
    unigrams = buckets[words_at : words_at + len(kept)] if words_at >= 0 else buckets[:0]
    return Featured(buckets, np.concatenate(scales), kept, unigrams)
