"""`qiuzhu train`: build the classifier's artefact from the labelled corpora, reproducibly.

The protocol (classify/training/README.md): each corpus is split by time into train,
validation and test (classify/splits.py; the split files are frozen data). Training
fits on train, chooses the regularisation of each head and calibrates the per-need and
urgency thresholds on validation, then refits on train and validation with those
choices (validation is the later of the two, nearer the posts to come) and measures the
result on test, once, by the same analysis `qiuzhu analyze` runs. Same inputs and seed
give the same artefact bytes. Nothing of the posts is printed or stored.
"""

from __future__ import annotations

import logging
import platform
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from classify import features
from classify.analyze import nlp_text, view_of
from classify.calibrate import calibrate, score_decisions
from classify.corpus import Config, Example, data_digest, load_examples, read_config
from classify.critical import critical_cases
from classify.decide import Decision, decide
from classify.features import PostView
from classify.model import OUTPUTS, Model, cues_digest, save
from classify.needs import KINDS, NEEDS
from classify.nlp import get_nlp, normalise
from classify.urgency import LEVELS
from qiuzhu.errors import InvalidInput

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass
class Data:
    """Examples with their features (buckets, values) and gold targets."""

    examples: list[Example]
    feats: list[tuple[np.ndarray, np.ndarray]]
    views: list[PostView]

    def weights(self) -> np.ndarray:
        """Return each post's training weight: 1/sqrt(its duplicate cluster's size).

        A request reposted 80 times is one episode: it must not teach the model 80 times
        as much as a request posted once.
        """
        sizes = Counter(
            (e.corpus, str(e.gold.get("cluster") or e.post["id"])) for e in self.examples
        )
        return np.array(
            [
                e.weight / np.sqrt(sizes[(e.corpus, str(e.gold.get("cluster") or e.post["id"]))])
                for e in self.examples
            ]
        )


def view_for(post: dict[str, Any]) -> PostView:
    """Return what the classifier reads of POST, as analysis computes it."""
    nlp = get_nlp()
    with nlp.memory_zone():
        doc = nlp(normalise(nlp_text(post)))
        view = view_of(doc, post)
        words = list(view.words)
    cases = critical_cases(view.cues)
    return view._replace(words=words, critical=tuple(sorted({c for c, _ in cases})))


def prepare(examples: list[Example], steps: Sequence[str]) -> Data:
    """Return EXAMPLES with their views and features."""
    views = [view_for(e.post) for e in examples]
    feats = [features.featurize(v, steps) for v in views]
    return Data(examples, feats, views)


def kept_buckets(feats: Sequence[tuple[np.ndarray, np.ndarray]], min_posts: int) -> np.ndarray:
    """Return the buckets that at least MIN_POSTS posts have, sorted.

    Rarer buckets (names, numbers, one post's wording) are dropped: they teach nothing
    that generalises, and the artefact must not carry what identifies one post.
    """
    counts = np.zeros(features.BUCKETS, dtype=np.int32)
    for buckets, _ in feats:
        counts[buckets] += 1
    return np.flatnonzero(counts >= min_posts).astype(np.int64)


def matrix(feats: Sequence[tuple[np.ndarray, np.ndarray]], kept: np.ndarray) -> sparse.csr_matrix:
    """Return the posts' features over the KEPT buckets as a CSR matrix."""
    column = np.full(features.BUCKETS, -1, dtype=np.int64)
    column[kept] = np.arange(len(kept))
    rows, cols, vals = [], [], []
    for number, (buckets, values) in enumerate(feats):
        where = column[buckets]
        mask = where >= 0
        cols.append(where[mask])
        vals.append(values[mask])
        rows.append(np.full(int(mask.sum()), number, dtype=np.int64))
    return sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(feats), len(kept)),
        dtype=np.float64,
    )


def _heads(data: Data) -> dict[str, Any]:
    """Return the gold targets of each head and the posts each head learns from."""
    gold = [e.gold for e in data.examples]
    about = np.array([g["kind"] != "irrelevant" for g in gold])
    urgent = np.array([g["kind"] in ("request", "update") for g in gold])
    return {
        "needs": (about, np.array([[n in g.get("needs", []) for n in NEEDS] for g in gold])),
        "kind": (np.ones(len(gold), dtype=bool), np.array([KINDS.index(g["kind"]) for g in gold])),
        "urgency": (urgent, np.array([LEVELS.index(g.get("urgency", "normal")) for g in gold])),
    }


class LinearHeads:
    """The estimator: logistic regressions per need, and softmax heads for kind and urgency.

    `fit(x, data)` learns every head; `predict_proba(x)` returns the outputs' scores
    before the link function, in OUTPUTS order, as the artefact stores them.
    """

    def __init__(self, c: dict[str, float], seed: int, balanced: Sequence[str] = ()) -> None:
        self.c = c
        self.seed = seed
        #: Heads whose classes are weighed by their inverse frequency.
        self.balanced = tuple(balanced)
        self.coef: np.ndarray | None = None
        self.intercept: np.ndarray | None = None

    def fit(self, x: sparse.csr_matrix, data: Data) -> LinearHeads:
        from sklearn.linear_model import LogisticRegression

        heads = _heads(data)
        weight = data.weights()
        coef = np.zeros((len(OUTPUTS), x.shape[1]))
        intercept = np.zeros(len(OUTPUTS))
        rows, y = heads["needs"]
        for i, _need in enumerate(NEEDS):
            target = y[rows, i]
            if target.sum() == 0:
                intercept[i] = -8.0
                continue
            fitted = LogisticRegression(
                C=self.c["needs"],
                solver="liblinear",
                random_state=self.seed,
                max_iter=1000,
                class_weight="balanced" if "needs" in self.balanced else None,
            ).fit(x[rows], target, sample_weight=weight[rows])
            coef[i], intercept[i] = fitted.coef_[0], fitted.intercept_[0]
        offset = len(NEEDS)
        for head, labels in (("kind", KINDS), ("urgency", LEVELS)):
            rows, y = heads[head]
            fitted = LogisticRegression(
                C=self.c[head],
                solver="lbfgs",
                max_iter=5000,
                random_state=self.seed,
                class_weight="balanced" if head in self.balanced else None,
            ).fit(x[rows], y[rows], sample_weight=weight[rows])
            classes = list(fitted.classes_)
            for j in range(len(labels)):
                if j in classes:
                    coef[offset + j] = fitted.coef_[classes.index(j)]
                    intercept[offset + j] = fitted.intercept_[classes.index(j)]
                else:
                    intercept[offset + j] = -8.0
            offset += len(labels)
        self.coef, self.intercept = coef, intercept
        return self

    def predict_proba(self, x: sparse.csr_matrix) -> np.ndarray:
        assert self.coef is not None and self.intercept is not None
        return np.asarray(x @ self.coef.T) + self.intercept

    def to_model(
        self, kept: np.ndarray, thresholds: dict[str, float], meta: dict[str, Any]
    ) -> Model:
        assert self.coef is not None and self.intercept is not None
        return Model(
            rows=kept.astype(np.uint32),
            weights=self.coef.T.astype(np.float32),
            bias=self.intercept.astype(np.float32),
            thresholds=thresholds,
            meta=meta,
        )


def decisions(model: Model, data: Data) -> list[Decision]:
    """Return MODEL's decisions on DATA, by the same decision rules analysis uses."""
    return [decide(model, view) for view in data.views]


def _split(data: Data, names: Sequence[str]) -> Data:
    keep = [i for i, e in enumerate(data.examples) if e.split in names]
    return Data(
        [data.examples[i] for i in keep],
        [data.feats[i] for i in keep],
        [data.views[i] for i in keep],
    )


def _balanced(config: Config) -> list[str]:
    return config.training.get("balanced", "").split()


def _grid(config: Config, key: str) -> list[float]:
    return [float(v) for v in config.get(key).split()]


def choose_c(
    config: Config, train: Data, validation: Data, seed: int, kept: np.ndarray, say: Progress
) -> dict[str, float]:
    """Return the regularisation of each head that does best on VALIDATION."""
    x_train = matrix(train.feats, kept)
    best: dict[str, tuple[float, float]] = {}
    for c in _grid(config, "c"):
        heads = LinearHeads({"needs": c, "kind": c, "urgency": c}, seed, _balanced(config)).fit(
            x_train, train
        )
        model = heads.to_model(kept, {}, {"steps": list(config.get("steps").split())})
        thresholds = calibrate(model, validation)
        model.thresholds = thresholds
        figures = score_decisions(validation, decisions(model, validation))
        scores = {
            "needs": (figures["needs_micro_f1"] + figures["needs_macro_f1"]) / 2,
            "kind": figures["kind_accuracy"],
            "urgency": figures["urgency_macro_f1"],
        }
        say(
            f"  C={c:<6} needs micro {figures['needs_micro_f1']:.3f} macro "
            f"{figures['needs_macro_f1']:.3f}  kind {figures['kind_accuracy']:.3f}  urgency "
            f"macro-F1 {figures['urgency_macro_f1']:.3f}  critical R "
            f"{figures['critical_recall']:.3f} P {figures['critical_precision']:.3f}"
        )
        for head, value in scores.items():
            if head not in best or value > best[head][0] + 1e-9:
                best[head] = (value, c)
    return {head: c for head, (_, c) in best.items()}


def train(
    config_path: Path | None = None,
    output: Path | None = None,
    validate_only: bool = False,
    extra: Sequence[Example] = (),
    say: Progress = print,
) -> dict[str, Any]:
    """Train, calibrate and measure the classifier; write the artefact unless VALIDATE_ONLY.

    EXTRA examples (dispatchers' corrections) join the train split. Returns the report:
    the choices made, validation figures of the train-only fit, and (unless
    VALIDATE_ONLY) the test figures per corpus of the artefact written.

    Raises:
        InvalidInput: the config or a corpus it names cannot be read.
    """
    config = read_config(config_path) if config_path else read_config()
    seed = int(config.get("seed"))
    steps = config.get("steps").split()
    min_posts = int(config.get("min_posts"))
    examples = [e for corpus in config.corpora for e in load_examples(corpus)]
    examples.extend(extra)
    say(f"{len(examples)} labelled posts in {len(config.corpora)} corpora; steps {' '.join(steps)}")
    data = prepare(examples, steps)
    train_data = _split(data, ("train",))
    validation = _split(data, ("validation",))
    if not train_data.examples or not validation.examples:
        raise InvalidInput("training needs posts in both the train and the validation split")
    kept = kept_buckets(train_data.feats, min_posts)
    sizes = f"train {len(train_data.examples)}, validation {len(validation.examples)}"
    say(f"{sizes}; {len(kept)} features")
    c = choose_c(config, train_data, validation, seed, kept, say)
    heads = LinearHeads(c, seed, _balanced(config)).fit(matrix(train_data.feats, kept), train_data)
    model = heads.to_model(kept, {}, {"steps": steps})
    thresholds = calibrate(model, validation)
    model.thresholds = thresholds
    report: dict[str, Any] = {
        "c": c,
        "thresholds": thresholds,
        "validation": by_corpus(validation, decisions(model, validation)),
    }
    if validate_only:
        return report
    both = _split(data, ("train", "validation"))
    kept = kept_buckets(both.feats, min_posts)
    heads = LinearHeads(c, seed, _balanced(config)).fit(matrix(both.feats, kept), both)
    import scipy
    import sklearn

    meta = {
        "steps": steps,
        "seed": seed,
        "c": c,
        "balanced": _balanced(config),
        "min_posts": min_posts,
        "cues_digest": cues_digest(),
        "data_digest": data_digest(config),
        "repo_digest": data_digest(config, outside=False),
        "corpora": {
            corpus.name: {
                split: sum(1 for e in examples if e.corpus == corpus.name and e.split == split)
                for split in ("train", "validation", "test")
            }
            for corpus in config.corpora
        },
        "corrections": len(extra),
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__,
        },
    }
    final = heads.to_model(kept, thresholds, meta)
    from classify.evaluate import evaluate_corpus

    report["test"] = {
        corpus.name: evaluate_corpus(corpus, "test", final) for corpus in config.corpora
    }
    final.meta["test"] = {name: summary(result) for name, result in report["test"].items()}
    target = output or Path(config.get("artefact"))
    if not target.is_absolute():
        from qiuzhu import settings

        target = settings.ROOT / target
    report["sha256"] = save(final, target)
    report["artefact"] = str(target)
    return report


def by_corpus(data: Data, made: list[Decision]) -> dict[str, dict[str, Any]]:
    """Return the figures of MADE against DATA's labels, per corpus and for all."""
    out = {"all": score_decisions(data, made)}
    for name in dict.fromkeys(e.corpus for e in data.examples):
        keep = [i for i, e in enumerate(data.examples) if e.corpus == name]
        part = Data(
            [data.examples[i] for i in keep],
            [data.feats[i] for i in keep],
            [data.views[i] for i in keep],
        )
        out[name] = score_decisions(part, [made[i] for i in keep])
    return out


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """Return the headline figures of an evaluation result (what the artefact carries)."""
    keys = (
        "labelled",
        "needs_micro_f1",
        "needs_macro_f1",
        "kind_accuracy",
        "critical_recall",
        "critical_precision",
    )
    out = {k: round(result[k], 4) if isinstance(result[k], float) else result[k] for k in keys}
    out["district_accuracy"] = round(result["places"]["district"]["accuracy"], 4)
    out["needs_f1"] = {n: round(m["f1"], 4) for n, m in result["needs"].items()}
    return out
