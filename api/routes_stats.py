"""Analysts' routes: counts, backlog age, resolution times, communities, CSV export; pickers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api import divisions, labels, params
from api.app import Caller, FastJSON, state_of
from index import clock_stats, contacts, export, stats
from index.search import Filters
from index.users import User
from index.workflow import Actor
from qiuzhu.errors import Forbidden, InvalidInput

router = APIRouter(prefix="/api")
LEVELS = ("district", "street", "community")


def _filters(request: Request, user: User, *extra: str) -> Filters:
    params.check_known(request.query_params, (*params.FILTER_PARAMS, *extra))
    return params.filters(request.query_params, contacts=user.sees_contacts)


@router.get("/stats/overview")
def overview(request: Request, user: Caller) -> FastJSON:
    """Return totals, open requests and the share left without a district."""
    state = state_of(request)
    return FastJSON(stats.overview(state.client, state.names, _filters(request, user)))


@router.get("/stats/grid")
def grid(request: Request, user: Caller) -> FastJSON:
    """Return requests by district × need, by day, and by district × need × day."""
    state = state_of(request)
    return FastJSON(stats.by_district_need_day(state.client, state.names, _filters(request, user)))


@router.get("/stats/age")
def age(request: Request, user: Caller) -> FastJSON:
    """Return how long open requests have waited (as of `as_of`, default the newest post)."""
    state = state_of(request)
    filters = _filters(request, user, "as_of")
    raw = request.query_params.get("as_of", "")
    as_of = None
    if raw:
        try:
            as_of = datetime.fromisoformat(raw)
        except ValueError:
            raise InvalidInput(f"`as_of` must be a date and time; got {raw[:40]!r}.") from None
        if as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=UTC)
    return FastJSON(stats.backlog_age(state.client, state.names, filters, as_of))


@router.get("/stats/resolution")
def resolution(request: Request, user: Caller) -> FastJSON:
    """Return hours from posting to the first `resolved` status."""
    state = state_of(request)
    return FastJSON(stats.resolution_times(state.client, state.names, _filters(request, user)))


@router.get("/stats/clocks")
def clocks(request: Request, user: Caller) -> FastJSON:
    """Return the share of requests answered within their urgency's target, overall and by
    district, need, team and day."""
    state = state_of(request)
    return FastJSON(clock_stats.within_target(state.client, state.names, _filters(request, user)))


@router.get("/stats/clocks.csv")
def clocks_csv(request: Request, user: Caller) -> StreamingResponse:
    """Return the figures of /api/stats/clocks as CSV."""
    state = state_of(request)
    figures = clock_stats.within_target(state.client, state.names, _filters(request, user))
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return StreamingResponse(
        (line.encode() for line in clock_stats.csv_lines(figures)),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="qiuzhu-clocks-{stamp}.csv"'},
    )


@router.get("/stats/communities")
def communities(request: Request, user: Caller) -> dict[str, Any]:
    """Return food and supplies requests per community (for group-buying organisers)."""
    state = state_of(request)
    rows = stats.community_supplies(state.client, state.names, _filters(request, user))
    return {"communities": rows}


@router.get("/export.csv")
def export_csv(request: Request, user: Caller) -> StreamingResponse:
    """Stream every post of a filtered view as CSV; `contacts=true` adds contact columns.

    Contact columns need a role allowed to see them; such an export is recorded.
    """
    filters = _filters(request, user, "contacts")
    with_contacts = params._bool(request.query_params, "contacts") or False
    if with_contacts and not user.sees_contacts:
        raise Forbidden("Your role may not export contact data: leave out `contacts`.")
    state = state_of(request)
    if with_contacts:
        contacts.record(
            state.client,
            state.names,
            Actor(user.name, user.role),
            request_id="export",
            cluster=None,
            action="export_contacts",
            note=request.url.query[:1000],
        )
    lines: Iterator[str] = export.rows(
        state.client, state.names, filters, contacts=with_contacts, links=user.sees_contacts
    )
    # The first line is read now so that a bad filter or a down cluster is a clear error,
    # not a broken download.
    first = next(lines)

    def body() -> Iterator[bytes]:
        yield first.encode()
        for line in lines:
            yield line.encode()

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="qiuzhu-{stamp}.csv"'},
    )


@router.get("/places")
def places(request: Request, user: Caller) -> dict[str, Any]:
    """Return picker values for a level: gazetteer divisions and the backlog's counts.

    `level` is district, street or community; `parent` narrows to one district (for
    streets) or street (for communities).
    """
    params.check_known(request.query_params, ("level", "parent"))
    level = request.query_params.get("level", "district")
    if level not in LEVELS:
        raise InvalidInput(f"Unknown level {level[:20]!r}: use one of {', '.join(LEVELS)}.")
    parent = request.query_params.get("parent", "")[:100]
    state = state_of(request)
    counted = stats.place_counts(state.client, state.names, level, parent)
    known = divisions.load().children(level, parent)
    seen = {name for _, name in known}
    values: list[tuple[int, str | None, str]] = [(counted.get(n, 0), c, n) for c, n in known]
    values += [(k, None, n) for n, k in counted.items() if n not in seen]
    values.sort(key=lambda v: (-v[0], v[1] or "~", v[2]))
    return {
        "level": level,
        "parent": parent,
        "values": [{"name": n, "code": c, "count": k} for k, c, n in values],
    }


@router.get("/labels")
def all_labels(user: Caller) -> dict[str, dict[str, str]]:
    """Return the Chinese label of every code the console shows."""
    return labels.all_labels()
