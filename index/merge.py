"""Dispatchers' manual merge of two duplicate clusters, and its exact undo.

A merge moves every member of one cluster into the other (the cluster whose canonical post
is older keeps its id, as in `clusters.assign`) and records one `merge` event naming the
moved posts and what each one's `merged_into` was, so `undo` puts back exactly those posts
and nothing else, even after more posts joined the surviving cluster.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError, helpers

from index import clusters
from index.client import answering
from index.mapping import Names
from index.workflow import Actor
from qiuzhu.errors import Conflict, InvalidInput, NotFound

MAX_MEMBERS = 5000


def _members(client: Elasticsearch, names: Names, cluster: str) -> list[dict[str, Any]]:
    with answering(client):
        response = client.search(
            index=names.requests,
            query={"term": {"cluster": cluster}},
            source_includes=["id", "posted_at", "merged_into"],
            sort=[{"posted_at": {"order": "asc", "unmapped_type": "date"}}, {"id": "asc"}],
            size=MAX_MEMBERS,
        )
    return [{"_id": h["_id"], **h["_source"]} for h in response["hits"]["hits"]]


def _visible(client: Elasticsearch, names: Names) -> None:
    # A dispatcher reloads the list right after a merge: it must show the new sizes.
    with answering(client):
        client.indices.refresh(index=names.requests)


def _event(client: Elasticsearch, names: Names, event: dict[str, Any]) -> str:
    with answering(client):
        result = client.index(index=names.events, document=event, refresh=True)
    return str(result["_id"])


def merge(
    client: Elasticsearch, names: Names, first: str, second: str, actor: Actor
) -> dict[str, Any]:
    """Merge clusters FIRST and SECOND; return the merge id, the kept and the moved cluster.

    Raises:
        InvalidInput: the two are the same cluster.
        NotFound: a cluster has no member.
    """
    if first == second:
        raise InvalidInput("A cluster cannot be merged with itself: pick two different clusters.")
    with answering(client):
        client.indices.refresh(index=names.requests)
    found = {c: _members(client, names, c) for c in (first, second)}
    for cluster, docs in found.items():
        if not docs:
            raise NotFound(f"No request is in the cluster {cluster!r}.")

    def age(c: str) -> tuple[str, str]:
        return (found[c][0].get("posted_at") or "9999", c)

    into, gone = sorted((first, second), key=age)
    moved = {d["_id"]: d.get("merged_into") for d in found[gone]}
    _move(client, names, {i: (into, into) for i in moved})
    clusters.refresh(client, names, [into])
    _visible(client, names)
    now = datetime.now(UTC).isoformat()
    merge_id = _event(
        client,
        names,
        {
            "request_id": found[into][0]["_id"],
            "cluster": into,
            "at": now,
            "user": actor.user,
            "role": actor.role,
            "action": "merge",
            "field": "cluster",
            "old": gone,
            "new": into,
            "note": json.dumps({"from": gone, "into": into, "moved": moved}),
        },
    )
    return {"merge_id": merge_id, "into": into, "from": gone, "moved": sorted(moved)}


def _move(client: Elasticsearch, names: Names, targets: dict[str, tuple[str, str | None]]) -> None:
    # TARGETS: request id -> (cluster, merged_into)
    actions = (
        {
            "_op_type": "update",
            "_index": names.requests,
            "_id": request_id,
            "doc": {"cluster": cluster, "merged_into": merged_into},
        }
        for request_id, (cluster, merged_into) in targets.items()
    )
    with answering(client):
        helpers.bulk(client, actions, raise_on_error=True, refresh=True)


def undo(client: Elasticsearch, names: Names, merge_id: str, actor: Actor) -> dict[str, Any]:
    """Undo merge MERGE_ID: move its moved posts back to their own cluster.

    Posts that left the surviving cluster since (another merge, a re-ingestion) are left
    where they are, and named in the answer.

    Raises:
        NotFound: no merge has that id.
        Conflict: the merge was undone already.
    """
    with answering(client):
        try:
            event = client.get(index=names.events, id=merge_id)["_source"]
        except NotFoundError:
            event = None
    if not event or event.get("action") != "merge":
        raise NotFound(f"No merge has the id {merge_id!r}.")
    with answering(client):
        done = client.count(
            index=names.events,
            query={
                "bool": {"filter": [{"term": {"action": "unmerge"}}, {"term": {"old": merge_id}}]}
            },
        )["count"]
    if done:
        raise Conflict("This merge was undone already; reload the cluster to see where it is.")
    detail = json.loads(event["note"])
    into, gone, moved = detail["into"], detail["from"], detail["moved"]
    with answering(client):
        docs = client.mget(index=names.requests, ids=list(moved), source=["cluster"])["docs"]
    still = [d["_id"] for d in docs if d.get("found") and d["_source"].get("cluster") == into]
    _move(client, names, {i: (gone, moved[i]) for i in still})
    clusters.refresh(client, names, [into, gone])
    _visible(client, names)
    _event(
        client,
        names,
        {
            "request_id": event["request_id"],
            "cluster": into,
            "at": datetime.now(UTC).isoformat(),
            "user": actor.user,
            "role": actor.role,
            "action": "unmerge",
            "field": "merge",
            "old": merge_id,
            "new": gone,
        },
    )
    return {
        "merge_id": merge_id,
        "restored": gone,
        "moved_back": sorted(still),
        "left": sorted(set(moved) - set(still)),
    }


def merges(client: Elasticsearch, names: Names, cluster: str) -> list[dict[str, Any]]:
    """Return the merges into CLUSTER, newest first, each with whether it was undone."""
    with answering(client):
        response = client.search(
            index=names.events,
            query={
                "bool": {
                    "filter": [
                        {"terms": {"action": ["merge", "unmerge"]}},
                        {"term": {"cluster": cluster}},
                    ]
                }
            },
            sort=[{"at": "desc"}],
            size=200,
            ignore_unavailable=True,
        )
    hits = response["hits"]["hits"]
    undone = {h["_source"]["old"] for h in hits if h["_source"]["action"] == "unmerge"}
    return [
        {
            "merge_id": h["_id"],
            "at": h["_source"]["at"],
            "user": h["_source"]["user"],
            "from": h["_source"]["old"],
            "into": h["_source"]["new"],
            "moved": len(json.loads(h["_source"]["note"])["moved"]),
            "undone": h["_id"] in undone,
        }
        for h in hits
        if h["_source"]["action"] == "merge"
    ]


def detach(client: Elasticsearch, names: Names, request_id: str, actor: Actor) -> dict[str, Any]:
    """Take request REQUEST_ID out of its cluster: it was linked to posts of another episode.

    The request moves to a cluster of its own (named after it); should it have been the
    cluster's oldest post, the others keep their cluster under the name of the next
    oldest. It keeps `apart_from` the cluster's oldest remaining post, so no later
    ingestion or reconciliation links the two clusters again (`clusters.assign`).

    Raises:
        NotFound: no request has that id.
        InvalidInput: the request is alone in its cluster already.
    """
    from classify.dedup import cluster_id  # the NLP stage's naming of clusters

    with answering(client):
        try:
            doc = client.get(index=names.requests, id=request_id, source=["cluster", "apart_from"])[
                "_source"
            ]
        except NotFoundError:
            raise NotFound(f"No request has the id {request_id!r}.") from None
        client.indices.refresh(index=names.requests)
    old = doc["cluster"]
    others = [d for d in _members(client, names, old) if d["_id"] != request_id]
    if not others:
        raise InvalidInput("This request is alone in its cluster: there is nothing to detach.")
    anchor = others[0]["_id"]
    own = cluster_id(request_id)
    moves: dict[str, tuple[str, str | None]] = {request_id: (own, None)}
    if own == old:
        # It named the cluster: the others take the name of their oldest.
        rest = cluster_id(anchor)
        moves.update({d["_id"]: (rest, d.get("merged_into")) for d in others})
    else:
        rest = old
    _move(client, names, moves)
    apart = sorted({*(doc.get("apart_from") or []), anchor})
    with answering(client):
        client.update(index=names.requests, id=request_id, doc={"apart_from": apart}, refresh=True)
    clusters.refresh(client, names, [own, rest])
    _visible(client, names)
    _event(
        client,
        names,
        {
            "request_id": request_id,
            "cluster": rest,
            "at": datetime.now(UTC).isoformat(),
            "user": actor.user,
            "role": actor.role,
            "action": "detach",
            "field": "cluster",
            "old": old,
            "new": own,
        },
    )
    return {"request_id": request_id, "cluster": own, "from": rest, "apart_from": apart}
