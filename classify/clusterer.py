"""Cluster a whole input of analysed posts in little memory (`qiuzhu analyze`, batches).

The same blocking keys and pair decision as `classify.dedup`, on a compact state per
post (decided many pairs at once by `classify.pairs`); the clusters are the connected
groups of duplicate pairs.
"""

from __future__ import annotations

import tempfile
from array import array
from collections.abc import Iterator
from typing import Any

import numpy as np

from classify.dedup import (
    MAX_BUCKET,
    NUM_PERM,
    SHORT_TEXT,
    cluster_id,
    dedup_keys,
    person_key,
    short_digest,
    signature,
)
from classify.episodes import counterpart, read_facts
from classify.pairs import State, decide_pairs, resolve_references, roots, union

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
#: Set on case keys (`case:`, see `classify.episodes.case_keys`): decided last, by
#: `_resolve_references`, since a reference joins only an episode it alone fits.
_CASE_BIT = 1 << 35
#: Set on the owner of a `cites:` or `refers:` key row (posts are numbered below it).
_CITED = 1 << 31
#: An author key held by posts naming this many different persons or districts is a
#: relaying account's (代发): its posts are linked by person facts, not by their author.
RELAYER_SUBJECTS = 3


def _key32(key: str) -> int:
    # Python's own string hash: the keys are compared only within one process, and a
    # collision only adds a candidate pair that `same_episode` then decides.
    return hash(key) & 0xFFFFFFFF


_KIND_BITS = {"phone": _PHONE_BIT, "author": _AUTHOR_BIT, "post": _RELAY_BIT, "case": _CASE_BIT}


def _row_key(key: str) -> tuple[int, int]:
    """Return KEY as its 32-bit hash with kind bits, and the owner flag it carries.

    A `cites:` key is kept as the `author:` key it meets, flagged _CITED on its owner, so
    that it meets the account's own posts but two citing posts do not meet each other;
    a `refers:` key likewise as the `case:` key it meets (`classify.episodes.counterpart`).
    """
    flag = 0
    if key.startswith(("cites:", "refers:")):
        key, flag = str(counterpart(key)), _CITED
    return _KIND_BITS.get(key.partition(":")[0], 0) | _key32(key), flag


def _relaying(keys: np.ndarray, owners: np.ndarray, state: State) -> np.ndarray:
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

    def _state(self) -> State:
        count = len(self)

        def numbers(values: array, dtype: Any) -> np.ndarray:
            return np.frombuffer(values, dtype=dtype) if count else np.zeros(0, dtype)

        return State(
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
        cases: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for rows in self._key_ranges():
            if len(rows) < 2:
                continue
            numbers = rows["owner"] & np.uint32(_CITED - 1)
            order = np.lexsort((numbers, rows["key"]))
            keys = rows["key"][order]
            owners = numbers[order].astype(np.int64)
            cited = (rows["owner"][order] & np.uint32(_CITED)) != 0
            del rows, order, numbers
            case = ((keys >> np.uint64(32)) & np.uint64(_CASE_BIT >> 32)) != 0
            if case.any():
                cases.append((keys[case], owners[case], cited[case]))
            kept = ~_relaying(keys, owners, state) & ~case
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
                apart = np.flatnonzero(roots(parent, i) != roots(parent, j))
                i, j, pos = i[apart], j[apart], pos[apart]
                bits = keys[pos + back] >> np.uint64(32)
                phone = (bits & np.uint64(1)).astype(bool)
                relay = (bits & np.uint64(2)).astype(bool)
                # Two posts citing one account are not linked by it: only its own posts.
                author = (bits & np.uint64(4)).astype(bool) & ~(cited[pos] & cited[pos + back])
                same = decide_pairs(j, i, phone, state, relay, author)
                union(parent, i[same], j[same])
        resolve_references(parent, cases, state)
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
