"""Offers meet requests: matches, links, used-up offers, and requests beside offers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from api import params
from api.app import Caller, FastJSON, state_of
from api.routes_requests import _actor, _version, _writer
from index import offers, supply, views

router = APIRouter(prefix="/api")


@router.get("/requests/{post_id}/matches")
def matches(post_id: str, request: Request, user: Caller) -> FastJSON:
    """Return the open offers that could serve a request, or the requests an offer could
    serve, nearest first, and the posts linked to it already."""
    state = state_of(request)
    return FastJSON(offers.matches(state.client, state.names, post_id, links=user.sees_contacts))


class LinkBody(BaseModel):
    """An offer to link to a request, against the request's version the dispatcher saw."""

    offer: str = Field(min_length=1, max_length=300)
    version: str = Field(min_length=3, max_length=40)


@router.post("/requests/{request_id}/links")
def link(request_id: str, body: LinkBody, request: Request, user: Caller) -> dict[str, Any]:
    """Link an offer to a request: both histories record it, the request is assigned, the
    offer's capacity counts it; 409 when someone changed the request first."""
    _writer(user)
    version = _version(body.version)
    state = state_of(request)
    offers.link(state.client, state.names, request_id, body.offer, _actor(user), version)
    return views.request_detail(state.client, state.names, request_id, links=True)


@router.delete("/requests/{request_id}/links/{offer_id}")
def unlink(request_id: str, offer_id: str, request: Request, user: Caller) -> dict[str, Any]:
    """Take a wrong link back, on both sides."""
    _writer(user)
    state = state_of(request)
    offers.unlink(state.client, state.names, request_id, offer_id, _actor(user))
    return views.request_detail(state.client, state.names, request_id, links=True)


class UsedUpBody(BaseModel):
    """Whether an offer is used up."""

    used_up: bool = True


@router.post("/offers/{offer_id}/used-up")
def used_up(offer_id: str, body: UsedUpBody, request: Request, user: Caller) -> dict[str, Any]:
    """Mark an offer used up (or available again): it leaves (or rejoins) every match."""
    _writer(user)
    state = state_of(request)
    offers.mark_used_up(state.client, state.names, offer_id, _actor(user), body.used_up)
    return views.request_detail(state.client, state.names, offer_id, links=True)


def _supply(request: Request, user: Caller) -> dict[str, Any]:
    params.check_known(request.query_params, params.FILTER_PARAMS)
    filters = params.filters(request.query_params, contacts=user.sees_contacts)
    state = state_of(request)
    return supply.supply(state.client, state.names, filters)


@router.get("/stats/supply")
def supply_stats(request: Request, user: Caller) -> FastJSON:
    """Return waiting requests beside valid offers by district and need, most missing first."""
    return FastJSON(_supply(request, user))


@router.get("/stats/supply.csv")
def supply_csv(request: Request, user: Caller) -> StreamingResponse:
    """Return the figures of /api/stats/supply as CSV."""
    figures = _supply(request, user)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return StreamingResponse(
        (line.encode() for line in supply.csv_lines(figures)),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="qiuzhu-supply-{stamp}.csv"'},
    )
