"""Find duplicate posts: blocking keys, a pairwise decision and incremental clustering.

Keys are deterministic strings (MinHash LSH bands over character shingles of the text
without template labels, plus hashed phone and person keys) so the index can store them
and look candidates up with a terms query. `same_episode` decides a candidate pair;
`classify.clusterer.Clusterer` groups a whole input with union-find over the same keys.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from itertools import islice
from typing import Any

import numpy as np
from datasketch import MinHash

from classify.episodes import (
    author_keys,
    case_keys,
    cited_link,
    facts,
    phone_episode,
    same_author_episode,
)
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
    """Return the blocking keys of POST: LSH bands, exact text, phones, person, relays, authors.

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
    # A repost meets its original (and the original its reposts) whatever the words.
    keys.extend(dict.fromkeys(f"post:{short_digest(i)}" for i in _relay_ids(post)))
    # A follow-up meets its request through the account that wrote both, or that it names.
    keys.extend(author_keys(post, short_digest))
    # One that names no author meets the earlier requests of its district and case.
    keys.extend(case_keys(post, short_digest))
    return keys


#: A platform-wide post id (a Weibo mid): the only ids a repost names, and the only own
#: ids that stand for a post whichever source read it (a board's "12" is not one).
_PLATFORM_ID = re.compile(r"\d{12,24}")


def _relay_ids(post: dict[str, Any]) -> list[str]:
    """Return the post's own platform-wide id and the id of the post it reposts, if any."""
    ids = [str(post.get(f) or "") for f in ("source_id", "repost_of")]
    return [i for i in ids if _PLATFORM_ID.fullmatch(i)]


def own_relay_key(post: dict[str, Any]) -> str | None:
    """Return the relay key of the post itself (its platform-wide id), if it has one.

    Unique to the post, it finds only its own reposts: worth keeping on every member of a
    cluster, where other keys are kept on a few (`index.clusters.KEYED_MEMBERS`).
    """
    own = str(post.get("source_id") or "")
    return f"post:{short_digest(own)}" if _PLATFORM_ID.fullmatch(own) else None


def _relay_keys(post: dict[str, Any]) -> set[str]:
    keys = post.get("dedup_keys")
    if isinstance(keys, list):
        return {k for k in keys if k.startswith("post:")}
    return {f"post:{short_digest(i)}" for i in _relay_ids(post)}


def relays(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Return whether one of A and B reposts the other, or both repost one original.

    A repost that adds "帮转！" or "扩" to a call for help is that call again: it belongs to
    its original's episode whatever its words. Ids are the platform's (a Weibo mid), so a
    repost found by a search source meets its original read from a super-topic (and one
    post read by both is itself twice). Read from the `post:` keys, which a backlog
    candidate's card keeps.
    """
    return bool(_relay_keys(a) & _relay_keys(b))


def _author_keys(post: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Return the digests of the post's own author and of the accounts it cites."""
    keys = post.get("dedup_keys")
    if not isinstance(keys, list):
        keys = author_keys(post, short_digest)
    own = {k[7:] for k in keys if k.startswith("author:")}
    return own, {k[6:] for k in keys if k.startswith("cites:")}


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
    known = _remembered.get(hash(text))
    if known is not None:
        return np.frombuffer(known, dtype=np.uint32)
    sig = signature(text).astype(np.uint32)
    remember_signature(text, sig)
    return sig


def post_signature(post: dict[str, Any]) -> np.ndarray:
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


def person_facts(post: dict[str, Any]) -> tuple[str, str, bool]:
    """Return the post's name digest, name-and-age digest and whether it gives an age.

    Digests, not the name itself: a backlog candidate brings only its card (`classify.cards`),
    and equal digests are equal names. Computed once and kept on the dict as `_person`.
    """
    facts = post.get("_person")
    if facts is None:
        name, age = person_key(post)
        facts = ("", "", False)
        if name:
            facts = (short_digest(name), short_digest(name + "|" + age), bool(age))
        post["_person"] = facts
    return facts


def text_length(post: dict[str, Any]) -> int:
    """Return the length of the post's text (a card's post has only the length)."""
    length = post.get("_text_length")
    return int(length) if length is not None else len(post.get("text") or "")


def _decision(a: dict[str, Any], b: dict[str, Any]) -> tuple[float, int]:
    """Return the episode score of A and B, and how many of them name a person."""
    name_a, person_a, aged_a = person_facts(a)
    name_b, person_b, aged_b = person_facts(b)
    same_name = bool(name_a) and name_a == name_b
    names = bool(name_a) + bool(name_b)
    if names == 2 and not same_name:
        return 0.0, names
    if relays(a, b):
        return 1.0, names
    if same_name and aged_a and aged_b:
        return (1.0 if person_a == person_b else 0.0), names
    facts_a, facts_b = facts(a), facts(b)
    phones_a, phones_b = set(_phones(a)), set(_phones(b))
    # Both give numbers: a shared one links them below, other ones are other people.
    by_author = not (phones_a and phones_b) and cited_link(*_author_keys(a), *_author_keys(b))
    if by_author and same_author_episode(facts_a, facts_b):
        return 1.0, names
    shared_phone = bool(phones_a & phones_b) and phone_episode(facts_a, facts_b)
    if same_name and shared_phone:
        # A sheet row and its update: one name, one number, little text in common.
        return 1.0, names
    phone = not same_name and shared_phone
    text_sim = similarity(post_signature(a), post_signature(b))
    other_phones = (
        bool(phones_a)
        and bool(phones_b)
        and not phones_a & phones_b
        and min(text_length(a), text_length(b)) < SHORT_TEXT
    )
    return _score(same_name, names, False, False, text_sim, phone, other_phones), names


def same_episode(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Return whether analysed posts A and B are duplicates (same person, same episode)."""
    score, names = _decision(a, b)
    return score >= _threshold(names)


def cluster_id(canonical_id: str) -> str:
    """Return the cluster id named after its canonical post."""
    return "c-" + short_digest(str(canonical_id))
