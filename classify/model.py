"""The trained classifier's artefact: weights over hashed features, and what they decide.

One file (`qiuzhu train` writes it; `classify/model/qiuzhu-model.zip` ships) holds a
linear model with three heads over the features of `classify.features`: one logistic
output per need (multi-label), a softmax over the kinds and a softmax over the urgency
levels; the per-need and urgency thresholds calibrated on the validation split; and its
metadata: the hash of its training data, label sets, feature steps, held-out figures and
library versions. Only hashed features seen in several training posts are kept, and no
text: the artefact cannot give back the posts it learnt from.

The file is a zip with fixed timestamps, so the same training gives the same bytes. It
is loaded once per process; a missing, damaged or mismatched file is a ModelError that
says how to rebuild it.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from classify import features
from classify.needs import KINDS, NEEDS
from classify.urgency import LEVELS
from qiuzhu import settings
from qiuzhu.errors import ConfigError

#: Bump when the file's layout changes.
FORMAT = 1
#: The artefact that ships with qiuzhu (built by `qiuzhu train` from classify/training/).
SHIPPED = Path(__file__).resolve().parent / "model" / "qiuzhu-model.zip"
OUTPUTS = (
    *(f"need:{n}" for n in NEEDS),
    *(f"kind:{k}" for k in KINDS),
    *(f"urgency:{u}" for u in LEVELS),
)
_STAMP = (1980, 1, 1, 0, 0, 0)
_LOCK = threading.Lock()


class ModelError(ConfigError):
    """The classifier's artefact is missing, damaged or does not fit this code."""


def cues_digest() -> str:
    """Return a digest of the cue patterns the `cues` features are made of."""
    from importlib import resources

    text = resources.files("classify").joinpath("patterns/cues.yaml").read_bytes()
    return hashlib.sha256(text).hexdigest()[:16]


@dataclass
class Model:
    """Weights of every output over the kept feature buckets, and the decision thresholds."""

    rows: np.ndarray  # kept buckets, sorted (uint32)
    weights: np.ndarray  # (len(rows), len(OUTPUTS)) float32
    bias: np.ndarray  # (len(OUTPUTS),) float32
    thresholds: dict[str, float]
    meta: dict[str, Any] = field(default_factory=dict)
    _row_of: np.ndarray | None = None

    @property
    def steps(self) -> tuple[str, ...]:
        return tuple(self.meta.get("steps", features.STEPS))

    def row_of(self) -> np.ndarray:
        """Return the row of each bucket (-1 where the bucket was not kept)."""
        if self._row_of is None:
            table = np.full(features.BUCKETS, -1, dtype=np.int32)
            table[self.rows.astype(np.int64)] = np.arange(len(self.rows), dtype=np.int32)
            self._row_of = table
        return self._row_of

    def logits(self, buckets: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Return the raw output scores of one post's features (len(OUTPUTS) floats)."""
        rows = self.row_of()[buckets]
        kept = rows >= 0
        return (values[kept] @ self.weights[rows[kept]] + self.bias).astype(np.float64)

    def probabilities(self, buckets: np.ndarray, values: np.ndarray) -> dict[str, Any]:
        """Return {"needs": {need: p}, "kind": {kind: p}, "urgency": {level: p}}."""
        z = self.logits(buckets, values)
        n, k = len(NEEDS), len(KINDS)
        needs = (1.0 / (1.0 + np.exp(-z[:n]))).tolist()
        kinds = _softmax(z[n : n + k]).tolist()
        levels = _softmax(z[n + k :]).tolist()
        return {
            "needs": dict(zip(NEEDS, needs, strict=True)),
            "kind": dict(zip(KINDS, kinds, strict=True)),
            "urgency": dict(zip(LEVELS, levels, strict=True)),
        }

    def contributions(self, buckets: np.ndarray, values: np.ndarray, output: str) -> np.ndarray:
        """Return each bucket's part in OUTPUT's score (0 for buckets not kept)."""
        rows = self.row_of()[buckets]
        out = np.zeros(len(buckets), dtype=np.float64)
        kept = rows >= 0
        column = OUTPUTS.index(output)
        out[kept] = values[kept] * self.weights[rows[kept], column]
        return out


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def save(model: Model, path: Path) -> str:
    """Write MODEL to PATH (same model, same bytes); return the file's SHA-256."""
    meta = {
        **model.meta,
        "format": FORMAT,
        "features_version": features.VERSION,
        "buckets": features.BUCKETS,
        "outputs": list(OUTPUTS),
        "thresholds": model.thresholds,
    }
    parts = {
        "meta.json": json.dumps(meta, ensure_ascii=False, sort_keys=True, indent=1).encode(),
        "rows.npy": _npy(model.rows.astype(np.uint32)),
        "weights.npy": _npy(model.weights.astype(np.float16)),
        "bias.npy": _npy(model.bias.astype(np.float32)),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in parts.items():
            info = zipfile.ZipInfo(name, date_time=_STAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, compresslevel=9)
    blob = buffer.getvalue()
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(blob)
    tmp.replace(path)
    return hashlib.sha256(blob).hexdigest()


def load(path: Path) -> Model:
    """Read the artefact at PATH.

    Raises:
        ModelError: the file is missing or damaged, or was built for other features,
            labels or cue patterns than this code's.
    """
    retrain = "rebuild it with `qiuzhu train`"
    if not path.is_file():
        raise ModelError(f"the classifier's artefact {path} is missing: {retrain}")
    try:
        with zipfile.ZipFile(path) as archive:
            meta = json.loads(archive.read("meta.json"))
            arrays = {
                name: np.lib.format.read_array(io.BytesIO(archive.read(f"{name}.npy")))
                for name in ("rows", "weights", "bias")
            }
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelError(
            f"the classifier's artefact {path} is damaged ({exc}): {retrain}"
        ) from None
    expected = {
        "format": FORMAT,
        "features_version": features.VERSION,
        "buckets": features.BUCKETS,
        "outputs": list(OUTPUTS),
        "cues_digest": cues_digest(),
    }
    for key, value in expected.items():
        if meta.get(key) != value:
            raise ModelError(
                f"the classifier's artefact {path} was built for another {key.replace('_', ' ')} "
                f"than this code's: {retrain}"
            )
    rows, weights, bias = arrays["rows"], arrays["weights"], arrays["bias"]
    if weights.shape != (len(rows), len(OUTPUTS)) or bias.shape != (len(OUTPUTS),):
        raise ModelError(f"the classifier's artefact {path} is damaged (shapes): {retrain}")
    return Model(
        rows=rows.astype(np.uint32),
        weights=weights.astype(np.float32),
        bias=bias.astype(np.float32),
        thresholds={k: float(v) for k, v in meta["thresholds"].items()},
        meta=meta,
    )


def model_path() -> Path:
    """Return the artefact analysis uses: MODEL_PATH, else the one an admin promoted
    (classify/registry.py), else the one that ships."""
    configured: Path | None = settings.get("MODEL_PATH")
    if configured:
        return configured
    from classify import registry

    return registry.chosen()


@lru_cache(maxsize=4)
def _cached(path: Path) -> Model:
    return load(path)


_CHOSEN: list[Path] = []


def get_model() -> Model:
    """Return the process-wide model, loaded on first use: a promotion made later is
    used by the processes started after it."""
    configured: Path | None = settings.get("MODEL_PATH")
    with _LOCK:
        if configured:
            return _cached(configured)
        if not _CHOSEN:
            _CHOSEN.append(model_path())
        return _cached(_CHOSEN[0])


def model_at(path: Path) -> Model:
    """Return the artefact at PATH, loaded once per process (the admins' figures)."""
    with _LOCK:
        return _cached(path)
