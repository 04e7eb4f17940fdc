"""Find duplicate posts: blocking keys, a pairwise decision and incremental clustering.

Keys are deterministic strings (MinHash LSH bands over character shingles of the text
without template labels, plus hashed phone and person keys) so the index can store them
and look candidates up with a terms query. `same_episode` decides a candidate pair;
`classify.clusterer.Clusterer` groups a whole input with union-find over the same keys.
"""

from __future__ import annotations

import hashlib
import re
import struct
from functools import lru_cache
from itertools import islice
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
# Both posts give phone numbers, share none, and one is short: other people, unless the
# texts are nearly the same. Volunteers' offers and short requests written on one pattern
# differ mostly in the number, and would otherwise chain into clusters of hundreds. A
# longer story reposted with another contact number is still the same request.
OTHER_PHONES_SAME = 0.9
SHORT_TEXT = 60

_DROP = re.compile(r"https?://\S+|@[\w\-]+|#[^#]*#|超话|转发微博|[\W_]+", re.UNICODE)
_DIGIT = re.compile(r"\d")
_FIELD_MAX = 24
_SEED = 7
_SCHEME = "affine32"


def short_digest(text: str, size: int = 6) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=size).hexdigest()


def normalise_for_dedup(text: str) -> str:
    """Return TEXT without template labels, links, mentions, punctuation and spaces."""
    return _DROP.sub("", strip_template(text or "")).lower()


_MASK21 = np.uint64((1 << 21) - 1)
_FMIX64 = (np.uint64(33), np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53))
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35))
_MAX_HASH = np.uint32(0xFFFFFFFF)


@lru_cache(maxsize=1)
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    # datasketch's affine32 permutations (a odd, b) for NUM_PERM and _SEED, drawn once.
    a, b = MinHash(num_perm=NUM_PERM, seed=_SEED, scheme=_SCHEME).permutations
    return np.asarray(a, dtype=np.uint32), np.asarray(b, dtype=np.uint32)


def shingle_hashes(norm: str) -> np.ndarray:
    """Return the distinct 32-bit hashes of the character SHINGLEs of NORM (numpy, no loop).

    Three code points (21 bits each) pack exactly into 63 bits, so a shingle's id is
    collision-free before the MurmurHash3 finalisers fold it to 32 bits.
    """
    return np.unique(_shingle_hashes(norm))


def _shingle_hashes(norm: str) -> np.ndarray:
    # Repeats kept: a minimum does not change for them, and sorting them away cost more
    # than the signature's own arithmetic.
    if not norm:
        return np.empty(0, dtype=np.uint32)
    codes = np.frombuffer(norm.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(codes) < SHINGLE:
        codes = np.concatenate([codes, np.zeros(SHINGLE - len(codes), dtype=np.uint64)])
    packed = codes[:-2] << np.uint64(42)
    packed |= codes[1:-1] << np.uint64(21)
    packed |= codes[2:]
    return fmix64(packed).astype(np.uint32)


def fmix64(packed: np.ndarray) -> np.ndarray:
    """Return MurmurHash3's 64-bit finaliser of the uint64 array PACKED (mixed in place)."""
    s, m1, m2 = _FMIX64
    with np.errstate(over="ignore"):
        packed ^= packed >> s
        packed *= m1
        packed ^= packed >> s
        packed *= m2
        packed ^= packed >> s
    return packed


def signature(text: str, norm: str | None = None) -> np.ndarray:
    """Return the MinHash signature of the character shingles of normalised TEXT.

    The affine32 scheme of datasketch, vectorised over all shingles at once.
    """
    norm = normalise_for_dedup(text) if norm is None else norm
    hashes = _shingle_hashes(norm)
    if not len(hashes):
        return np.full(NUM_PERM, _MAX_HASH, dtype=np.uint64)
    s1, m1, s2, m2 = _FMIX32
    a, b = _permutations()
    with np.errstate(over="ignore"):
        hv = hashes ^ (hashes >> s1)
        hv *= m1
        hv ^= hv >> s2
        hv *= m2
        hv ^= hv >> s1
        permuted = np.multiply.outer(hv, a)
        permuted += b
    return permuted.min(axis=0).astype(np.uint64)


def similarity(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Return the Jaccard similarity estimated from two signatures."""
    return float(np.count_nonzero(sig_a == sig_b)) / len(sig_a)


def person_key(post: dict[str, Any]) -> tuple[str, str]:
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
    return [f"phone:{short_digest(p)}" for p in find_phones(post.get("text") or "")]


def dedup_keys(
    post: dict[str, Any],
    sig: np.ndarray | None = None,
    norm: str | None = None,
    phones: list[str] | None = None,
) -> list[str]:
    """Return the blocking keys of POST: LSH bands, exact text, phones and person.

    SIG, NORM and PHONES (digits) may be given when the caller has them already.
    """
    text = post.get("text") or ""
    norm = normalise_for_dedup(text) if norm is None else norm
    sig = signature(text, norm) if sig is None else sig
    keys = []
    if norm:
        keys.append(f"text:{short_digest(norm)}")
        for band in range(BANDS):
            chunk = sig[band * ROWS : (band + 1) * ROWS].tobytes()
            keys.append(f"lsh:{band}:{hashlib.blake2b(chunk, digest_size=5).hexdigest()}")
    phones = find_phones(text) if phones is None else phones
    keys.extend(dict.fromkeys(f"phone:{short_digest(p)}" for p in phones))
    name, age = person_key(post)
    if name:
        keys.append(f"person:{short_digest(name + '|' + age)}")
        keys.append(f"name:{short_digest(name)}")
    return keys


def _score(
    same_name: bool,
    names: int,
    ages_known: bool,
    same_age: bool,
    sim: float,
    phone: bool,
    other_phones: bool = False,
) -> float:
    """Return the episode score from the pair's person facts and text similarity.

    NAMES is how many of the two posts name a person; SAME_NAME applies when both do.
    PHONE: they share a phone number; OTHER_PHONES: both give numbers, none shared, and
    one of them is shorter than SHORT_TEXT characters.
    """
    if names == 2 and not same_name:
        return 0.0
    if same_name and ages_known:
        return 1.0 if same_age else 0.0
    if same_name:
        return 0.9 if sim >= NAME_TEXT_SAME else 0.3
    if phone:
        return max(0.8, sim)
    if other_phones and sim < OTHER_PHONES_SAME:
        return 0.0
    return sim


def _threshold(names: int) -> float:
    return (TEXT_SAME, TEXT_SAME_ONE_NAMED, 0.5)[names]


#: Signatures this process computed or was given, by the hash of their text; the oldest
#: tenth is forgotten when full (about 300 bytes an entry).
REMEMBERED_SIGNATURES = 100_000
_remembered: dict[int, bytes] = {}


def remember_signature(text: str, sig: np.ndarray) -> None:
    """Keep SIG as the signature of TEXT for `text_signature`, in this process.

    Raises:
        ValueError: SIG is not a signature (NUM_PERM values).
    """
    value = np.asarray(sig, dtype=np.uint32)
    if value.shape != (NUM_PERM,):
        raise ValueError(f"a signature has {NUM_PERM} values, not {value.size}")
    key = hash(text)
    # Forgotten first, so a text met again counts as recent, not as when first met.
    _remembered.pop(key, None)
    if len(_remembered) >= REMEMBERED_SIGNATURES:
        # pop: a writer's batch reader thread may be forgetting the same keys.
        for old in list(islice(_remembered, REMEMBERED_SIGNATURES // 10)):
            _remembered.pop(old, None)
    _remembered[key] = value.tobytes()


def text_signature(text: str) -> np.ndarray:
    """Return the signature of TEXT (NUM_PERM uint32 values), as the analysis computed it.

    Remembered: the writer meets the same backlog posts as candidates batch after batch,
    and the analysis already computed the signature of every post it analysed
    (`classify.analyze.analyze_post` remembers it; worker processes send theirs along).
    """
    key = hash(text)
    known = _remembered.get(key)
    if known is None:
        remember_signature(text, signature(text))
        known = _remembered.get(key)
    if known is None:  # forgotten at once by another thread making room
        return signature(text).astype(np.uint32)
    return np.frombuffer(known, dtype=np.uint32)


def _cached_signature(post: dict[str, Any]) -> np.ndarray:
    """Return the post's signature, computed once and kept on the dict as `_signature`.

    A post meets many candidates in a batch; recomputing its signature for each was most
    of the cost of deduplicating against the backlog.
    """
    sig = post.get("_signature")
    if sig is None:
        sig = text_signature(post.get("text") or "")
        post["_signature"] = sig
    return sig


def episode_score(a: dict[str, Any], b: dict[str, Any]) -> float:
    """Return how sure it is (0..1) that A and B are about the same person and episode."""
    return _decision(a, b)[0]


def _person(post: dict[str, Any]) -> tuple[str, str, bool]:
    """Return the post's name digest, name-and-age digest and whether it gives an age.

    Digests, not the name itself: a backlog candidate brings only its card (`from_card`),
    and equal digests are equal names. Computed once and kept on the dict as `_person`.
    """
    facts = post.get("_person")
    if facts is None:
        name, age = person_key(post)
        facts = (short_digest(name), short_digest(name + "|" + age), bool(age)) if name else None
        facts = facts or ("", "", False)
        post["_person"] = facts
    return facts


def _text_length(post: dict[str, Any]) -> int:
    length = post.get("_text_length")
    return int(length) if length is not None else len(post.get("text") or "")


def _decision(a: dict[str, Any], b: dict[str, Any]) -> tuple[float, int]:
    """Return the episode score of A and B, and how many of them name a person."""
    name_a, person_a, aged_a = _person(a)
    name_b, person_b, aged_b = _person(b)
    same_name = bool(name_a) and name_a == name_b
    names = bool(name_a) + bool(name_b)
    if names == 2 and not same_name:
        return 0.0, names
    if same_name and aged_a and aged_b:
        return (1.0 if person_a == person_b else 0.0), names
    text_sim = similarity(_cached_signature(a), _cached_signature(b))
    phones_a, phones_b = set(_phones(a)), set(_phones(b))
    phone = not same_name and bool(phones_a & phones_b)
    other_phones = (
        bool(phones_a)
        and bool(phones_b)
        and not phones_a & phones_b
        and min(_text_length(a), _text_length(b)) < SHORT_TEXT
    )
    return _score(same_name, names, False, False, text_sim, phone, other_phones), names


def same_episode(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Return whether analysed posts A and B are duplicates (same person, same episode)."""
    score, names = _decision(a, b)
    return score >= _threshold(names)


def cluster_id(canonical_id: str) -> str:
    """Return the cluster id named after its canonical post."""
    return "c-" + short_digest(str(canonical_id))


# A post's dedup card: what a duplicate decision and the blocking-key lookup read of a
# backlog post, in one binary doc value, so candidates are fetched without their source.
_CARD_VERSION = 1
_CARD_HEAD = struct.Struct("<BBHI6s6s6sB")  # version, flags, LSH bands kept, text length,
# name digest, name-and-age digest, text digest, phone keys kept
_NAMED, _AGED, _TEXT_KEY, _PERSON_KEY, _NAME_KEY = 1, 2, 4, 8, 16
_LSH = 5  # bytes of an LSH band's key


#: The keys `dedup_keys` makes, packed in binary in a card: kind, band, hex digest.
_PACKABLE = re.compile(r"(lsh):(1[0-5]|[0-9]):([0-9a-f]{10})|(text|phone):()([0-9a-f]{12})")


def card(post: dict[str, Any]) -> bytes:
    """Return the dedup card of analysed POST, whose `dedup_keys` are the keys it stores.

    The card holds its signature, text length, person digests and stored keys: everything
    `same_episode` and `index.clusters.assign` read of a candidate (see `from_card`).
    Keys this module makes are packed in binary; any other key is kept as text.
    """
    name, person, aged = _person(post)
    flags = (_NAMED if name else 0) | (_AGED if aged else 0)
    text = bytes(6)
    bands: dict[int, bytes] = {}
    phones: list[bytes] = []
    other: list[bytes] = []
    person_key, name_key = (f"person:{person}", f"name:{name}") if name else ("", "")
    for key in dict.fromkeys(post.get("dedup_keys") or []):
        found = _PACKABLE.fullmatch(key)
        if found is None:
            if key == person_key:
                flags |= _PERSON_KEY
            elif key == name_key:
                flags |= _NAME_KEY
            else:
                other.append(key.encode("utf-8")[:255])
        elif found[1]:
            band = int(found[2])
            if band in bands:
                other.append(key.encode("utf-8"))
            else:
                bands[band] = bytes.fromhex(found[3])
        elif found[4] == "phone" and len(phones) < 255:
            phones.append(bytes.fromhex(found[6]))
        elif found[4] == "text" and not flags & _TEXT_KEY:
            text, flags = bytes.fromhex(found[6]), flags | _TEXT_KEY
        else:
            other.append(key.encode("utf-8"))
    head = _CARD_HEAD.pack(
        _CARD_VERSION,
        flags,
        sum(1 << band for band in bands),
        _text_length(post),
        bytes.fromhex(name) if name else bytes(6),
        bytes.fromhex(person) if name else bytes(6),
        text,
        len(phones),
    )
    lsh = b"".join(bands[band] for band in sorted(bands))
    sig = np.asarray(_cached_signature(post), dtype="<u4").tobytes()
    extra = bytes([min(len(other), 255)]) + b"".join(bytes([len(k)]) + k for k in other[:255])
    return head + b"".join(phones) + lsh + sig + extra


def from_card(data: bytes) -> dict[str, Any]:
    """Return what the card DATA says of its post, as fields `same_episode` reads.

    `dedup_keys` (the keys the post stores), `_signature`, `_text_length` and `_person`.

    Raises:
        ValueError: DATA is not a card this version reads.
    """
    if len(data) < _CARD_HEAD.size or data[0] != _CARD_VERSION:
        raise ValueError("not a dedup card of this version")
    _, flags, bands, length, name, person, text, phones = _CARD_HEAD.unpack_from(data)
    at = _CARD_HEAD.size
    end = at + 6 * phones + _LSH * bands.bit_count() + 4 * NUM_PERM
    if len(data) <= end:
        raise ValueError("a dedup card too short")
    keys = [f"text:{text.hex()}"] if flags & _TEXT_KEY else []
    for _ in range(phones):
        keys.append(f"phone:{data[at : at + 6].hex()}")
        at += 6
    for band in range(BANDS):
        if bands >> band & 1:
            keys.append(f"lsh:{band}:{data[at : at + _LSH].hex()}")
            at += _LSH
    named = bool(flags & _NAMED)
    if flags & _PERSON_KEY:
        keys.append(f"person:{person.hex()}")
    if flags & _NAME_KEY:
        keys.append(f"name:{name.hex()}")
    sig = np.frombuffer(data, dtype="<u4", count=NUM_PERM, offset=at).astype(np.uint32)
    at = end + 1
    for _ in range(data[end]):
        size = data[at]
        keys.append(data[at + 1 : at + 1 + size].decode("utf-8", "replace"))
        at += 1 + size
    if at != len(data):
        raise ValueError("a dedup card of the wrong length")
    return {
        "dedup_keys": keys,
        "_signature": sig,
        "_text_length": length,
        "_person": (name.hex(), person.hex(), bool(flags & _AGED)) if named else ("", "", False),
    }
