"""Dispatchers' routes: search, a request's detail, workflow, contacts, merges, detaching."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from api import params
from api.app import Caller, FastJSON, state_of
from index import contacts, merge, offer_counts, views, workflow
from index.users import CONTACT_ROLES, User
from qiuzhu.errors import InvalidInput

router = APIRouter(prefix="/api")
WRITERS = ("dispatcher", "admin")


def _actor(user: User) -> workflow.Actor:
    return workflow.Actor(user.name, user.role)


def _version(token: str) -> workflow.Version:
    """Return the request's version a client echoed back; 400 when it is no version."""
    try:
        return views.parse_version(token)
    except ValueError:
        raise InvalidInput(
            "`version` must be the `version` field of the request as you loaded it."
        ) from None


def _writer(user: User) -> None:
    from api.auth import require

    require(user, *WRITERS)


@router.get("/me")
def me(request: Request, user: Caller) -> dict[str, Any]:
    """Return who is logged in, their role, and the CSRF token for the console."""
    state = state_of(request)
    session = state.auth.session(request)
    return {
        "name": user.name,
        "role": user.role,
        "sees_contacts": user.sees_contacts,
        "csrf": state.auth.signer.csrf(session) if session else None,
    }


@router.get("/requests")
def search(request: Request, user: Caller) -> FastJSON:
    """Return one page of the backlog (one row per duplicate cluster) with facet counts."""
    query = request.query_params
    params.check_known(query, (*params.FILTER_PARAMS, *params.PAGE_PARAMS))
    filters = params.filters(query, contacts=user.sees_contacts)
    options = params.page_options(query)
    state = state_of(request)
    page = views.search_page(
        state.client, state.names, filters, links=user.sees_contacts, **options.kwargs()
    )
    if options.matches:
        offer_counts.count_offers(state.client, state.names, page.rows)
    # Plain JSON types only: returning the response skips FastAPI's per-field encoding.
    return FastJSON(
        {
            "total": page.total,
            "clusters": page.clusters,
            "page": options.page,
            "size": options.size,
            "sort": options.sort,
            "rows": page.rows,
            "facets": {k: [{"value": v, "count": n} for v, n in f] for k, f in page.facets.items()},
            "overdue": page.overdue,
        }
    )


@router.get("/requests/{request_id}")
def detail(request_id: str, request: Request, user: Caller) -> dict[str, Any]:
    """Return a request: text, template fields, urgency cues, place, members, history."""
    state = state_of(request)
    return views.request_detail(state.client, state.names, request_id, links=user.sees_contacts)


@router.get("/requests/{request_id}/history")
def request_history(request_id: str, request: Request, user: Caller) -> dict[str, Any]:
    """Return every recorded change, note and reveal of a request, oldest first."""
    state = state_of(request)
    events = views.request_detail(state.client, state.names, request_id, links=False)["history"]
    return {"id": request_id, "events": events}


class Change(BaseModel):
    """A dispatcher's change to a request, against the version they saw."""

    version: str = Field(min_length=3, max_length=40)
    status: str | None = Field(default=None, max_length=20)
    team: str | None = Field(default=None, max_length=20)
    assignee: str | None = Field(default=None, max_length=80)
    note: str | None = Field(default=None, max_length=4000)


@router.post("/requests/{request_id}/workflow")
def change(request_id: str, body: Change, request: Request, user: Caller) -> dict[str, Any]:
    """Apply a status, team, assignee or note change; 409 when someone changed it first."""
    _writer(user)
    version = _version(body.version)
    state = state_of(request)
    workflow.change(
        state.client,
        state.names,
        request_id,
        _actor(user),
        version,
        status=body.status,
        team=body.team,
        assignee=body.assignee,
        note=body.note,
    )
    return views.request_detail(state.client, state.names, request_id, links=True)


@router.post("/requests/{request_id}/contact")
def contact(request_id: str, request: Request, user: Caller) -> dict[str, Any]:
    """Return the full text and contact data; the reveal is recorded in the history."""
    from api.auth import require

    require(user, *CONTACT_ROLES)
    state = state_of(request)
    return contacts.reveal(state.client, state.names, request_id, _actor(user))


@router.get("/clusters/{cluster}")
def cluster(cluster: str, request: Request, user: Caller) -> dict[str, Any]:
    """Return every member post of a cluster, oldest first, and the merges into it."""
    state = state_of(request)
    members = views.members(state.client, state.names, cluster, links=user.sees_contacts)
    return {
        "cluster": cluster,
        "members": members,
        "merges": merge.merges(state.client, state.names, cluster),
    }


class MergeBody(BaseModel):
    """Two clusters to merge."""

    first: str = Field(min_length=1, max_length=200)
    second: str = Field(min_length=1, max_length=200)


@router.post("/clusters/merge")
def merge_clusters(body: MergeBody, request: Request, user: Caller) -> dict[str, Any]:
    """Merge two clusters (the older one keeps its id); returns the merge id for undo."""
    _writer(user)
    state = state_of(request)
    return merge.merge(state.client, state.names, body.first, body.second, _actor(user))


@router.post("/merges/{merge_id}/undo")
def undo_merge(merge_id: str, request: Request, user: Caller) -> dict[str, Any]:
    """Undo a merge: its moved posts go back to their own cluster."""
    _writer(user)
    state = state_of(request)
    return merge.undo(state.client, state.names, merge_id, _actor(user))


@router.post("/requests/{request_id}/detach")
def detach_request(request_id: str, request: Request, user: Caller) -> dict[str, Any]:
    """Take a request out of its cluster (a wrong link); later ingestion keeps them apart."""
    _writer(user)
    state = state_of(request)
    return merge.detach(state.client, state.names, request_id, _actor(user))
