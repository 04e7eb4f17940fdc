"""The labelled corpora that train and measure the classifier, named in one config.

`classify/training/config.cfg` names each corpus (a crisis's real posts, or our invented
posts) by its posts file, its label files and its split file, plus the training
settings. Real posts stay outside the repository (TRAINING_POSTS_DIR, written `{posts}`
in the config); only their labels (ids and codes) and splits are in it.
"""

from __future__ import annotations

import configparser
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classify.evaluate import merge_gold, read_jsonl
from classify.splits import read_splits
from qiuzhu import settings
from qiuzhu.errors import InvalidInput

#: The config that ships.
CONFIG = settings.ROOT / "classify" / "training" / "config.cfg"


@dataclass(frozen=True)
class Corpus:
    """One corpus: where its posts, labels and splits are."""

    name: str
    posts: Path
    labels: tuple[Path, ...]
    splits: Path
    #: Whether the posts are ours (in the repository) or real (outside it).
    real: bool
    #: How much each of its posts weighs in training.
    weight: float = 1.0


@dataclass
class Example:
    """One labelled post of a corpus, with its split."""

    corpus: str
    split: str
    post: dict[str, Any]
    gold: dict[str, Any]
    weight: float = 1.0


@dataclass(frozen=True)
class Config:
    """The training config: corpora and settings."""

    path: Path
    corpora: tuple[Corpus, ...]
    training: dict[str, str]

    def get(self, key: str) -> str:
        try:
            return self.training[key]
        except KeyError:
            raise InvalidInput(f"{self.path}: [training] has no `{key}`") from None

    def corpus(self, name: str) -> Corpus:
        for corpus in self.corpora:
            if corpus.name == name:
                return corpus
        known = ", ".join(c.name for c in self.corpora)
        raise InvalidInput(f"no corpus {name!r} in {self.path}: expected one of {known}")


def _resolve(raw: str, posts_dir: Path) -> tuple[Path, bool]:
    real = raw.startswith("{posts}")
    text = raw.replace("{posts}", str(posts_dir))
    path = Path(text)
    return (path if path.is_absolute() else settings.ROOT / path), real


def read_config(path: Path = CONFIG) -> Config:
    """Return the training config at PATH.

    Raises:
        InvalidInput: the file is missing or a corpus lacks posts, labels or splits.
    """
    parser = configparser.ConfigParser(interpolation=None)
    if not parser.read(path, encoding="utf-8"):
        raise InvalidInput(f"cannot read the training config {path}")
    posts_dir: Path = settings.get("TRAINING_POSTS_DIR")
    corpora = []
    for section in parser.sections():
        if not section.startswith("corpus:"):
            continue
        spec = parser[section]
        try:
            posts, real = _resolve(spec["posts"], posts_dir)
            labels = tuple(_resolve(p, posts_dir)[0] for p in spec["labels"].split())
            splits = _resolve(spec["splits"], posts_dir)[0]
        except KeyError as exc:
            raise InvalidInput(f"{path}: [{section}] has no {exc.args[0]}") from None
        weight = float(spec.get("weight", "1"))
        corpora.append(Corpus(section[7:], posts, labels, splits, real, weight))
    training = dict(parser["training"]) if parser.has_section("training") else {}
    return Config(path, tuple(corpora), training)


def load_examples(corpus: Corpus) -> list[Example]:
    """Return the fully labelled posts of CORPUS in posts-file order, with their splits.

    Raises:
        InvalidInput: a file is missing, a label names no post, or a labelled post has
            no split (new labels must be given a split on purpose: test splits are frozen).
    """
    if not corpus.posts.is_file():
        where = "TRAINING_POSTS_DIR" if corpus.real else "the repository"
        raise InvalidInput(
            f"the posts of corpus {corpus.name} are not at {corpus.posts}: set {where} "
            "to the folder that holds them"
        )
    posts = read_jsonl(corpus.posts)
    ids = [str(p["id"]) for p in posts]
    gold = merge_gold([read_jsonl(path) for path in corpus.labels], ids)
    splits = read_splits(corpus.splits)
    out = []
    for post, label in zip(posts, gold, strict=True):
        if "kind" not in label:
            continue
        key = str(post["id"])
        if key not in splits:
            raise InvalidInput(
                f"post {key} of corpus {corpus.name} is labelled but in no split of "
                f"{corpus.splits}: add it (to train) before training"
            )
        out.append(Example(corpus.name, splits[key], post, label, corpus.weight))
    return out


def data_digest(config: Config, outside: bool = True) -> str:
    """Return a digest of the config and every file it names.

    Without OUTSIDE, only the files in the repository count: the digest a checkout
    without the real posts can still compute, to tell whether the artefact was trained
    on its labels.
    """
    digest = hashlib.sha256(config.path.read_bytes())
    root = settings.ROOT.resolve()
    for corpus in config.corpora:
        for path in (corpus.posts, *corpus.labels, corpus.splits):
            if not outside and not path.resolve().is_relative_to(root):
                continue
            digest.update(path.name.encode())
            digest.update(path.read_bytes() if path.is_file() else b"(missing)")
    return digest.hexdigest()[:16]
