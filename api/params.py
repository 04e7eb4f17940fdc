"""Turn query parameters into `Filters` and page options, with messages that say what was wrong.

List parameters may repeat (`?need=food&need=bed`) or hold commas (`?need=food,bed`).
Codes are checked against the taxonomy, so a typo is a 400 that names the allowed codes,
and an unknown parameter is refused rather than silently ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from starlette.datastructures import QueryParams

from api import labels
from index.documents import teams
from index.masking import has_contact_digits
from index.search import SORTS, Filters
from qiuzhu.errors import InvalidInput

#: Query parameter -> Filters field, and the codes it accepts (None: free values; a
#: function: the crisis profile's codes, asked at each request).
LIST_PARAMS: dict[str, tuple[str, tuple[str, ...] | Callable[[], tuple[str, ...]] | None]] = {
    "district": ("district", None),
    "street": ("street", None),
    "community": ("community", None),
    "need": ("needs", tuple(labels.NEEDS)),
    "urgency": ("urgency", tuple(labels.URGENCY)),
    "kind": ("kind", tuple(labels.KIND)),
    "status": ("status", tuple(labels.STATUS)),
    "team": ("team", lambda: tuple(teams())),
    "source": ("source", None),
    "cluster": ("cluster", None),
}
FILTER_PARAMS = ("q", "since", "until", "located", "overdue", *LIST_PARAMS)
PAGE_PARAMS = ("sort", "page", "size", "collapse", "matches")
MAX_VALUE = 100
WUHAN = timezone(timedelta(hours=8))


def _values(params: QueryParams, name: str) -> list[str]:
    out: list[str] = []
    for raw in params.getlist(name):
        out.extend(v.strip() for v in raw.split(",") if v.strip())
    for value in out:
        if len(value) > MAX_VALUE:
            raise InvalidInput(
                f"A `{name}` value has {len(value)} characters; at most {MAX_VALUE} are accepted."
            )
    return out


def _when(params: QueryParams, name: str) -> datetime | None:
    # A bare date is a whole day in Wuhan time: `until=2020-02-07` includes that day.
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        if len(raw) == 10:
            day = datetime.combine(date.fromisoformat(raw), time.min, WUHAN)
            return day + timedelta(days=1, microseconds=-1000) if name == "until" else day
        when = datetime.fromisoformat(raw)
        return when if when.tzinfo else when.replace(tzinfo=WUHAN)
    except ValueError:
        raise InvalidInput(
            f"`{name}` must be a date (2020-02-05) or a date and time "
            f"(2020-02-05T08:00:00+08:00); got {raw[:40]!r}."
        ) from None


def _bool(params: QueryParams, name: str) -> bool | None:
    raw = params.get(name, "").strip().lower()
    if not raw:
        return None
    if raw in ("1", "true", "yes"):
        return True
    if raw in ("0", "false", "no"):
        return False
    raise InvalidInput(f"`{name}` must be true or false; got {raw[:20]!r}.")


def _int(params: QueryParams, name: str, default: int) -> int:
    raw = params.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"`{name}` must be a whole number; got {raw[:20]!r}.") from None


def check_known(params: QueryParams, allowed: tuple[str, ...]) -> None:
    """Refuse a parameter that is not in ALLOWED."""
    for name in params:
        if name not in allowed:
            raise InvalidInput(f"Unknown parameter `{name}`: use {', '.join(allowed)}.")


def filters(params: QueryParams, *, contacts: bool) -> Filters:
    """Return the Filters the query PARAMS ask for.

    Without CONTACTS (a role that may not see contact data), searching for a phone or
    ID-card number is refused: its hit count alone would tell whether a number is in a post;
    and the text is matched against the masked text only, so no name is found either.

    Raises:
        InvalidInput: a value is not of the expected form or not a known code.
    """
    values: dict[str, Any] = {}
    for param, (attr, accepted) in LIST_PARAMS.items():
        found = _values(params, param)
        codes = accepted() if callable(accepted) else accepted
        if codes is not None:
            bad = [v for v in found if v not in codes]
            if bad:
                raise InvalidInput(
                    f"Unknown {param} {bad[0][:40]!r}: use one of {', '.join(codes)}."
                )
        values[attr] = found
    text = params.get("q", "")
    if not contacts and has_contact_digits(text):
        raise InvalidInput("Your role cannot search for phone or ID-card numbers.")
    result = Filters(
        text=text,
        since=_when(params, "since"),
        until=_when(params, "until"),
        located=_bool(params, "located"),
        overdue=bool(_bool(params, "overdue")),
        masked_text=not contacts,
        **values,
    )
    result.validate()
    return result


@dataclass(frozen=True)
class PageOptions:
    """Sort, page, size and whether to collapse duplicates."""

    sort: str
    page: int
    size: int
    collapse: bool
    #: Count on each request row the valid offers that could serve it (index/offers.py).
    matches: bool = False

    def kwargs(self) -> dict[str, Any]:
        return {"sort": self.sort, "page": self.page, "size": self.size, "collapse": self.collapse}


def page_options(params: QueryParams) -> PageOptions:
    """Return the page options in PARAMS (range checks happen in `build_search`)."""
    sort = params.get("sort", "urgency") or "urgency"
    if sort not in SORTS:
        raise InvalidInput(f"Unknown sort {sort[:20]!r}: use one of {', '.join(SORTS)}.")
    collapse = _bool(params, "collapse")
    return PageOptions(
        sort=sort,
        page=_int(params, "page", 1),
        size=_int(params, "size", 20),
        collapse=True if collapse is None else collapse,
        matches=bool(_bool(params, "matches")),
    )
