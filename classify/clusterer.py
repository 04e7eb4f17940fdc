"""Cluster a whole input of analysed posts in little memory (`qiuzhu analyze`, batches).

The same blocking keys and pair decision as `classify.dedup`, on a compact state per
post; the clusters are the connected groups of duplicate pairs.
"""

from __future__ import annotations

import tempfile
from array import array
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from classify.dedup import (
    MAX_BUCKET,
    NAME_TEXT_SAME,
    NUM_PERM,
    OTHER_PHONES_SAME,
    SHORT_TEXT,
    TEXT_SAME,
    TEXT_SAME_ONE_NAMED,
    cluster_id,
    dedup_keys,
    person_key,
    short_digest,
    signature,
)
from classify.episodes import EPISODE_WINDOW, KINDS, PHONE_WINDOW, UNLINKED_KINDS, read_facts

_SIG_COLLIDE = 1 / 65536
#: Blocking keys the Clusterer holds in memory before it moves them to temporary files.
SPILL_KEYS = 1 << 20
# Hash ranges of the spilled keys: the final clustering holds one range at a time.
_RANGES = 16
_ROW = np.dtype([("key", "<u8"), ("owner", "<u4")])
_PHONE_BIT = 1 << 32
#: Set on relay keys (`post:`, see `classify.dedup.relays`): sharing one links the pair.
_RELAY_BIT = 1 << 33
#: Set on author keys (`author:`, see `classify.episodes`): one episode if close in time.
_AUTHOR_BIT = 1 << 34
#: Set on the owner of a `cites:` key row (posts are numbered below it).
_CITED = 1 << 31
#: An author key held by posts naming this many different persons or districts is a
#: relaying account's (代发): its posts are linked by person facts, not by their author.
RELAYER_SUBJECTS = 3
_UNLINKED = np.array([kind in UNLINKED_KINDS for kind in KINDS])
# Candidate pairs whose signatures are compared at once (two 128-byte rows a pair).
_PAIR_CHUNK = 1 << 16


def _key32(key: str) -> int:
    # Python's own string hash: the keys are compared only within one process, and a
    # collision only adds a candidate pair that `same_episode` then decides.
    return hash(key) & 0xFFFFFFFF


def _kind_bits(key: str) -> int:
    if key.startswith("phone:"):
        return _PHONE_BIT
    if key.startswith("author:"):
        return _AUTHOR_BIT
    return _RELAY_BIT if key.startswith("post:") else 0


def _row_key(key: str) -> tuple[int, int]:
    """Return KEY as its 32-bit hash with kind bits, and the owner flag it carries.

    A `cites:` key is kept as the `author:` key it meets, flagged _CITED on its owner, so
    that it meets the account's own posts but two citing posts do not meet each other.
    """
    if key.startswith("cites:"):
        return _AUTHOR_BIT | _key32("author:" + key[6:]), _CITED
    return _kind_bits(key) | _key32(key), 0


class _State(NamedTuple):
    """The Clusterer's compact state of every post, as arrays indexed by post number."""

    names: np.ndarray
    ages: np.ndarray
    sigs: np.ndarray
    phoned: np.ndarray  # gives a phone number
    short: np.ndarray  # shorter than SHORT_TEXT
    when: np.ndarray  # POSIX seconds, inf if unknown
    kind: np.ndarray  # index in classify.episodes.KINDS
    places: np.ndarray  # (posts, 3) district, street and community codes
    subjects: np.ndarray  # subject bits (classify.episodes.subjects)


def _apart(i: np.ndarray, j: np.ndarray, state: _State) -> np.ndarray:
    """Return which pairs name two different places or people (`classify.episodes.apart`)."""
    pi, pj = state.places[i], state.places[j]
    apart = np.any((pi != 0) & (pj != 0) & (pi != pj), axis=1)
    si, sj = state.subjects[i], state.subjects[j]
    return apart | ((si != 0) & (sj != 0) & ((si & sj) == 0))


def _within(i: np.ndarray, j: np.ndarray, state: _State, seconds: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.abs(state.when[i] - state.when[j]) <= seconds  # unknown (inf): False


def _decide_pairs(
    i: np.ndarray,
    j: np.ndarray,
    phone: np.ndarray,
    state: _State,
    relay: np.ndarray | None = None,
    author: np.ndarray | None = None,
) -> np.ndarray:
    """Return which candidate pairs (I, J) are duplicates, as `same_episode` decides them.

    The vectorised form of `_score` >= `_threshold` on the Clusterer's compact state. PHONE
    says the pair shares this (phone) key; PHONED and SHORT, per post, that it gives a phone
    number and is shorter than SHORT_TEXT. A pair giving numbers it does not share, one of
    them short, is decided by text with the stricter OTHER_PHONES_SAME; should it share a
    number, its phone key links it anyway, unless its posts are far apart in time or name
    two places or people (`classify.episodes.phone_episode`). RELAY says the pair shares a
    relay key (one reposts the other): linked unless they name two different persons.
    AUTHOR says it shares an author key: linked as `classify.episodes.same_author_episode`
    decides, unless person facts differ.
    """
    names, ages, sigs, phoned, short = state[:5]
    name_i, name_j = names[i], names[j]
    named = (name_i != 0).astype(np.int8) + (name_j != 0)
    same_name = (name_i != 0) & (name_i == name_j)
    age_i, age_j = ages[i], ages[j]
    ages_known = (age_i != 0) & (age_j != 0)
    decided = same_name & ages_known & (age_i == age_j)
    apart = _apart(i, j, state)
    if phone.any():
        unknown = np.isinf(state.when[i]) | np.isinf(state.when[j])
        within = unknown | _within(i, j, state, PHONE_WINDOW.total_seconds())
        offer = KINDS.index("offer")
        one_offers = (state.kind[i] == offer) != (state.kind[j] == offer)
        phone = phone & within & ~apart & ~one_offers
    # Same name without both ages, or no name shared: the texts decide.
    by_text = (same_name & ~ages_known) | ((named < 2) & ~phone)
    decided |= (named < 2) & phone & ~same_name
    # One name and one number (a sheet row and its update), whatever their few words.
    decided |= same_name & ~ages_known & phone
    wanted = np.flatnonzero(by_text)
    for low in range(0, len(wanted), _PAIR_CHUNK):
        chunk = wanted[low : low + _PAIR_CHUNK]
        agree = np.count_nonzero(sigs[i[chunk]] == sigs[j[chunk]], axis=1)
        sim = agree.astype(np.float64) / NUM_PERM
        # 16 bits of each row: correct the 1/65536 chance that two rows agree by accident.
        sim = np.maximum(0.0, (sim - _SIG_COLLIDE) / (1 - _SIG_COLLIDE))
        threshold = np.where(
            same_name[chunk],
            NAME_TEXT_SAME,
            np.where(named[chunk] == 1, TEXT_SAME_ONE_NAMED, TEXT_SAME),
        )
        ci, cj = i[chunk], j[chunk]
        other = phoned[ci] & phoned[cj] & (short[ci] | short[cj]) & ~same_name[chunk]
        threshold = np.where(other, np.maximum(threshold, OTHER_PHONES_SAME), threshold)
        decided[chunk] = sim >= threshold
    persons_differ = ((named == 2) & ~same_name) | (same_name & ages_known & (age_i != age_j))
    if relay is not None:
        decided |= relay & ~((named == 2) & ~same_name)
    if author is not None and author.any():
        unlinked = _UNLINKED[state.kind[i]] | _UNLINKED[state.kind[j]]
        episode = _within(i, j, state, EPISODE_WINDOW.total_seconds()) & ~apart & ~unlinked
        # Both give numbers: a shared one links them by its own key, other ones are others.
        episode &= ~(phoned[i] & phoned[j])
        decided |= author & episode & ~persons_differ
    return decided


def _relaying(keys: np.ndarray, owners: np.ndarray, state: _State) -> np.ndarray:
    """Return which rows of sorted KEYS are author keys of a relaying account.

    An account whose posts name RELAYER_SUBJECTS or more different persons (template
    names) or districts posts for many people: its posts are not linked by its author key.
    """
    rows = np.flatnonzero((keys >> np.uint64(32)) & np.uint64(_AUTHOR_BIT >> 32))
    if len(rows) < RELAYER_SUBJECTS:
        return np.zeros(len(keys), dtype=bool)
    k = keys[rows]
    group = np.cumsum(np.concatenate([[True], k[1:] != k[:-1]])) - 1
    relaying = np.zeros(group[-1] + 1, dtype=bool)
    for values in (state.names[owners[rows]], state.places[owners[rows], 0]):
        known = values != 0
        pairs = np.unique(np.stack([group[known].astype(np.uint64), values[known]]), axis=1)
        relaying |= np.bincount(pairs[0].astype(np.int64), minlength=len(relaying)) >= (
            RELAYER_SUBJECTS
        )
    drop = np.zeros(len(keys), dtype=bool)
    drop[rows[relaying[group]]] = True
    return drop


def _roots(parent: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Return the roots of NODES and point NODES at them (every parent precedes its child)."""
    roots = parent[nodes]
    while True:
        up = parent[roots]
        if np.array_equal(up, roots):
            break
        roots = up
    parent[nodes] = roots
    return roots


def _union(parent: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    """Join the sets of each pair (A, B) in PARENT, the smallest member staying the root."""
    while len(a):
        root_a, root_b = _roots(parent, a), _roots(parent, b)
        apart = root_a != root_b
        a, b, root_a, root_b = a[apart], b[apart], root_a[apart], root_b[apart]
        # Hook the larger root under the smaller; of several hooks at once the smallest wins
        # and the others are retried with the new roots.
        np.minimum.at(parent, np.maximum(root_a, root_b), np.minimum(root_a, root_b))


class Clusterer:
    """Cluster posts sharing a blocking key, keeping only a compact state per post.

    Per post it keeps its id, date, person hashes, episode facts (kind, place codes,
    subjects) and a 16-bit-per-row MinHash signature (about 200 bytes), never the post
    itself; its blocking keys (as 32-bit hashes) wait in temporary files, one per range
    of hashes, once there are more than SPILL_KEYS of them. So a million posts fit in a
    few hundred megabytes, and the final clustering reads one range at a time.
    Candidates are the posts sharing a key (the latest MAX_BUCKET before each post, as a
    backlog lookup would return), decided as `same_episode` decides them; the clusters
    are the connected groups of those pairs.
    """

    def __init__(self, spill_keys: int = SPILL_KEYS) -> None:
        self._id_bytes = bytearray()
        self._id_ends = array("Q")
        self._when = array("d")
        self._name = array("Q")
        self._age = array("Q")
        self._sigs = array("H")
        self._phoned = bytearray()  # 1 for a post that gives a phone number
        self._short = bytearray()  # 1 for a post shorter than SHORT_TEXT
        self._kind = bytearray()  # its kind, as an index in classify.episodes.KINDS
        self._places = array("Q")  # district, street and community codes, 0 if unknown
        self._subjects = array("H")  # who it is about (classify.episodes.subjects)
        # A blocking key as its 32-bit hash, bit 32 set for phone keys, 33 for relay keys.
        self._keys = array("Q")
        self._owners = array("I")
        self._spill_keys = spill_keys
        self._spills: list[Any] = []
        self._parent: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self._id_ends)

    def __enter__(self) -> Clusterer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove the temporary files of spilled keys (the clusters stay readable)."""
        self._cluster()
        for handle in self._spills:
            handle.close()
        self._spills = []

    def _id(self, index: int) -> str:
        start = self._id_ends[index - 1] if index else 0
        return self._id_bytes[start : self._id_ends[index]].decode("utf-8", "surrogatepass")

    def add(self, post: dict[str, Any], sig: np.ndarray | None = None) -> int:
        """Add an analysed post (with `id`, `text`, `dedup_keys`) and return its number."""
        index = len(self._id_ends)
        name, age = person_key(post)
        sig = sig if sig is not None else signature(post.get("text") or "")
        keys = post.get("dedup_keys") or dedup_keys(post, sig)
        self._id_bytes += str(post.get("id")).encode("utf-8", "surrogatepass")
        self._id_ends.append(len(self._id_bytes))
        episode = read_facts(post)
        self._when.append(episode.when)
        self._kind.append(episode.kind)
        self._places.extend(episode.places)
        self._subjects.append(episode.subjects)
        self._name.append(int(short_digest(name, 8), 16) if name else 0)
        self._age.append(int(short_digest(age, 8), 16) if age else 0)
        self._sigs.frombytes(np.asarray(sig, dtype=np.uint64).astype(np.uint16).tobytes())
        self._phoned.append(any(key.startswith("phone:") for key in keys))
        self._short.append(len(post.get("text") or "") < SHORT_TEXT)
        for key in dict.fromkeys(keys):
            value, flag = _row_key(key)
            self._keys.append(value)
            self._owners.append(index | flag)
        if len(self._keys) >= self._spill_keys:
            self._spill()
        self._parent = None
        return index

    def _spill(self) -> None:
        """Move the waiting keys to the temporary file of their hash range."""
        if not self._keys:
            return
        if not self._spills:
            # Open as long as the clusterer: `close` (or the end of a `with`) removes them.
            self._spills = [tempfile.TemporaryFile() for _ in range(_RANGES)]  # noqa: SIM115
        rows = np.empty(len(self._keys), dtype=_ROW)
        rows["key"] = np.frombuffer(self._keys, dtype=np.uint64)
        rows["owner"] = np.frombuffer(self._owners, dtype=np.uint32)
        ranges = rows["key"] & np.uint64(_RANGES - 1)
        for number, handle in enumerate(self._spills):
            rows[ranges == number].tofile(handle)
        self._keys, self._owners = array("Q"), array("I")

    def _key_ranges(self) -> Iterator[np.ndarray]:
        """Yield the (key, owner) rows of every hash range, all rows of a key together."""
        if not self._spills:
            rows = np.empty(len(self._keys), dtype=_ROW)
            if len(rows):
                rows["key"] = np.frombuffer(self._keys, dtype=np.uint64)
                rows["owner"] = np.frombuffer(self._owners, dtype=np.uint32)
            yield rows
            return
        self._spill()
        for handle in self._spills:
            handle.flush()
            handle.seek(0)
            rows = np.fromfile(handle, dtype=_ROW)
            handle.seek(0, 2)
            yield rows

    def _state(self) -> _State:
        count = len(self)

        def numbers(values: array, dtype: Any) -> np.ndarray:
            return np.frombuffer(values, dtype=dtype) if count else np.zeros(0, dtype)

        return _State(
            names=numbers(self._name, np.uint64),
            ages=numbers(self._age, np.uint64),
            sigs=np.frombuffer(self._sigs, dtype=np.uint16).reshape(count, NUM_PERM),
            phoned=np.frombuffer(self._phoned, dtype=np.uint8).astype(bool),
            short=np.frombuffer(self._short, dtype=np.uint8).astype(bool),
            when=numbers(self._when, np.float64),
            kind=np.frombuffer(self._kind, dtype=np.uint8),
            places=numbers(self._places, np.uint64).reshape(count, 3),
            subjects=numbers(self._subjects, np.uint16),
        )

    def _cluster(self) -> np.ndarray:
        if self._parent is not None:
            return self._parent
        count = len(self)
        parent = np.arange(count, dtype=np.int64)
        state = self._state()
        for rows in self._key_ranges():
            if len(rows) < 2:
                continue
            numbers = rows["owner"] & np.uint32(_CITED - 1)
            order = np.lexsort((numbers, rows["key"]))
            keys = rows["key"][order]
            owners = numbers[order].astype(np.int64)
            cited = (rows["owner"][order] & np.uint32(_CITED)) != 0
            del rows, order, numbers
            kept = ~_relaying(keys, owners, state)
            if not kept.all():
                keys, owners, cited = keys[kept], owners[kept], cited[kept]
            # Each post against the MAX_BUCKET posts before it that share the key; the
            # clusters are the connected groups of duplicate pairs, whatever their order.
            for back in range(1, min(MAX_BUCKET + 1, len(keys))):
                pos = np.flatnonzero(keys[back:] == keys[:-back])
                if not len(pos):
                    break
                i, j = owners[pos], owners[pos + back]
                # Pairs already in one cluster need no decision.
                apart = np.flatnonzero(_roots(parent, i) != _roots(parent, j))
                i, j, pos = i[apart], j[apart], pos[apart]
                bits = keys[pos + back] >> np.uint64(32)
                phone = (bits & np.uint64(1)).astype(bool)
                relay = (bits & np.uint64(2)).astype(bool)
                # Two posts citing one account are not linked by it: only its own posts.
                author = (bits & np.uint64(4)).astype(bool) & ~(cited[pos] & cited[pos + back])
                same = _decide_pairs(j, i, phone, state, relay, author)
                _union(parent, i[same], j[same])
        while True:
            up = parent[parent]
            if np.array_equal(up, parent):
                break
            parent = up
        self._parent = parent
        return parent

    def iter_assignments(self) -> Iterator[tuple[str, str, int]]:
        """Yield (cluster id, canonical post id, cluster size) for every post, in order."""
        roots = self._cluster()
        count = len(self)
        sizes = np.bincount(roots, minlength=count) if count else np.zeros(0, np.int64)
        when = np.frombuffer(self._when, dtype=np.float64) if count else np.zeros(0)
        # The earliest post is canonical; posts without a date count as latest.
        order = np.lexsort((np.arange(count), when, roots))
        first = np.ones(count, dtype=bool)
        first[1:] = roots[order][1:] != roots[order][:-1]
        canonical = np.empty(count, dtype=np.int64)
        canonical[roots[order][first]] = order[first]
        for index in range(count):
            root = int(roots[index])
            canonical_id = self._id(int(canonical[root]))
            yield cluster_id(canonical_id), canonical_id, int(sizes[root])

    def assignments(self) -> list[tuple[str, str, int]]:
        """Return (cluster id, canonical post id, cluster size) for every post, in order."""
        return list(self.iter_assignments())
