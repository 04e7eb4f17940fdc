"""Resolve where the person in need lives: province, city, district, street, community.

Place names are found with the gazetteer automaton in the template's address and city
fields and in the free text; hospital names (where care was sought) are ignored; the
levels are then chosen so that the hierarchy stays consistent. A level that the post
leaves ambiguous stays empty and its candidates are kept in `place_candidates`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import ahocorasick
import yaml

from classify import gazetteer
from classify.clauses import by_clause
from classify.gazetteer import BARE, CITY, COMMUNITY, DISTRICT, FULL, LEVELS, PROVINCE, STREET
from qiuzhu import profiles
from qiuzhu.errors import ConfigError


def home_province() -> str:
    """Return the crisis profile's province: it breaks ties between equal place names, and
    a street or community named without its city is looked up there."""
    return profiles.current().home_province


_AFTER_HOSPITAL = re.compile(
    r"^(?:区|市|县)?[^\s，。,.;；、！!？?()（）:：]{0,8}?(?:医院|卫生院|方舱|院区|分院|体育馆|会展中心)"
)
_HOUSING = re.compile(
    r"^(?:[一二三四五六七八九十\d]+(?:区|村|期|栋|号)|小区|花园|新村|家园|社区|大院|宿舍|"
    r"街坊|片区|[\u4e00-\u9fff]?[苑园]|里|村)"
)
# Address-field evidence counts double: the poster wrote it to say where the person is.
_ADDRESS_WEIGHT = 2.0
# City fields up to this length are remembered (武汉, 武汉市, 湖北武汉 ...).
_CACHED_FIELD_MAX = 12
# The mentions of recently read clauses, per weight.
_MEMO: defaultdict[float, dict[str, tuple[Mention, ...]]] = defaultdict(dict)
# The places decided for recently seen mention sequences (many posts name the same
# places), up to DECIDED_MAX of them (about a kilobyte each).
DECIDED_MAX = 20_000
_DECIDED: dict[tuple[tuple[str, float, int], ...], dict[str, Any]] = {}


@dataclass(frozen=True)
class Area:
    """A colloquial area name and the divisions it implies."""

    city: int
    districts: tuple[int, ...]
    street: int


@dataclass(frozen=True)
class Mention:
    """One place name found in a post and the entries it may mean, with a weight."""

    alias: str
    entries: list[tuple[int, int]]
    weight: float


@lru_cache(maxsize=1)
def hospital_names() -> tuple[str, ...]:
    """Return the reviewed hospital names, longest first."""
    raw = resources.files("classify").joinpath("data/hospitals.txt").read_text("utf-8")
    names = {line.strip() for line in raw.splitlines() if line.strip()}
    return tuple(sorted((n for n in names if not n.startswith("#")), key=len, reverse=True))


@lru_cache(maxsize=1)
def areas() -> dict[str, Area]:
    """Return the reviewed colloquial areas, resolved against the gazetteer."""
    gaz = gazetteer.load()
    raw = yaml.safe_load(resources.files("classify").joinpath("data/areas.yaml").read_text("utf-8"))

    def find(name: str, level: int, within: int) -> int:
        for index, _ in gaz.lookup(name):
            if gaz.levels[index] == level and (within < 0 or within in gaz.chain(index)):
                return index
        raise ConfigError(
            f"classify/data/areas.yaml names {name!r}, which the division data lacks."
        )

    # Streets are indexed only for the profile's provinces: an area that is a street
    # elsewhere still says which city it lies in.
    indexed = profiles.gazetteer_provinces()
    out: dict[str, Area] = {}
    for name, spec in raw.items():
        city = find(spec["city"], CITY, -1)
        street = -1
        if spec.get("street") and gaz.codes[city][:2] in indexed:
            street = find(spec["street"], STREET, city)
        districts = tuple(find(d, DISTRICT, city) for d in spec.get("districts", ()))
        if street >= 0:
            districts = (gaz.parents[street],)
        out[name] = Area(city, districts, street)
    return out


@lru_cache(maxsize=1)
def _automata() -> tuple[Any, Any]:
    """Return Aho-Corasick automata over the hospital names and the colloquial areas."""
    out = []
    for names in (hospital_names(), tuple(areas())):
        automaton = ahocorasick.Automaton()
        for name in names:
            automaton.add_word(name, len(name))
        if names:
            automaton.make_automaton()
        out.append(automaton if names else None)
    return out[0], out[1]


def _occurrences(automaton: Any, text: str) -> list[tuple[int, int]]:
    """Return (start, end) of every occurrence, overlaps included, of the automaton's names."""
    if automaton is None or not text:
        return []
    return [(end - size + 1, end + 1) for end, size in automaton.iter(text)]


@lru_cache(maxsize=65536)
def _chain(index: int) -> frozenset[int]:
    """Return the entry and its ancestors, as a set (cached: most posts name few places)."""
    return frozenset(gazetteer.load().chain(index))


def _hospital_spans(text: str) -> list[tuple[int, int]]:
    return _occurrences(_automata()[0], text)


def find_mentions(text: str, weight: float = 1.0) -> list[Mention]:
    """Return the place names in TEXT, leftmost-longest, without those naming hospitals.

    No place or hospital name, and nothing the context rules read after a name, holds
    a clause end, so TEXT is read clause by clause and each clause's mentions are
    remembered: posts repeat template fields, stock sentences and reposted paragraphs.
    """
    if not text:
        return []
    found: list[Mention] = []
    for _, mentions in by_clause(
        text,
        gazetteer.CLAUSE,
        _MEMO[weight],
        lambda clause: tuple(_clause_mentions(clause, weight)),
    ):
        found.extend(mentions)
    return found


def _clause_mentions(text: str, weight: float) -> list[Mention]:
    """Return the place names in TEXT (one clause) as `find_mentions` does."""
    gaz = gazetteer.load()
    colloquial = areas()
    hits = gaz.find(text)
    hits.extend((s, e, text[s:e]) for s, e in _occurrences(_automata()[1], text))
    if not hits:
        return []
    hits.sort(key=lambda hit: (hit[0], hit[0] - hit[1]))
    hospitals = _hospital_spans(text)
    mentions: list[Mention] = []
    last_end = 0
    for start, end, alias in hits:
        if start < last_end:
            continue
        if any(s <= start < e for s, e in hospitals) or _AFTER_HOSPITAL.match(text[end:]):
            last_end = end
            continue
        entries = list(gaz.lookup(alias))
        housing = bool(_HOUSING.match(text[end:]))
        # A bare stem (梅苑) is a community only before a housing word (梅苑小区) or, when
        # long enough to be distinctive, in the address field.
        entries = [
            (i, s)
            for i, s in entries
            if s > BARE or housing or (weight >= _ADDRESS_WEIGHT and len(alias) >= 3)
        ]
        if entries or alias in colloquial:
            mentions.append(Mention(alias, entries, weight))
            last_end = end
    return mentions


def _empty() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for level in LEVELS:
        out[level] = ""
        out[f"{level}_code"] = ""
    out["place_candidates"] = []
    return out


def _scope_city(mentions: list[Mention]) -> int:
    """Return the city the post is about, or -1 when none is named or implied.

    Cities anywhere in China are counted (a bare 新乡 or 卫辉 names Henan's, not a
    Hubei place): a city named, or implied by a district named by its full or short
    name, gets the mention's votes. A province named keeps only its own cities. The
    home province breaks a tie between equal votes; a tie it cannot break names no city.
    """
    gaz = gazetteer.load()
    colloquial = areas()
    votes: dict[int, float] = defaultdict(float)
    provinces: set[str] = set()
    for mention in mentions:
        if mention.alias in colloquial:
            votes[colloquial[mention.alias].city] += mention.weight
            continue
        named = [i for i, _ in mention.entries if gaz.levels[i] == PROVINCE]
        if len(named) == len(mention.entries) and len(named) == 1:
            provinces.add(gaz.codes[named[0]][:2])
        cities = [(i, s) for i, s in mention.entries if gaz.levels[i] == CITY]
        districts = [
            (i, s) for i, s in mention.entries if gaz.levels[i] == DISTRICT and s >= FULL - 1
        ]
        for index, strength in cities:
            votes[index] += mention.weight * strength
        for index, strength in districts:
            votes[gaz.parents[index]] += mention.weight * strength / 2
    if provinces:
        votes = {c: v for c, v in votes.items() if gaz.codes[c][:2] in provinces} or votes
    if not votes:
        return -1
    home = home_province()
    ranked = sorted(votes, key=lambda c: (-votes[c], not gaz.codes[c].startswith(home)))
    if len(ranked) > 1 and votes[ranked[1]] >= votes[ranked[0]]:
        first_home = gaz.codes[ranked[0]].startswith(home)
        if not first_home or gaz.codes[ranked[1]].startswith(home):
            return -1
    return ranked[0]


def _district_votes(mentions: list[Mention], city: int) -> tuple[dict[int, float], set[int]]:
    """Return district scores from decisive mentions, and the districts of ambiguous ones."""
    gaz = gazetteer.load()
    colloquial = areas()
    votes: dict[int, float] = defaultdict(float)
    ambiguous: set[int] = set()
    home = home_province()
    for mention in mentions:
        if mention.alias in colloquial:
            districts = set(colloquial[mention.alias].districts)
            strength = FULL if colloquial[mention.alias].street >= 0 else FULL - 1
        else:
            in_scope = [
                (i, s)
                for i, s in mention.entries
                if gaz.levels[i] >= DISTRICT and (city < 0 or city in _chain(i))
            ]
            if city < 0:
                in_scope = [(i, s) for i, s in in_scope if gaz.codes[i].startswith(home)]
            districts = {gaz.ancestor(i, DISTRICT) for i, _ in in_scope}
            strength = max((s for _, s in in_scope), default=0)
            # A district named outright outweighs any number of streets or communities.
            if any(gaz.levels[i] == DISTRICT for i, _ in in_scope):
                strength += 2
        districts.discard(-1)
        if len(districts) == 1:
            votes[next(iter(districts))] += mention.weight * strength
        elif districts:
            ambiguous |= districts
    return votes, ambiguous


def _pick(entries: dict[int, float]) -> int:
    """Return the best-scored entry when it beats every other, else -1."""
    if not entries:
        return -1
    ranked = sorted(entries.items(), key=lambda item: -item[1])
    if len(ranked) > 1 and ranked[1][1] >= ranked[0][1]:
        return -1
    return ranked[0][0]


def _lower(mentions: list[Mention], level: int, within: int, city: int) -> dict[int, float]:
    gaz = gazetteer.load()
    colloquial = areas()
    scores: dict[int, float] = defaultdict(float)
    home = home_province()
    for mention in mentions:
        pairs = mention.entries
        if mention.alias in colloquial and colloquial[mention.alias].street >= 0:
            pairs = [(colloquial[mention.alias].street, FULL)]
        for index, strength in pairs:
            if gaz.levels[index] != level:
                continue
            chain = _chain(index)
            if within >= 0 and within not in chain:
                continue
            if within < 0 and (
                city not in chain if city >= 0 else not gaz.codes[index].startswith(home)
            ):
                continue
            scores[index] = max(scores[index], mention.weight * strength)
    return scores


@lru_cache(maxsize=4096)
def _cached_field_mentions(text: str) -> tuple[Mention, ...]:
    return tuple(find_mentions(text, _ADDRESS_WEIGHT))


def _field_mentions(city_field: str) -> list[Mention]:
    """Return the mentions of a template city field (few distinct values: remembered)."""
    if len(city_field) > _CACHED_FIELD_MAX:
        return find_mentions(city_field, _ADDRESS_WEIGHT)
    return list(_cached_field_mentions(city_field))


def resolve(address: str = "", text: str = "", city_field: str = "") -> dict[str, Any]:
    """Return the place fields (names, codes, place_candidates) for one post."""
    out = _empty()
    mentions = _field_mentions(city_field) + find_mentions(address, _ADDRESS_WEIGHT)
    rest = text.replace(address, " ") if address else text
    mentions += find_mentions(rest, 1.0)
    if not mentions:
        return out
    # A mention's entries follow from its alias, weight and whether the housing-word
    # filter dropped some (then there are fewer): the key names the mentions exactly.
    key = tuple((mention.alias, mention.weight, len(mention.entries)) for mention in mentions)
    decided = _DECIDED.get(key)
    if decided is None:
        if len(_DECIDED) >= DECIDED_MAX:
            _DECIDED.clear()
        decided = _DECIDED[key] = _decide(mentions, out)
    out = dict(decided)
    out["place_candidates"] = [dict(candidate) for candidate in decided["place_candidates"]]
    return out


def _decide(mentions: list[Mention], out: dict[str, Any]) -> dict[str, Any]:
    """Return OUT with the levels and candidates that MENTIONS decide."""
    gaz = gazetteer.load()
    city = _scope_city(mentions)
    votes, ambiguous = _district_votes(mentions, city)
    district = _pick(votes)
    streets = _lower(mentions, STREET, district, city)
    street = _pick(streets)
    if district < 0 and street >= 0:
        district = gaz.parents[street]
    communities = _lower(mentions, COMMUNITY, street if street >= 0 else district, city)
    community = _pick(communities)
    if community >= 0:
        if street < 0:
            street = gaz.parents[community]
        if district < 0:
            district = gaz.ancestor(community, DISTRICT)
    elif len(communities) > 1:
        out["place_candidates"].extend(
            {"level": "community", "name": gaz.names[i], "code": gaz.codes[i]} for i in communities
        )
    if district < 0:
        candidates = set(votes) | ambiguous
        out["place_candidates"].extend(
            {"level": "district", "name": gaz.names[i], "code": gaz.codes[i]}
            for i in sorted(candidates, key=lambda i: gaz.codes[i])
        )
    lowest = next((i for i in (community, street, district) if i >= 0), city)
    if lowest < 0:
        provinces = {i for m in mentions for i, _ in m.entries if gaz.levels[i] == PROVINCE}
        lowest = next(iter(provinces)) if len(provinces) == 1 else -1
        # A municipality (上海市) is its own city: its districts sit under `<code>01`.
        if lowest >= 0 and gaz.names[lowest].endswith("市"):
            lowest = gaz.by_code.get(gaz.codes[lowest] + "01", lowest)
    chain = gaz.chain(lowest) if lowest >= 0 else []
    for index in chain:
        level = LEVELS[gaz.levels[index]]
        out[level] = gaz.names[index]
        out[f"{level}_code"] = gaz.codes[index]
    if out["city"] in gazetteer.GROUPING_CITY_NAMES:
        out["city"] = _city_display_name(out)
    return out


def _city_display_name(out: dict[str, Any]) -> str:
    """Return the name a reader knows for a grouping city entry (市辖区, 省直辖县级行政区划).

    A municipality's districts (上海市 市辖区) belong to the municipality; a county-level
    city ruled by its province (仙桃市) is a city by itself.
    """
    if out["city_code"][2:4] in {"01", "02"} and out["province"].endswith("市"):
        return str(out["province"])
    return str(out["district"] or out["province"])
