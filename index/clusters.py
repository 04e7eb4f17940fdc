"""Duplicate clusters in the backlog: incremental assignment, aggregates, manual merges.

A post crawled tonight is compared with the whole backlog, not only tonight's batch. The NLP
stage gives each post blocking keys (`dedup_keys`: MinHash LSH bands, phone, person,
author and case keys); the backlog stores them, so the candidates of a batch are found
with one terms query per chunk of keys, whatever the backlog's size (`index.candidates`).
The caller's `same_episode` decides each candidate pair, and a follow-up that refers back
joins the one episode it fits; this module keeps cluster ids, sizes, canonical posts and
cluster urgencies consistent (`index.cluster_summary`).

Cluster ids already in the backlog are stable: when a batch links to an existing cluster it
takes that cluster's id, and when it links two existing clusters, the one whose canonical
post is older absorbs the other, unless a dispatcher took them apart (`index.merge.detach`).
A post already in the backlog keeps its backlog cluster, so a dispatcher's manual merge
survives re-ingestion.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch, helpers

from index.candidates import CANDIDATE_FIELDS as CANDIDATE_FIELDS
from index.candidates import as_post as as_post
from index.candidates import candidates as _candidates
from index.candidates import card_of as card_of
from index.candidates import epoch_millis as epoch_millis
from index.client import answering

# Callers refresh clusters through this module; the summary each member carries lives beside.
from index.cluster_summary import SUMMARY_FIELDS as SUMMARY_FIELDS
from index.cluster_summary import refresh as refresh
from index.cluster_summary import summary as summary
from index.mapping import Names

log = logging.getLogger(__name__)

SameEpisode = Callable[[dict[str, Any], dict[str, Any]], bool]

#: Members of a cluster that carry blocking keys; later members are found through them.
#: Each keyed member is a candidate fetched (its whole source) by every later post that
#: shares a key with it: at 300 k posts a third of the ingest's time went to fetching
#: them. Two give the same clusters as five on the labelled posts, and as many on 60 k
#: generated ones, with 37 % fewer candidates (`docs/operators.md`, *What a run does*).
KEYED_MEMBERS = 2
#: A key already carried by this many backlog posts is a stop word, not a block: an LSH
#: band whose minima come from common phrases, a common name, a hotline. Once seen that
#: often it is neither looked up nor stored again, so a post's candidates stay bounded
#: however large the backlog grows: otherwise LSH's chance collisions give each post
#: candidates in proportion to the backlog, and the whole ingest grows quadratically.
#: Reposts of one request do not fill a key: only KEYED_MEMBERS of a cluster carry keys,
#: and two merged clusters bring 2 * KEYED_MEMBERS, which must stay below this.
STOP_KEY_POSTS = 2 * KEYED_MEMBERS + 1


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _existing(client: Elasticsearch, names: Names, ids: list[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    with answering(client):
        response = client.mget(index=names.requests, ids=ids, source=["cluster", "posted_at"])
    return {
        d["_id"]: {**d["_source"], "posted_at": epoch_millis(d["_source"].get("posted_at"))}
        for d in response["docs"]
        if d.get("found")
    }


#: How an unknown post time sorts among backlog clusters' oldest times: first.
_UNKNOWN = -(2**63)


@dataclass
class Assignment:
    """What `assign` found: backlog clusters the batch joined, and clusters absorbed."""

    joined: set[str] = field(default_factory=set)
    #: absorbed cluster id -> the cluster id its members move to
    absorbed: dict[str, str] = field(default_factory=dict)
    #: ids of the batch's posts already in the backlog (None: not looked up)
    known: set[str] | None = None


def assign(
    client: Elasticsearch,
    names: Names,
    posts: list[dict[str, Any]],
    same_episode: SameEpisode,
    stop_keys: set[str] | None = None,
) -> Assignment:
    """Set each post's `cluster` against the batch and the whole backlog.

    POSTS carry `id` (the backlog id), `dedup_keys` and a batch-local `cluster` (posts of
    the batch already found to be duplicates share it). Returns the backlog clusters the
    batch joined (their sizes must be refreshed) and those absorbed into others (their
    members must be moved with `move_members`). STOP_KEYS, kept by the caller from one
    batch to the next, learns the keys found on STOP_KEY_POSTS backlog posts or more:
    they are not looked up again, and the batch's posts do not store them.
    """
    stop_keys = set() if stop_keys is None else stop_keys
    uf = _UnionFind()
    # Batch clusters are linked among themselves by the NLP stage's own clusterer.
    for post in posts:
        uf.union(f"b:{post['cluster']}", f"p:{post['id']}")
    existing = _existing(client, names, [p["id"] for p in posts])
    backlog_clusters: dict[str, int] = {}  # backlog cluster id -> its oldest known post time
    for post in posts:
        old = existing.get(post["id"])
        if old and old.get("cluster"):
            uf.union(f"p:{post['id']}", f"c:{old['cluster']}")
            when = old.get("posted_at")
            backlog_clusters.setdefault(old["cluster"], _UNKNOWN if when is None else when)
    lookups = {p["id"]: _lookup_keys(p) for p in posts}
    keys = sorted({k for found in lookups.values() for k in found} - stop_keys)
    wanted = set(keys)
    by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    keyed: Counter[str] = Counter()  # backlog cluster -> its members that carry keys
    for cand in _candidates(client, names, keys):
        keyed[cand["cluster"]] += 1
        for key in cand.get("dedup_keys") or []:
            if key in wanted:
                by_key[key].append(cand)
    # Fetched once, a stop word still links this batch; later batches skip it.
    stop_keys.update(k for k, found in by_key.items() if len(found) >= STOP_KEY_POSTS)
    for post in posts:
        # A copy, as the decision reads a post: it may cache things on what it is given
        # (signatures), which must not reach the strict mapping.
        view = as_post(post)
        seen: set[str] = set()
        for key in lookups[post["id"]]:
            for cand in by_key.get(key, ()):
                if cand["id"] in seen or cand["id"] == post["id"]:
                    continue
                seen.add(cand["id"])
                if uf.find(f"p:{post['id']}") == uf.find(f"c:{cand['cluster']}"):
                    continue
                if same_episode(view, cand):
                    uf.union(f"p:{post['id']}", f"c:{cand['cluster']}")
                    _oldest(backlog_clusters, cand)
    _join_references(posts, by_key, uf, backlog_clusters)
    # Name each group: its oldest backlog cluster, else the batch cluster id.
    groups: dict[str, list[str]] = defaultdict(list)
    for cluster in backlog_clusters:
        groups[uf.find(f"c:{cluster}")].append(cluster)
    absorbed: dict[str, str] = {}
    chosen: dict[str, str] = {}
    joining = [c for members in groups.values() if len(members) > 1 for c in members]
    apart = _kept_apart(client, names, joining)
    separate: set[str] = set()  # clusters a dispatcher keeps apart from their group's
    for root, clusters in groups.items():
        clusters.sort(key=lambda c: (backlog_clusters[c], c))
        chosen[root] = clusters[0]
        for gone in clusters[1:]:
            if frozenset((gone, clusters[0])) in apart:
                separate.add(gone)
            else:
                absorbed[gone] = clusters[0]
    for post in posts:
        root = uf.find(f"p:{post['id']}")
        old = existing.get(post["id"], {}).get("cluster")
        # A post a dispatcher detached stays in its own cluster whatever links it.
        post["cluster"] = old if old in separate else chosen.get(root, post["cluster"])
    for post in posts:
        # A cluster already findable through enough of its members needs no more: its
        # later copies index no keys, so a request reposted ten thousand times does not
        # make every later batch fetch ten thousand candidates.
        if keyed[post["cluster"]] >= KEYED_MEMBERS and post["id"] not in existing:
            # Its own relay key stays: it finds only the reposts of this very post.
            from classify.dedup import own_relay_key

            own = own_relay_key(post)
            post["dedup_keys"] = [own] if own in (post.get("dedup_keys") or []) else []
        elif stop_keys and post.get("dedup_keys"):
            post["dedup_keys"] = [k for k in post["dedup_keys"] if k not in stop_keys]
    return Assignment(joined=set(chosen.values()), absorbed=absorbed, known=set(existing))


def _kept_apart(client: Elasticsearch, names: Names, ids: list[str]) -> set[frozenset[str]]:
    """Return the pairs among cluster IDS that a dispatcher took apart (`merge.detach`).

    A detached post names the oldest post of the cluster it left (`apart_from`): the
    pair is its cluster and that post's cluster now, whatever they are called since.
    """
    if len(ids) < 2:
        return set()
    wanted = set(ids)
    with answering(client):
        response = client.search(
            index=names.requests,
            query={
                "bool": {
                    "filter": [
                        {"terms": {"cluster": sorted(wanted)}},
                        {"exists": {"field": "apart_from"}},
                    ]
                }
            },
            source_includes=["cluster", "apart_from"],
            size=1000,
            ignore_unavailable=True,
        )
    marks = [h["_source"] for h in response["hits"]["hits"]]
    anchors = sorted({a for m in marks for a in m.get("apart_from") or []})
    if not anchors:
        return set()
    with answering(client):
        docs = client.mget(index=names.requests, ids=anchors, source=["cluster"])["docs"]
    where = {d["_id"]: d["_source"].get("cluster") for d in docs if d.get("found")}
    pairs = set()
    for mark in marks:
        for anchor in mark.get("apart_from") or []:
            other = where.get(anchor)
            if other in wanted and other != mark["cluster"]:
                pairs.add(frozenset((mark["cluster"], other)))
    return pairs


def _oldest(backlog_clusters: dict[str, int], cand: dict[str, Any]) -> None:
    """Note that the batch joined CAND's backlog cluster, keeping its oldest known time."""
    known = backlog_clusters.get(cand["cluster"])
    when = cand.get("posted_at")
    when = _UNKNOWN if when is None else when
    if known is None or when < known:
        backlog_clusters[cand["cluster"]] = when


def _join_references(
    posts: list[dict[str, Any]],
    by_key: dict[str, list[dict[str, Any]]],
    uf: _UnionFind,
    backlog_clusters: dict[str, int],
) -> None:
    """Join each batch post that refers back (`refers:` keys) to the one episode it fits.

    Its candidates are the backlog's and the batch's posts holding the `case:` keys it
    refers to that `classify.pairs.reference_fits` accepts; it joins them only when they
    all belong to one cluster that is not already its own (as the Clusterer decides).
    """
    from classify.pairs import reference_fits

    holders: dict[str, list[dict[str, Any]]] = defaultdict(list)
    referring = []
    for post in posts:
        keys = post.get("dedup_keys") or []
        for key in keys:
            if key.startswith("case:"):
                holders[key].append(post)
        if any(key.startswith("refers:") for key in keys):
            referring.append(post)
    referring.sort(key=lambda p: (epoch_millis(p.get("posted_at")) or 0, p["id"]))
    for post in referring:
        view = as_post(post)
        fitting: dict[str, dict[str, Any] | None] = {}  # node -> its backlog candidate
        for key in post["dedup_keys"]:
            if not key.startswith("refers:"):
                continue
            case = "case:" + key.removeprefix("refers:")
            for cand in by_key.get(case, ()):
                if cand["id"] != post["id"] and reference_fits(view, cand):
                    fitting[f"c:{cand['cluster']}"] = cand
            for other in holders.get(case, ()):
                if other["id"] != post["id"] and reference_fits(view, as_post(other)):
                    fitting[f"p:{other['id']}"] = None
        own = uf.find(f"p:{post['id']}")
        roots = {uf.find(node) for node in fitting}
        if len(roots) != 1 or own in roots:
            continue
        for node, found in fitting.items():
            uf.union(f"p:{post['id']}", node)
            if found is not None:
                _oldest(backlog_clusters, found)


def _lookup_keys(post: dict[str, Any]) -> list[str]:
    """Return the keys POST's candidates carry: its own, and those its author keys meet.

    A post citing an account (`cites:`) meets that account's own posts (`author:`), an
    account's post meets the posts citing it, and a post referring back (`refers:`)
    meets the posts of its place and case (`case:`; `classify.episodes.counterpart`).
    """
    from classify.episodes import counterpart

    keys = list(post.get("dedup_keys") or [])
    keys += [other for key in keys if (other := counterpart(key)) is not None]
    return list(dict.fromkeys(keys))


def move_members(
    client: Elasticsearch, names: Names, moves: dict[str, str], refreshed: bool = False
) -> int:
    """Move every member of each cluster in MOVES (old id -> new id); return how many.

    REFRESHED: the caller knows that every member's cluster is searchable already (no write
    changed a `cluster` since the last index refresh), which spares a refresh.
    """
    if not moves:
        return 0
    with answering(client):
        if not refreshed:
            client.indices.refresh(index=names.requests)
        actions = (
            {
                "_op_type": "update",
                "_index": names.requests,
                "_id": hit["_id"],
                "doc": {"cluster": moves[hit["_source"]["cluster"]]},
            }
            for hit in helpers.scan(
                client,
                index=names.requests,
                query={"query": {"terms": {"cluster": list(moves)}}},
                _source=["cluster"],
            )
        )
        moved, _ = helpers.bulk(client, actions, raise_on_error=True)
    return int(moved)
