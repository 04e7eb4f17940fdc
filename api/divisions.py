"""Division names for the console's place pickers, from the gazetteer's CSV files.

The pickers list the districts, streets and communities of the crisis profile's cities
(or API_CITY_CODE's; Wuhan in the default profile) as the national division data writes
them, which is how the NLP stage stores them; the backlog's own facet counts are merged in
by the route. Read once, on first use.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from qiuzhu import profiles, settings

log = logging.getLogger(__name__)


@dataclass
class Divisions:
    """Names of one city's divisions, each with its code and parent code."""

    districts: list[tuple[str, str]] = field(default_factory=list)  # (code, name)
    streets: list[tuple[str, str, str]] = field(default_factory=list)  # (code, name, district)
    communities: list[tuple[str, str, str]] = field(default_factory=list)  # (code, name, street)

    def children(self, level: str, parent: str = "") -> list[tuple[str, str]]:
        """Return (code, name) of LEVEL's divisions, under the division named PARENT if given."""
        if level == "district":
            return list(self.districts)
        upper = self.districts if level == "street" else [(c, n) for c, n, _ in self.streets]
        codes = {code for code, name in upper if not parent or name == parent}
        rows = self.streets if level == "street" else self.communities
        return [(code, name) for code, name, up in rows if up in codes]


def _rows(path: Path, prefix: tuple[str, ...]) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
        # Codes lead every line, so the city's rows are picked before parsing the rest.
        wanted = (line for line in handle if line.startswith(prefix))
        return [dict(zip(header, row, strict=False)) for row in csv.reader(wanted)]


@lru_cache(maxsize=1)
def load() -> Divisions:
    """Return the divisions of the profile's cities, or none when the data is missing."""
    source: Path = settings.get("GAZETTEER_DIR")
    city = profiles.picker_codes()
    out = Divisions()
    try:
        out.districts = [(r["code"], r["name"]) for r in _rows(source / "areas.csv", city)]
        out.streets = [
            (r["code"], r["name"], r["areaCode"]) for r in _rows(source / "streets.csv", city)
        ]
        out.communities = [
            (r["code"], r["name"], r["streetCode"]) for r in _rows(source / "villages.csv", city)
        ]
    except OSError as exc:
        log.warning("Division data unreadable in %s (%s): pickers list backlog values", source, exc)
    return out
