"""Episode facts: what links a follow-up to its request when its words differ.

A family posts a request and, hours or days later, an update ("my father was admitted
today"); a stranger reposts the request in other words and names the account that wrote
it. Neither shares enough text with the request to be found by `classify.dedup`'s text
keys. What they share is the author: the account that posted both, or the account a
repost names (the innermost `//@name:`, "私信 @name", a newsroom's 网友“name”).

`author_keys` gives a post's `author:` blocking keys; `facts` its time, kind, place codes
and subjects (who it is about, by kinship word), which decide whether two posts sharing an
author are one episode (`same_author_episode`): close in time, neither an offer nor
unrelated, no two different places and no two different people of one family. Patterns
are data, in classify/patterns/episodes.yaml.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from importlib import resources
from typing import Any, NamedTuple

import yaml

from qiuzhu.errors import ConfigError

#: Two posts of one author further apart than this are two episodes.
EPISODE_WINDOW = timedelta(days=7)
#: Two posts sharing only a phone number further apart than this are two episodes: one
#: number serves one family for a crisis, a hotline or a volunteer's for many.
PHONE_WINDOW = timedelta(days=30)
#: How long after a request a follow-up that refers back to it may come (newsrooms report
#: on a case a week or two later).
REFERENCE_WINDOW = timedelta(days=14)
#: Kinds of posts that never join another by author alone: an account's offers and its
#: unrelated posts are other matters than its request.
UNLINKED_KINDS = frozenset({"offer", "irrelevant"})
KINDS = ("", "request", "update", "offer", "irrelevant")
PLACE_LEVELS = ("district", "street", "community")
#: The levels of place a case key is scoped by, finest first (`case_keys`).
CASE_LEVELS = ("community", "street", "district", "city")

# Dates without a zone are Beijing time, where the posts come from.
_LOCAL = timezone(timedelta(hours=8))
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Patterns:
    owned: re.Pattern[str]  # a possessive and a run of kinship words (group 1)
    kin: int  # the first KIN subjects are kinship groups, found in `owned` runs
    subjects: tuple[tuple[int, re.Pattern[str]], ...]
    references: re.Pattern[str]
    cases: tuple[tuple[str, re.Pattern[str]], ...]
    relayed: re.Pattern[str]
    no_identity: re.Pattern[str]
    mentions: tuple[re.Pattern[str], ...]


@lru_cache(maxsize=1)
def patterns() -> Patterns:
    """Return the compiled patterns of classify/patterns/episodes.yaml."""
    source = resources.files("classify").joinpath("patterns/episodes.yaml").read_text("utf-8")
    try:
        raw = yaml.safe_load(source)
        kin = list(raw["subjects"].values())
        words = sorted({w for group in kin for w in group}, key=len, reverse=True)
        # A run of kinship words after a possessive: 我爸妈, 我外公外婆.
        owned = re.compile(f"{raw['possessive']}((?:{'|'.join(words)})+)")
        groups = ["|".join(group) for group in kin + list(raw["states"].values())]
        subjects = tuple((1 << bit, re.compile(group)) for bit, group in enumerate(groups))
        if len(subjects) > 16:
            raise ValueError("at most 16 subject groups fit a dedup card")
        return Patterns(
            owned=owned,
            kin=len(kin),
            subjects=subjects,
            references=re.compile("|".join(raw["references"])),
            cases=tuple((case, re.compile("|".join(w))) for case, w in raw["cases"].items()),
            relayed=re.compile("|".join(raw["relayed"])),
            no_identity=re.compile("|".join(raw["anonymous"] + raw["institutions"])),
            mentions=tuple(re.compile(p, re.S) for p in raw["mentions"]),
        )
    except (KeyError, TypeError, ValueError, re.error, yaml.YAMLError) as exc:
        raise ConfigError(f"classify/patterns/episodes.yaml is malformed: {exc}") from exc


def _handle(name: str) -> str:
    return _SPACE.sub("", name or "").strip("@").lower()


def is_identity(author: str) -> bool:
    """Return whether AUTHOR names one family's account, not an anonymous or relaying one."""
    handle = _handle(author)
    return len(handle) >= 2 and not patterns().no_identity.search(handle)


def mentioned_authors(text: str) -> list[str]:
    """Return the accounts TEXT names as the writer of what it relays (see the module)."""
    found: dict[str, None] = {}
    for pattern in patterns().mentions:
        for match in pattern.finditer(text or ""):
            handle = _handle(match.group(1))
            if is_identity(handle):
                found[handle] = None
    return list(found)


def author_keys(post: dict[str, Any], digest: Any) -> list[str]:
    """Return the author keys of POST: `author:` DIGEST(handle) of its own account and
    `cites:` DIGEST(handle) of each account it names as the writer of what it relays.

    Its own author counts unless the author is no identity, the post relays for somebody
    else (代发) or it is a repost (a chain's reposter is not the family). A cited account
    meets only that account's own posts: two reposts of one busy account are not one
    episode for citing it (`cited_link`).
    """
    text = post.get("text") or ""
    own = ""
    author = post.get("author") or ""
    reposted = "//@" in text or bool(post.get("repost_of"))
    if is_identity(author) and not reposted and not patterns().relayed.search(text):
        own = _handle(author)
    keys = [f"author:{digest(own)}"] if own else []
    keys += [f"cites:{digest(h)}" for h in mentioned_authors(text) if h != own]
    return keys


_COUNTERPARTS = {"author:": "cites:", "cites:": "author:", "case:": "refers:", "refers:": "case:"}


def counterpart(key: str) -> str | None:
    """Return the key a key meets in other posts: `author:` meets `cites:` and `case:` meets
    `refers:`, and back; None for the keys that meet themselves."""
    prefix, colon, rest = key.partition(":")
    other = _COUNTERPARTS.get(prefix + colon)
    return other + rest if other else None


def cited_link(own_a: set[str], cites_a: set[str], own_b: set[str], cites_b: set[str]) -> bool:
    """Return whether two posts share an author: both by one account, or one cites the other's.

    The sets hold the digests of `author_keys`, without their prefixes.
    """
    return bool(own_a & own_b or own_a & cites_b or cites_a & own_b)


def refers_back(text: str) -> bool:
    """Return whether TEXT refers back to an earlier post ("此前网友求助的…")."""
    return bool(patterns().references.search(text or ""))


def cases(text: str) -> list[str]:
    """Return the cases TEXT is about (the `cases` of episodes.yaml), in their order."""
    return [case for case, pattern in patterns().cases if pattern.search(text or "")]


def case_keys(post: dict[str, Any], digest: Any) -> list[str]:
    """Return the case keys of POST: `case:` DIGEST(place|case) for each of its cases,
    and `refers:` keys when it refers back to an earlier post.

    Only a placed request or update has any: the place and the case are what a
    follow-up that names no author shares with its request. Each case is keyed by every
    level of the post's place (community, street, district, city); an update that refers
    back (`refers_back`, or any by no identity: a newsroom, an anonymous writer) looks
    up its finest level only, so a follow-up naming a village meets the requests
    of that village, not of its whole county.
    """
    kind = str(post.get("kind") or "")
    if kind not in ("request", "update"):
        return []
    text = post.get("text") or ""
    found = cases(text)
    levels = [str(post.get(f"{level}_code") or "") for level in CASE_LEVELS]
    places = [code for code in levels if code]
    if not found or not places:
        return []
    keys = [f"case:{digest(f'{place}|{case}')}" for place in places for case in found]
    writer = post.get("author")
    # An update only: a request that refers back ("之前求助过，再次求助") is a new plea
    # that only its author could tie to the old one.
    implicit = writer is not None and not is_identity(str(writer))
    if kind == "update" and (implicit or refers_back(text)):
        keys += [f"refers:{digest(f'{places[0]}|{case}')}" for case in found]
    return keys


def subjects(text: str) -> int:
    """Return the subject groups TEXT names (bits in the order of episodes.yaml)."""
    found = patterns()
    runs = "|".join(m.group(1) for m in found.owned.finditer(text or ""))
    bits = 0
    for number, (bit, pattern) in enumerate(found.subjects):
        if pattern.search(runs if number < found.kin else text or ""):
            bits |= bit
    return bits


def place_code(code: Any) -> int:
    """Return a division code as a number (0: none), as the compact state keeps it."""
    text = str(code or "")
    return int(text) if text.isdigit() and len(text) <= 18 else 0


def moment(posted_at: Any) -> float:
    """Return POSTED_AT (ISO text or epoch milliseconds) as POSIX seconds; inf if unknown."""
    if posted_at is None or posted_at == "":
        return math.inf
    if isinstance(posted_at, int | float):
        return float(posted_at) / 1000
    try:
        when = datetime.fromisoformat(str(posted_at).replace("Z", "+00:00"))
    except ValueError:
        return math.inf
    if when.tzinfo is None:
        when = when.replace(tzinfo=_LOCAL)
    return when.timestamp()


class Facts(NamedTuple):
    """What an episode decision reads of a post besides its keys."""

    when: float  # POSIX seconds, inf if unknown
    kind: int  # index in KINDS, 0 if unknown
    places: tuple[int, int, int]  # district, street and community codes, 0 if unknown
    subjects: int


def facts(post: dict[str, Any]) -> Facts:
    """Return the episode facts of POST, computed once and kept on the dict as `_episode`.

    A backlog candidate read from its dedup card brings them as `_episode` (all but the
    time, which comes with it as `posted_at`).
    """
    known = post.get("_episode")
    if isinstance(known, Facts):
        return known
    if isinstance(known, tuple):
        kind, places, bits = known
        result = Facts(moment(post.get("posted_at")), kind, places, bits)
    else:
        result = read_facts(post)
    post["_episode"] = result
    return result


def read_facts(post: dict[str, Any]) -> Facts:
    """Return the episode facts of POST, read from its fields (nothing kept on it)."""
    kind = str(post.get("kind") or "")
    return Facts(
        moment(post.get("posted_at")),
        KINDS.index(kind) if kind in KINDS else 0,
        (
            place_code(post.get("district_code")),
            place_code(post.get("street_code")),
            place_code(post.get("community_code")),
        ),
        subjects(post.get("text") or ""),
    )


def apart(a: Facts, b: Facts) -> bool:
    """Return whether A and B are about two different places or two different people."""
    for x, y in zip(a.places, b.places, strict=True):
        if x and y and x != y:
            return True
    return bool(a.subjects and b.subjects and not a.subjects & b.subjects)


def within(a: Facts, b: Facts, window: timedelta) -> bool:
    """Return whether A and B were posted within WINDOW of each other (both times known)."""
    return abs(a.when - b.when) <= window.total_seconds()


def same_author_episode(a: Facts, b: Facts) -> bool:
    """Return whether two posts sharing an author are one episode (see the module)."""
    unlinked = {KINDS.index(k) for k in UNLINKED_KINDS}
    if a.kind in unlinked or b.kind in unlinked:
        return False
    return within(a, b, EPISODE_WINDOW) and not apart(a, b)


def phone_episode(a: Facts, b: Facts) -> bool:
    """Return whether two posts sharing a phone number may be one episode.

    Not when far apart in time, about two places or people, or when one offers help and
    the other does not: a request citing a helper's number is no copy of the offer.
    """
    offer = KINDS.index("offer")
    if (a.kind == offer) != (b.kind == offer):
        return False
    unknown = math.isinf(a.when) or math.isinf(b.when)
    return (unknown or within(a, b, PHONE_WINDOW)) and not apart(a, b)


def reference_target(ref: Facts, target: Facts) -> bool:
    """Return whether TARGET may be the earlier post that REF refers back to.

    A request or an update posted before REF (an hour's slack for clocks) and within
    REFERENCE_WINDOW of it, not about another place or person.
    """
    if KINDS[target.kind] not in ("request", "update"):
        return False
    lag = ref.when - target.when
    window = REFERENCE_WINDOW.total_seconds()
    return -3600 <= lag <= window and not apart(ref, target)
