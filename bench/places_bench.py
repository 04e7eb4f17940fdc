"""Print the place index's size, build time and load time for each crisis profile's region.

The index (`classify.gazetteer`) holds provinces, cities and districts nationwide, and
streets and communities of the profile's provinces; it is built once per set of provinces
and cached. Each profile is measured in a fresh process (the index is loaded once per
process) with its own empty cache folder: a cold build, then a warm load from the cache,
then resolving a fixed list of invented addresses (repeated: the decisions are memoised, so
this is the rate of a backlog that names the same places again and again). Ratios are
against the first profile measured in the same command (Wuhan's, the baseline).

Run: .venv/bin/python -m bench.places_bench [--profiles wuhan-2020,henan-2021-flood]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from qiuzhu import profiles
from qiuzhu.settings import ROOT

#: Invented addresses in the three crises' places (and one elsewhere).
ADDRESSES = [
    "江岸区后湖街道某小区",
    "郑州市金水区丰产路街道",
    "新乡卫辉市唐庄镇某村",
    "浦东新区花木街道某小区",
    "闵行区七宝镇",
    "成都市武侯区",
]

_CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
from classify import gazetteer, places
gaz = gazetteer.load()
t1 = time.perf_counter()
gazetteer.load.cache_clear()
gaz = gazetteer.load()
t2 = time.perf_counter()
addresses = json.loads(sys.argv[1])
for text in addresses * 200:
    places.resolve(text, text, "")
t3 = time.perf_counter()
print(json.dumps({
    "entries": len(gaz.codes),
    "aliases": len(gaz.aliases),
    "build_s": t1 - t0,
    "load_s": t2 - t1,
    "resolve_per_s": len(addresses) * 200 / (t3 - t2),
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def measure(profile_id: str) -> dict[str, float]:
    """Return the figures of PROFILE_ID's place index, measured in a fresh process."""
    with tempfile.TemporaryDirectory(prefix="qiuzhu-places-") as var:
        env = {**os.environ, "QIUZHU_PROFILE": profile_id, "QIUZHU_VAR_DIR": var}
        env.pop("QIUZHU_GAZETTEER_PROVINCES", None)
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, json.dumps(ADDRESSES, ensure_ascii=False)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
        caches = list((Path(var) / "cache").glob("gazetteer-*.pickle"))
        figures["cache_mb"] = sum(p.stat().st_size for p in caches) / 1e6
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", default=",".join(profiles.available()))
    args = parser.parse_args(argv)
    chosen = [p.strip() for p in args.profiles.split(",") if p.strip()]
    chosen.sort(key=lambda p: p != "wuhan-2020")  # the baseline first
    base: dict[str, float] | None = None
    print(
        f"{'profile':<24}{'entries':>9}{'cache MB':>10}{'build s':>9}{'load s':>8}"
        f"{'resolve/s':>11}{'RSS MB':>8}  load vs baseline"
    )
    for profile_id in chosen:
        f = measure(profile_id)
        base = base or f
        print(
            f"{profile_id:<24}{f['entries']:>9.0f}{f['cache_mb']:>10.1f}{f['build_s']:>9.2f}"
            f"{f['load_s']:>8.2f}{f['resolve_per_s']:>11.0f}{f['peak_rss_mb']:>8.0f}"
            f"  ×{f['load_s'] / base['load_s']:.2f}"
        )


if __name__ == "__main__":  # pragma: no cover
    main()
