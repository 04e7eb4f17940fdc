"""Offers meet requests: which open offers could serve a request, and the reverse.

An offer could serve a request when it offers one of the request's needs (an offer's
needs are what it offers), is still valid (open, not marked used up, its stated capacity
not reached, its stated expiry not past) and is near: the same city, or an offer that
names no place (a hotline, an online doctor). Nearest first: the same community, then
street, district, city, then offers without a place. Requests an offer could serve are
the open ones nobody has answered yet (new or triaged), nearest first, then most urgent,
then the longest waiting.

A dispatcher's link (`link`) is recorded in both posts' history, moves the request to
assigned, counts against the offer's capacity and marks it used up when the capacity is
reached; `unlink` takes a wrong link back. These are workflow fields: re-ingestion never
writes them. Each list row's count of offers is index/offer_counts.py's.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch

from index import offer_counts
from index.client import answering
from index.mapping import Names
from index.views import shape
from index.workflow import Actor, Version, change, get_request, record, update_as_of
from qiuzhu.errors import Conflict, InvalidInput, NotFound

#: Place levels a match may share, nearest first, with the score each adds: a nearer
#: level outweighs every farther one together.
LEVELS = (("community", 16.0), ("street", 8.0), ("district", 4.0), ("city", 2.0))
#: Requests an offer may still serve: nobody has answered them yet.
WAITING = ("new", "triaged")
OFFER_OPEN = ("new", "triaged", "assigned")
#: Matches listed at most, per request or offer.
MAX_MATCHES = 50
#: Tries to write an offer's link count when another dispatcher writes it at once.
_TRIES = 5


def valid_offers(now: datetime) -> list[dict[str, Any]]:
    """Return the filter clauses of offers that still hold at NOW."""
    return [
        {"term": {"kind": "offer"}},
        {"terms": {"status": list(OFFER_OPEN)}},
        {"term": {"is_canonical": True}},
        {
            "bool": {
                "should": [
                    {"bool": {"must_not": {"exists": {"field": "offer.expires_at"}}}},
                    {"range": {"offer.expires_at": {"gte": now.isoformat()}}},
                ],
                "minimum_should_match": 1,
            }
        },
        {"bool": {"must_not": [{"term": {"offer_used_up": True}}, {"term": {"deleted": True}}]}},
    ]


def _near(source: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return the (filter, should) clauses of posts near SOURCE's place."""
    should = [
        {"constant_score": {"filter": {"term": {f"{level}_code": code}}, "boost": boost}}
        for level, boost in LEVELS
        if (code := source.get(f"{level}_code"))
    ]
    city = source.get("city_code")
    if not city:
        return [], should
    # The same city, or a post that names no city (a hotline serves everywhere).
    near = {
        "bool": {
            "should": [
                {"term": {"city_code": city}},
                {"bool": {"must_not": {"exists": {"field": "city_code"}}}},
            ],
            "minimum_should_match": 1,
        }
    }
    return [near], should


def level(a: dict[str, Any], b: dict[str, Any]) -> str:
    """Return the nearest place level A and B share: "anywhere" when B names no city (a
    hotline), "" when they share none or A names none."""
    for name, _ in LEVELS:
        code = a.get(f"{name}_code")
        if code and code == b.get(f"{name}_code"):
            return name
    return "anywhere" if a.get("city_code") and not b.get("city_code") else ""


def _not_linked(post: dict[str, Any]) -> list[dict[str, Any]]:
    linked = post.get("links") or []
    return [{"bool": {"must_not": {"ids": {"values": linked}}}}] if linked else []


def offers_body(request: dict[str, Any], now: datetime, size: int = MAX_MATCHES) -> dict[str, Any]:
    """Return the search body of the offers that could serve REQUEST, those linked to it
    already left out (pure: no I/O)."""
    near, should = _near(request)
    needs = request.get("needs") or []
    return {
        "query": {
            "bool": {
                "filter": [
                    *valid_offers(now),
                    {"terms": {"needs": needs}},
                    *near,
                    *_not_linked(request),
                ],
                "should": should,
            }
        },
        "sort": [
            "_score",
            {"offer.expires_at": {"order": "asc", "missing": "_last"}},
            {"posted_at": {"order": "desc"}},
            "id",
        ],
        "size": size,
        "track_total_hits": True,
    }


def requests_body(offer: dict[str, Any], size: int = MAX_MATCHES) -> dict[str, Any]:
    """Return the search body of the requests OFFER could serve (pure: no I/O)."""
    near, should = _near(offer)
    return {
        "query": {
            "bool": {
                "filter": [
                    {"term": {"kind": "request"}},
                    {"terms": {"status": list(WAITING)}},
                    {"term": {"is_canonical": True}},
                    {"terms": {"needs": offer.get("needs") or []}},
                    {"bool": {"must_not": {"term": {"deleted": True}}}},
                    *near,
                    *_not_linked(offer),
                ],
                "should": should,
            }
        },
        "sort": ["_score", {"cluster_urgency_rank": "desc"}, {"posted_at": "asc"}, "id"],
        "size": size,
        "track_total_hits": True,
    }


def _shown(hits: list[dict[str, Any]], origin: dict[str, Any], links: bool) -> list[dict[str, Any]]:
    rows = []
    for hit in hits:
        row = shape(hit["_source"], links=links)
        row["near"] = level(origin, hit["_source"])
        rows.append(row)
    return rows


def matches(
    client: Elasticsearch, names: Names, post_id: str, *, links: bool, now: datetime | None = None
) -> dict[str, Any]:
    """Return the matches of a request (offers) or of an offer (requests), nearest first.

    Raises:
        NotFound: no post has that id.
        InvalidInput: the post is neither a request nor an offer.
    """
    source, _ = get_request(client, names, post_id)
    kind = source.get("kind")
    if kind not in ("request", "offer"):
        raise InvalidInput(f"Only requests and offers have matches; this post is {kind!r}.")
    if not source.get("needs"):
        return {"id": post_id, "kind": kind, "total": 0, "matches": [], "linked": []}
    if kind == "request":
        body = offers_body(source, now or datetime.now(UTC))
    else:
        body = requests_body(source)
    with answering(client):
        response = client.search(index=names.requests, body=body, ignore_unavailable=True)
    return {
        "id": post_id,
        "kind": kind,
        "total": response["hits"]["total"]["value"],
        "matches": _shown(response["hits"]["hits"], source, links),
        "linked": _linked(client, names, list(source.get("links") or []), links),
    }


def _linked(client: Elasticsearch, names: Names, ids: list[str], links: bool) -> list[dict]:
    if not ids:
        return []
    with answering(client):
        response = client.mget(index=names.requests, ids=ids)
    return [shape(d["_source"], links=links) for d in response["docs"] if d.get("found")]


def _offer_state(
    client: Elasticsearch, names: Names, offer_id: str
) -> tuple[dict[str, Any], Version]:
    source, version = get_request(client, names, offer_id)
    if source.get("kind") != "offer":
        raise InvalidInput(f"{offer_id!r} is no offer (it is {source.get('kind')!r}).")
    return source, version


def _still_valid(offer: dict[str, Any], now: datetime) -> str:
    """Return why OFFER no longer holds ("" when it does)."""
    if offer.get("status") not in OFFER_OPEN:
        return f"the offer is {offer.get('status')}"
    if offer.get("offer_used_up"):
        return "the offer is used up"
    until = (offer.get("offer") or {}).get("expires_at")
    if until and datetime.fromisoformat(until) < now:
        return "the offer has expired"
    return ""


def _write_offer(
    client: Elasticsearch,
    names: Names,
    offer_id: str,
    actor: Actor,
    request_id: str,
    add: bool,
    now: datetime,
) -> dict[str, Any]:
    """Add or remove REQUEST_ID on the offer's links, its count and used-up flag."""
    for _ in range(_TRIES):
        offer, version = _offer_state(client, names, offer_id)
        linked = list(offer.get("links") or [])
        if add:
            reason = _still_valid(offer, now)
            if reason:
                raise InvalidInput(f"This offer cannot be linked: {reason}.")
            if request_id not in linked:
                linked.append(request_id)
        elif request_id in linked:
            linked.remove(request_id)
        capacity = (offer.get("offer") or {}).get("capacity")
        used_up = bool(offer.get("offer_used_up"))
        if capacity:
            used_up = len(linked) >= capacity
        update = {
            "links": linked,
            "offer_used": len(linked),
            "offer_used_up": used_up,
            "updated_at": now.isoformat(),
            "updated_by": actor.user,
        }
        if update_as_of(client, names, offer_id, version, update) is None:
            continue
        events = [_event(offer, offer_id, actor, now, "link" if add else "unlink", request_id)]
        if used_up != bool(offer.get("offer_used_up")):
            events.append(_event(offer, offer_id, actor, now, "used_up", str(used_up).lower()))
        with answering(client):
            record(client, names, events)
        return {**offer, **update}
    raise Conflict("The offer kept changing while it was linked: try again.")


def _event(
    post: dict[str, Any], post_id: str, actor: Actor, now: datetime, action: str, new: str
) -> dict[str, Any]:
    field = "offer_used_up" if action == "used_up" else "links"
    return {
        "request_id": post_id,
        "cluster": post.get("cluster"),
        "at": now.isoformat(),
        "user": actor.user,
        "role": actor.role,
        "action": action,
        "field": field,
        "new": new,
    }


def link(
    client: Elasticsearch,
    names: Names,
    request_id: str,
    offer_id: str,
    actor: Actor,
    version: Version | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Link an offer to a request: both histories record it, the request is assigned.

    VERSION is the request's as the dispatcher saw it. Returns the request's new source.

    Raises:
        InvalidInput: not a request and an offer, or the offer no longer holds.
        Conflict: someone changed the request after VERSION.
        NotFound: either post is missing.
    """
    now = now or datetime.now(UTC)
    request, seen = get_request(client, names, request_id)
    if request.get("kind") != "request":
        kind = request.get("kind")
        raise InvalidInput(f"Offers are linked to requests; {request_id!r} is {kind!r}.")
    offer, _ = _offer_state(client, names, offer_id)
    reason = _still_valid(offer, now)
    if reason:
        raise InvalidInput(f"This offer cannot be linked: {reason}.")
    if offer_id in (request.get("links") or []):
        raise InvalidInput("This offer is linked to the request already.")
    updated, _ = change(client, names, request_id, actor, version or seen, link=offer_id)
    offer_counts.invalidate(names)
    try:
        _write_offer(client, names, offer_id, actor, request_id, True, now)
    except (InvalidInput, Conflict, NotFound):
        # Another dispatcher took the offer's last place meanwhile: the request's link goes.
        change(client, names, request_id, actor, unlink=offer_id)
        raise
    return updated


def unlink(
    client: Elasticsearch,
    names: Names,
    request_id: str,
    offer_id: str,
    actor: Actor,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Take a wrong link back: from the request, the offer and the offer's count.

    Raises:
        InvalidInput: the two are not linked.
        NotFound: either post is missing.
    """
    now = now or datetime.now(UTC)
    request, _ = get_request(client, names, request_id)
    if offer_id not in (request.get("links") or []):
        raise InvalidInput("This offer is not linked to the request.")
    updated, _ = change(client, names, request_id, actor, unlink=offer_id)
    offer_counts.invalidate(names)
    # An offer gone from the backlog leaves the request's side clean all the same.
    with contextlib.suppress(NotFound):
        _write_offer(client, names, offer_id, actor, request_id, False, now)
    return updated


def mark_used_up(
    client: Elasticsearch,
    names: Names,
    offer_id: str,
    actor: Actor,
    used_up: bool = True,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Mark an offer used up (or available again); recorded in its history.

    Raises:
        InvalidInput: the post is no offer.
        NotFound: no such post.
    """
    now = now or datetime.now(UTC)
    for _ in range(_TRIES):
        offer, version = _offer_state(client, names, offer_id)
        if bool(offer.get("offer_used_up")) == used_up:
            return offer
        update = {"offer_used_up": used_up, "updated_at": now.isoformat(), "updated_by": actor.user}
        if update_as_of(client, names, offer_id, version, update) is None:
            continue
        offer_counts.invalidate(names)
        marked = _event(offer, offer_id, actor, now, "used_up", str(used_up).lower())
        with answering(client):
            record(client, names, [marked])
        return {**offer, **update}
    raise Conflict("The offer kept changing: try again.")
