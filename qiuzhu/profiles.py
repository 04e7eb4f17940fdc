"""Crisis profiles: what qiuzhu knows about one crisis, as data (`profiles/*.yaml`).

A profile names the crisis, its region (the provinces whose streets and communities the
place index holds, the province that breaks ties between equal place names, the cities or
provinces the console's pickers list) and its working groups with the default group per
need. QIUZHU_PROFILE picks one (default `wuhan-2020`); `qiuzhu profiles` lists them. A
new crisis is a new file, not code; settings set explicitly (QIUZHU_GAZETTEER_PROVINCES,
QIUZHU_API_CITY_CODE) still win over the profile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from classify.needs import NEEDS
from qiuzhu import settings
from qiuzhu.errors import ConfigError

CRISES = ("epidemic", "flood", "lockdown", "earthquake", "other")
_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
_DIVISION = re.compile(r"^\d{2}(\d{2})?$")


@dataclass(frozen=True)
class Profile:
    """One crisis profile, checked."""

    id: str
    title: str
    crisis: str
    time_zone: str
    provinces: tuple[str, ...]
    home_province: str
    pickers: tuple[str, ...]
    teams: dict[str, str]
    need_team: dict[str, str]
    fallback_team: str
    path: Path
    #: The demo: the folder of its invented posts (`crawlers.demo_site`) and the source
    #: registry that reads them (`qiuzhu demo --profile`).
    demo_site: Path
    demo_sources: Path

    def team_for(self, needs: list[str]) -> str:
        """Return the team code a request with NEEDS goes to by default.

        People trapped go to the rescue team whatever else they need (when the profile
        has one); otherwise the first need that has a team decides.
        """
        if "rescue" in needs and "rescue" in self.need_team:
            return self.need_team["rescue"]
        for need in needs:
            if need in self.need_team:
                return self.need_team[need]
        return self.fallback_team


def folder() -> Path:
    return Path(settings.get("PROFILES_DIR"))


def available() -> list[str]:
    """Return the ids of the profiles in the profiles folder, sorted."""
    return sorted(p.stem for p in folder().glob("*.yaml"))


@lru_cache(maxsize=8)
def load(profile_id: str) -> Profile:
    """Return the profile PROFILE_ID, checked.

    Raises:
        ConfigError: there is no such profile, or its file is wrong (the message says where).
    """
    path = folder() / f"{profile_id}.yaml"
    if not path.is_file():
        known = ", ".join(available()) or "none"
        raise ConfigError(f"No crisis profile {profile_id!r} in {folder()} (there are: {known}).")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"Profile {path.name} is unreadable: {exc}") from None
    try:
        return _parse(data, path)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"Profile {path.name}: {exc}") from None


def current() -> Profile:
    """Return the profile QIUZHU_PROFILE names."""
    return load(str(settings.get("PROFILE")))


def _parse(data: Any, path: Path) -> Profile:
    if not isinstance(data, dict):
        raise ValueError("expected a mapping of fields")
    if data.get("id") != path.stem:
        raise ValueError(f"id must be the file's name, {path.stem!r}")
    crisis = str(data.get("crisis", ""))
    if crisis not in CRISES:
        raise ValueError(f"crisis must be one of {', '.join(CRISES)}")
    time_zone = str(data.get("time_zone", "Asia/Shanghai"))
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time_zone {time_zone!r}") from None
    region = data["region"]
    provinces = tuple(str(p) for p in region["provinces"])
    pickers = tuple(str(p) for p in region["pickers"])
    home = str(region.get("home_province") or provinces[0])
    for code in (*provinces, home):
        if not re.fullmatch(r"\d{2}", code):
            raise ValueError(f"province code {code!r} is not two digits")
    for code in pickers:
        if not _DIVISION.match(code):
            raise ValueError(f"picker code {code!r} is not a province (2) or city (4 digits)")
    teams = {str(k): str(v) for k, v in dict(data["teams"]).items()}
    for code in teams:
        if not _CODE.match(code):
            raise ValueError(f"team code {code!r}: use lower-case letters, digits and _")
    need_team = {str(k): str(v) for k, v in dict(data["need_team"]).items()}
    fallback = str(data.get("fallback_team") or "")
    for need, team in need_team.items():
        if need not in NEEDS:
            raise ValueError(f"need_team names {need!r}, not a need of the taxonomy")
        if team not in teams:
            raise ValueError(f"need_team sends {need!r} to {team!r}, not one of its teams")
    if fallback not in teams:
        raise ValueError(f"fallback_team {fallback!r} is not one of its teams")
    demo = dict(data["demo"])
    demo_site = settings.ROOT / str(demo["site"])
    demo_sources = settings.ROOT / str(demo["sources"])
    if not (demo_site / "posts.yaml").is_file():
        raise ValueError(f"demo site {demo['site']!r} has no posts.yaml")
    if not demo_sources.is_file():
        raise ValueError(f"demo sources {demo['sources']!r} do not exist")
    return Profile(
        id=path.stem,
        title=str(data.get("title") or path.stem),
        crisis=crisis,
        time_zone=time_zone,
        provinces=provinces,
        home_province=home,
        pickers=pickers,
        teams=teams,
        need_team=need_team,
        fallback_team=fallback,
        path=path,
        demo_site=demo_site,
        demo_sources=demo_sources,
    )


def gazetteer_provinces() -> set[str]:
    """Return the provinces whose streets and communities the place index holds."""
    explicit = str(settings.get("GAZETTEER_PROVINCES")).strip()
    if explicit:
        return {p.strip() for p in explicit.split(",") if p.strip()}
    return set(current().provinces)


def picker_codes() -> tuple[str, ...]:
    """Return the division codes whose places the console's pickers list."""
    explicit = str(settings.get("API_CITY_CODE")).strip()
    if explicit:
        return tuple(p.strip() for p in explicit.split(",") if p.strip())
    return current().pickers


def describe(profile: Profile) -> str:
    """Return a one-line description of PROFILE for `qiuzhu profiles`."""
    teams = "、".join(profile.teams.values())
    return (
        f"{profile.id}: {profile.title} [{profile.crisis}]; places: provinces "
        f"{','.join(profile.provinces)}, pickers {','.join(profile.pickers)}; teams: {teams}"
    )
