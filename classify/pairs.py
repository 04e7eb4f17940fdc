"""Duplicate decisions on many candidate pairs at once, for `classify.clusterer`.

The vectorised form of `classify.dedup.same_episode` on the Clusterer's compact state
(`State`), union-find over post numbers, and the resolution of follow-ups that refer back
to an earlier request (`resolve_references`), which join only an episode they alone fit.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from classify.dedup import (
    NAME_TEXT_SAME,
    NUM_PERM,
    OTHER_PHONES_SAME,
    TEXT_SAME,
    TEXT_SAME_ONE_NAMED,
    person_facts,
)
from classify.episodes import (
    EPISODE_WINDOW,
    KINDS,
    PHONE_WINDOW,
    REFERENCE_WINDOW,
    UNLINKED_KINDS,
    facts,
    reference_target,
)

_SIG_COLLIDE = 1 / 65536
_UNLINKED = np.array([kind in UNLINKED_KINDS for kind in KINDS])
# Candidate pairs whose signatures are compared at once (two 128-byte rows a pair).
_PAIR_CHUNK = 1 << 16


class State(NamedTuple):
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


def apart(i: np.ndarray, j: np.ndarray, state: State) -> np.ndarray:
    """Return which pairs name two different places or people (`classify.episodes.apart`)."""
    pi, pj = state.places[i], state.places[j]
    apart = np.any((pi != 0) & (pj != 0) & (pi != pj), axis=1)
    si, sj = state.subjects[i], state.subjects[j]
    return apart | ((si != 0) & (sj != 0) & ((si & sj) == 0))


def within(i: np.ndarray, j: np.ndarray, state: State, seconds: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.abs(state.when[i] - state.when[j]) <= seconds  # unknown (inf): False


def decide_pairs(
    i: np.ndarray,
    j: np.ndarray,
    phone: np.ndarray,
    state: State,
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
    differ = apart(i, j, state)
    if phone.any():
        unknown = np.isinf(state.when[i]) | np.isinf(state.when[j])
        close = unknown | within(i, j, state, PHONE_WINDOW.total_seconds())
        offer = KINDS.index("offer")
        one_offers = (state.kind[i] == offer) != (state.kind[j] == offer)
        phone = phone & close & ~differ & ~one_offers
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
        episode = within(i, j, state, EPISODE_WINDOW.total_seconds()) & ~differ & ~unlinked
        # Both give numbers: a shared one links them by its own key, other ones are others.
        episode &= ~(phoned[i] & phoned[j])
        decided |= author & episode & ~persons_differ
    return decided


def roots(parent: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Return the roots of NODES and point NODES at them (every parent precedes its child)."""
    roots = parent[nodes]
    while True:
        up = parent[roots]
        if np.array_equal(up, roots):
            break
        roots = up
    parent[nodes] = roots
    return roots


def union(parent: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    """Join the sets of each pair (A, B) in PARENT, the smallest member staying the root."""
    while len(a):
        root_a, root_b = roots(parent, a), roots(parent, b)
        apart = root_a != root_b
        a, b, root_a, root_b = a[apart], b[apart], root_a[apart], root_b[apart]
        # Hook the larger root under the smaller; of several hooks at once the smallest wins
        # and the others are retried with the new roots.
        np.minimum.at(parent, np.maximum(root_a, root_b), np.minimum(root_a, root_b))


def resolve_references(
    parent: np.ndarray, cases: list[tuple[np.ndarray, np.ndarray, np.ndarray]], state: State
) -> None:
    """Join each post that refers back to an earlier one to the one episode it fits.

    CASES holds the rows of case keys (key, owner, whether the owner refers back). A
    referring post's candidates are the posts holding one of its keys that
    `classify.episodes.reference_target` accepts; it joins them only when they all
    belong to one cluster: two fitting episodes, and it stays where it is.
    """
    if not cases:
        return
    keys = np.concatenate([c[0] for c in cases])
    owners = np.concatenate([c[1] for c in cases])
    refers = np.concatenate([c[2] for c in cases])
    order = np.argsort(keys, kind="stable")
    keys, owners, refers = keys[order], owners[order], refers[order]
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    ends = np.append(starts[1:], len(keys))
    fitting: dict[int, set[int]] = {}
    window = REFERENCE_WINDOW.total_seconds()
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        group_refers = refers[start:end]
        if not group_refers.any() or group_refers.all():
            continue
        targets = owners[start:end][~group_refers]
        for ref in owners[start:end][group_refers].tolist():
            lag = state.when[ref] - state.when[targets]
            with np.errstate(invalid="ignore"):
                fits = (lag >= -3600) & (lag <= window) & (targets != ref)
            fits &= np.isin(state.kind[targets], TARGET_KINDS)
            chosen = targets[fits]
            refs = np.full(len(chosen), ref)
            # Another place or person, another name, or other numbers (a shared number
            # would have linked them already): another episode.
            other = apart(refs, chosen, state)
            names = state.names
            other |= (names[refs] != 0) & (names[chosen] != 0) & (names[refs] != names[chosen])
            other |= state.phoned[refs] & state.phoned[chosen]
            chosen = chosen[~other]
            fitting.setdefault(ref, set()).update(chosen.tolist())
    # In time order: a later reference finds the earlier one already joined.
    for ref in sorted(fitting, key=lambda r: (state.when[r], r)):
        targets_of = fitting[ref]
        if not targets_of:
            continue
        own = roots(parent, np.array([ref]))[0]
        found = set(roots(parent, np.array(sorted(targets_of))).tolist())
        # Already in a fitting episode (by its author, a repost): it needs no other.
        if len(found) == 1 and own not in found:
            union(parent, np.array([ref]), np.array([found.pop()]))


TARGET_KINDS = np.array([KINDS.index("request"), KINDS.index("update")], dtype=np.uint8)


def reference_fits(ref: dict[str, Any], target: dict[str, Any]) -> bool:
    """Return whether TARGET may be the earlier post that the post REF refers back to.

    The decision `resolve_references` makes for each candidate, on two posts (or a
    backlog candidate's card): `classify.episodes.reference_target`, and neither two
    different names nor two posts giving numbers (a shared one would have linked them).
    """
    if not reference_target(facts(ref), facts(target)):
        return False
    name_ref, name_target = person_facts(ref)[0], person_facts(target)[0]
    if name_ref and name_target and name_ref != name_target:
        return False
    return not (_phoned(ref) and _phoned(target))


def _phoned(post: dict[str, Any]) -> bool:
    return any(key.startswith("phone:") for key in post.get("dedup_keys") or [])
