"""Dispatchers' corrections of kind, needs, urgency and place (index/corrections.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from api import divisions, labels
from api.app import Caller, state_of
from api.routes_requests import _actor, _version, _writer
from index import corrections, views
from qiuzhu.errors import InvalidInput

router = APIRouter(prefix="/api")


class CorrectionBody(BaseModel):
    """What the classifier got wrong, against the request's version the dispatcher saw.

    A district without a street clears the street and community; names are the console's
    pickers' (the crisis profile's divisions)."""

    version: str = Field(min_length=3, max_length=40)
    kind: str | None = Field(default=None, max_length=20)
    needs: list[str] | None = Field(default=None, max_length=12)
    urgency: str | None = Field(default=None, max_length=20)
    district: str | None = Field(default=None, max_length=60)
    street: str | None = Field(default=None, max_length=60)
    community: str | None = Field(default=None, max_length=60)


def _code(level: str, name: str, parent: str = "") -> str:
    for code, known in divisions.load().children(level, parent):
        if known == name:
            return code
    where = f" in {parent}" if parent else ""
    raise InvalidInput(f"There is no {level} named {name[:60]!r}{where} in this crisis's region.")


def changes_of(body: CorrectionBody) -> dict[str, Any]:
    """Return the fields BODY corrects, its codes checked and its place's codes resolved.

    Raises:
        InvalidInput: an unknown code or division, or nothing to correct.
    """
    out: dict[str, Any] = {}
    if body.kind is not None:
        if body.kind not in labels.KIND:
            raise InvalidInput(f"Unknown kind {body.kind!r}: use one of {', '.join(labels.KIND)}.")
        out["kind"] = body.kind
    if body.needs is not None:
        wrong = [n for n in body.needs if n not in labels.NEEDS]
        if wrong:
            raise InvalidInput(f"Unknown need {wrong[0][:20]!r}: use codes of the taxonomy.")
        out["needs"] = sorted(set(body.needs))
    if body.urgency is not None:
        if body.urgency not in labels.URGENCY:
            raise InvalidInput(f"Unknown urgency {body.urgency!r}.")
        out["urgency"] = body.urgency
    if body.district is not None:
        district = body.district.strip()
        out["district"] = district or None
        out["district_code"] = _code("district", district) if district else None
        street = (body.street or "").strip()
        out["street"] = street or None
        out["street_code"] = _code("street", street, district) if street else None
        community = (body.community or "").strip()
        out["community"] = community or None
        out["community_code"] = _code("community", community, street) if community else None
    elif body.street is not None or body.community is not None:
        raise InvalidInput("Correct a place from its district: give `district` too.")
    if not out:
        raise InvalidInput("Give at least one of kind, needs, urgency or district to correct.")
    return out


@router.post("/requests/{request_id}/correction")
def correct(request_id: str, body: CorrectionBody, request: Request, user: Caller) -> dict:
    """Correct a request's kind, needs, urgency or place: applied at once, recorded in its
    history, kept as a training example and never overwritten by re-ingestion."""
    _writer(user)
    version = _version(body.version)
    state = state_of(request)
    corrections.correct(
        state.client, state.names, request_id, _actor(user), version, changes_of(body)
    )
    return views.request_detail(state.client, state.names, request_id, links=True)


def _admin(user: Any) -> None:
    from api.auth import require

    require(user, "admin")


def _model_row(name: str) -> dict[str, Any]:
    from classify import registry

    return {"name": name, **registry.describe(registry.path_of(name))}


@router.get("/admin/models")
def models(request: Request, user: Caller) -> dict[str, Any]:
    """Return the model analysis uses, the one before it, and the trained candidates,
    each with its held-out figures, so that an admin compares them before promoting."""
    from classify import registry

    _admin(user)
    chosen = registry.names()
    return {
        "current": _model_row(chosen["current"]),
        "previous": chosen["previous"] or None,
        "candidates": [_model_row(name) for name in registry.candidates()[:10]],
    }


class PromoteBody(BaseModel):
    """A trained candidate to use from the next ingestion run on."""

    name: str = Field(min_length=1, max_length=40)


@router.post("/admin/models/promote")
def promote(body: PromoteBody, request: Request, user: Caller) -> dict[str, Any]:
    """Promote a candidate: ingestion runs started from now on analyse with it."""
    from classify import registry

    _admin(user)
    registry.promote(body.name)
    return models(request, user)


@router.post("/admin/models/restore")
def restore(request: Request, user: Caller) -> dict[str, Any]:
    """Go back to the model used before the last promotion."""
    from classify import registry

    _admin(user)
    registry.restore()
    return models(request, user)


#: Corrections scored on the admins' page at most (the most recent).
SCORED = 500


@router.get("/admin/teaching")
def teaching_figures(request: Request, user: Caller) -> dict[str, Any]:
    """Return the current model's per-need F1 on the frozen test splits and on the most
    recent corrections, the corrections each need received, and drift."""
    from datetime import UTC, datetime

    from classify import registry, teaching
    from classify.model import model_at

    _admin(user)
    state = state_of(request)
    kept = corrections.labels(state.client, state.names)
    recent = kept[-SCORED:]
    found = teaching.examples(recent, corrections.posts_of(state.client, state.names, recent))
    model = model_at(registry.chosen())
    figures = teaching.figures(model, found, kept, datetime.now(UTC))
    test = model.meta.get("test", {})
    figures["test_needs_f1"] = {corpus: f.get("needs_f1", {}) for corpus, f in test.items()}
    figures["model"] = registry.names()["current"]
    return figures
