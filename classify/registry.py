"""Which trained artefact analysis uses: the shipped one until an admin promotes another.

`qiuzhu train --with-corrections` writes its artefact into `VAR_DIR/models/` as a
*candidate* (`model-<sha12>.zip`); nothing uses it until an admin, having seen its
figures beside the current model's, promotes it. The choice is one small JSON file,
`VAR_DIR/models/current.json` (`{"current": ..., "previous": ...}`, names of artefacts in
that folder or `shipped`), written atomically; `restore` goes back to the previous one.
`QIUZHU_MODEL_PATH`, when set, overrides the choice (an operator's pin). A process loads
its model once: ingestion runs started after a promotion use the new one.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from qiuzhu import settings
from qiuzhu.errors import InvalidInput, NotFound

SHIPPED_NAME = "shipped"
_NAME = re.compile(r"^model-[0-9a-f]{12}\.zip$")


def folder() -> Path:
    """Return the folder of trained candidates (VAR_DIR/models)."""
    return settings.var_dir("models")


def _pointer() -> Path:
    return folder() / "current.json"


def _read() -> dict[str, str]:
    try:
        data = json.loads(_pointer().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"current": SHIPPED_NAME, "previous": ""}
    except (OSError, ValueError) as exc:
        raise InvalidInput(
            f"{_pointer()} is damaged ({exc}): delete it to use the shipped model"
        ) from None
    return {
        "current": str(data.get("current") or SHIPPED_NAME),
        "previous": str(data.get("previous") or ""),
    }


def path_of(name: str) -> Path:
    """Return the artefact file NAME stands for (`shipped` or a candidate's file name).

    Raises:
        NotFound: no such candidate.
    """
    from classify.model import SHIPPED

    if name == SHIPPED_NAME:
        return SHIPPED
    if not _NAME.match(name) or not (folder() / name).is_file():
        raise NotFound(f"There is no trained model {name[:40]!r} in {folder()}.")
    return folder() / name


def chosen() -> Path:
    """Return the artefact the admins chose (the shipped one when none was promoted)."""
    name = _read()["current"]
    try:
        return path_of(name)
    except NotFound:
        from classify.model import SHIPPED

        return SHIPPED


def names() -> dict[str, str]:
    """Return the current and the previous choice (`shipped` or a candidate's name)."""
    return _read()


def candidates() -> list[str]:
    """Return the trained candidates' names, newest first."""
    if not folder().is_dir():
        return []
    found = [p for p in folder().iterdir() if _NAME.match(p.name)]
    return [p.name for p in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)]


def _write(current: str, previous: str) -> None:
    folder().mkdir(parents=True, exist_ok=True)
    tmp = _pointer().with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"current": current, "previous": previous}), encoding="utf-8")
    tmp.replace(_pointer())


def promote(name: str) -> dict[str, str]:
    """Make NAME the model analysis uses; the one it replaces can be restored.

    Raises:
        NotFound: no such candidate.
        ModelError: its file does not load.
    """
    from classify.model import load

    load(path_of(name))  # a damaged candidate is refused here, not at the next run
    now = _read()
    if now["current"] != name:
        _write(name, now["current"])
    return _read()


def restore() -> dict[str, str]:
    """Go back to the model used before the last promotion.

    Raises:
        InvalidInput: there is none to go back to.
    """
    now = _read()
    if not now["previous"]:
        raise InvalidInput("No model was promoted before this one: nothing to restore.")
    _write(now["previous"], now["current"])
    return _read()


def describe(path: Path) -> dict[str, Any]:
    """Return what an artefact says of itself: digest, corrections, held-out figures."""
    from classify.model import model_at

    model = model_at(path)  # loaded once per process: the admin page lists them often
    meta = model.meta
    return {
        "data_digest": meta.get("data_digest"),
        "corrections": meta.get("corrections", 0),
        "test": meta.get("test", {}),
        "corpora": meta.get("corpora", {}),
    }
