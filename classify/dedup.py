"""Find duplicate posts: blocking keys, a pairwise decision and incremental clustering.

Keys are deterministic strings (MinHash LSH bands over character shingles of the text
without template labels, plus hashed phone and person keys) so the index can store them
and look candidates up with a terms query. `same_episode` decides a candidate pair;
`Clusterer` groups a batch in memory with union-find over the same keys.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections import defaultdict
from functools import lru_cache
from typing import Any

import numpy as np
from datasketch import MinHash

from classify.personal import find_phones
from classify.template import parse_template, strip_template

NUM_PERM = 64
BANDS = 16
ROWS = NUM_PERM // BANDS  # 16 bands of 4 rows: candidates from Jaccard ~0.5 up
SHINGLE = 3
# A key shared by more posts than this is too common to be a useful block (e.g. one
# hotline in many posts); only its most recent members are compared.
MAX_BUCKET = 50
# Jaccard (estimated) above which two posts are the same text: when neither names a
# person, and when only one does (a repost that lost its template, or another person).
TEXT_SAME = 0.7
TEXT_SAME_ONE_NAMED = 0.8
# With the same name but one age missing, the texts must still overlap this much.
NAME_TEXT_SAME = 0.25

_DROP = re.compile(r"https?://\S+|@[\w\-]+|#[^#]*#|超话|转发微博|[\W_]+", re.UNICODE)
_DIGIT = re.compile(r"\d")
_FIELD_MAX = 24
_SEED = 7
_SCHEME = "affine32"


def _digest(text: str, size: int = 6) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=size).hexdigest()


def normalise_for_dedup(text: str) -> str:
    """Return TEXT without template labels, links, mentions, punctuation and spaces."""
    return _DROP.sub("", strip_template(text or "")).lower()


def _crc32(data: bytes) -> int:
    # CRC-32 is deterministic across processes and much faster than datasketch's SHA-1.
    return zlib.crc32(data)


@lru_cache(maxsize=1)
def _permutations() -> Any:
    # Drawing the permutations is a tenth of the cost of a signature: do it once.
    return MinHash(num_perm=NUM_PERM, seed=_SEED, scheme=_SCHEME).permutations


def signature(text: str, norm: str | None = None) -> np.ndarray:
    """Return the MinHash signature of the character shingles of normalised TEXT."""
    norm = normalise_for_dedup(text) if norm is None else norm
    shingles = {norm[i : i + SHINGLE] for i in range(max(1, len(norm) - SHINGLE + 1))}
    minhash = MinHash(
        num_perm=NUM_PERM, seed=_SEED, hashfunc=_crc32, permutations=_permutations(), scheme=_SCHEME
    )
    minhash.update_batch([s.encode("utf-8") for s in shingles if s])
    return np.asarray(minhash.hashvalues, dtype=np.uint64)


def similarity(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Return the Jaccard similarity estimated from two signatures."""
    return float(np.count_nonzero(sig_a == sig_b)) / len(sig_a)


def _person(post: dict[str, Any]) -> tuple[str, str]:
    """Return the person key of a post: its template name and age fields, normalised."""
    fields = post.get("template")
    if not isinstance(fields, dict):
        fields = parse_template(post.get("text") or "")
    # The whole field, not just a clean name: "A and family" and "A, B, C" are other
    # requests than one about A alone, and a repost copies the field verbatim.
    name = _DROP.sub("", fields.get("name", "") or "")[:_FIELD_MAX]
    age = "".join(_DIGIT.findall(fields.get("age", "") or ""))[:_FIELD_MAX]
    return name, age


def _phones(post: dict[str, Any]) -> list[str]:
    keys = post.get("dedup_keys")
    if isinstance(keys, list):
        return [k for k in keys if k.startswith("phone:")]
    return [f"phone:{_digest(p)}" for p in find_phones(post.get("text") or "")]


def dedup_keys(
    post: dict[str, Any], sig: np.ndarray | None = None, norm: str | None = None
) -> list[str]:
    """Return the blocking keys of POST: LSH bands, exact text, phones and person."""
    text = post.get("text") or ""
    norm = normalise_for_dedup(text) if norm is None else norm
    sig = signature(text, norm) if sig is None else sig
    keys = []
    if norm:
        keys.append(f"text:{_digest(norm)}")
        for band in range(BANDS):
            chunk = sig[band * ROWS : (band + 1) * ROWS].tobytes()
            keys.append(f"lsh:{band}:{hashlib.blake2b(chunk, digest_size=5).hexdigest()}")
    keys.extend(dict.fromkeys(f"phone:{_digest(p)}" for p in find_phones(text)))
    name, age = _person(post)
    if name:
        keys.append(f"person:{_digest(name + '|' + age)}")
        keys.append(f"name:{_digest(name)}")
    return keys


def episode_score(a: dict[str, Any], b: dict[str, Any]) -> float:
    """Return how sure it is (0..1) that A and B are about the same person and episode."""
    name_a, age_a = _person(a)
    name_b, age_b = _person(b)
    if name_a and name_b and name_a != name_b:
        return 0.0
    if name_a and name_a == name_b and age_a and age_b:
        return 1.0 if age_a == age_b else 0.0
    sig_a = a.get("_signature")
    sig_b = b.get("_signature")
    text_sim = similarity(
        sig_a if sig_a is not None else signature(a.get("text") or ""),
        sig_b if sig_b is not None else signature(b.get("text") or ""),
    )
    if name_a and name_a == name_b:
        return 0.9 if text_sim >= NAME_TEXT_SAME else 0.3
    if set(_phones(a)) & set(_phones(b)):
        return max(0.8, text_sim)
    return text_sim


def same_episode(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Return whether analysed posts A and B are duplicates (same person, same episode)."""
    name_a, _ = _person(a)
    name_b, _ = _person(b)
    if name_a and name_b:
        threshold = 0.5
    elif name_a or name_b:
        threshold = TEXT_SAME_ONE_NAMED
    else:
        threshold = TEXT_SAME
    return episode_score(a, b) >= threshold


def cluster_id(canonical_id: str) -> str:
    """Return the cluster id named after its canonical post."""
    return "c-" + _digest(str(canonical_id))


class Clusterer:
    """Incremental in-memory clustering: union-find over posts sharing a blocking key."""

    def __init__(self) -> None:
        self._posts: list[dict[str, Any]] = []
        self._parent: list[int] = []
        self._buckets: dict[str, list[int]] = defaultdict(list)

    def _find(self, index: int) -> int:
        while self._parent[index] != index:
            self._parent[index] = self._parent[self._parent[index]]
            index = self._parent[index]
        return index

    def _union(self, a: int, b: int) -> None:
        root_a, root_b = self._find(a), self._find(b)
        if root_a != root_b:
            self._parent[max(root_a, root_b)] = min(root_a, root_b)

    def add(self, post: dict[str, Any], sig: np.ndarray | None = None) -> int:
        """Add an analysed post (with `id`, `text`, `dedup_keys`) and return its number."""
        index = len(self._posts)
        name, age = _person(post)
        compact: dict[str, Any] = {
            "id": post.get("id"),
            "posted_at": post.get("posted_at") or "",
            "template": {"name": name, "age": age},
            "dedup_keys": post.get("dedup_keys") or [],
            "_signature": sig if sig is not None else signature(post.get("text") or ""),
        }
        if not compact["dedup_keys"]:
            compact["dedup_keys"] = dedup_keys(post, compact["_signature"])
        self._posts.append(compact)
        self._parent.append(index)
        candidates: set[int] = set()
        for key in compact["dedup_keys"]:
            bucket = self._buckets[key]
            candidates.update(bucket[-MAX_BUCKET:])
            bucket.append(index)
        for other in candidates:
            if self._find(other) != self._find(index) and same_episode(compact, self._posts[other]):
                self._union(index, other)
        return index

    def assignments(self) -> list[tuple[str, str, int]]:
        """Return (cluster id, canonical post id, cluster size) for every post, in order."""
        members: dict[int, list[int]] = defaultdict(list)
        for index in range(len(self._posts)):
            members[self._find(index)].append(index)
        out: list[tuple[str, str, int]] = [("", "", 0)] * len(self._posts)
        for group in members.values():
            # The earliest post is canonical; posts without a date count as latest.
            canonical = min(group, key=lambda i: (self._posts[i]["posted_at"] or "9999", i))
            canonical_id = str(self._posts[canonical]["id"])
            for index in group:
                out[index] = (cluster_id(canonical_id), canonical_id, len(group))
        return out
