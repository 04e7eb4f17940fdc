"""The cost of showing offers beside the dispatcher's list: p95 with and without matches.

Generates N invented open requests (bench.search_bench's generator: districts, streets,
needs, urgency, duplicate clusters; no real person) and M invented offers over the same
places and needs (a tenth expired, some with a capacity), bulk-loads them under a bench
index prefix, then times the dispatcher's list (`views.search_page`, 20 rows, one per
cluster, sorted by urgency) over a mix of filters, alternately without and with the count
of valid offers near each row (`offer_counts.count_offers`, what `?matches=true` adds;
its grouped offers are read again every `offer_counts.TTL` seconds, inside the run), the
detail's list of matches of one request (`offers.matches`), and the count's cold start
(the groups read again). Prints p50/p95/p99 of each and the ratio of the list's p95s
(the target: at most 1.3).
A script that prints figures, not a test.

Run: .venv/bin/python -m bench.match_bench --requests 100000 --offers 10000 \\
         --es http://127.0.0.1:9250
Iterate: add `--prefix qiuzhu-bench-match --keep` to load once and reuse the backlog.
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.meter import pct
from bench.search_bench import DISTRICTS, NEEDS, WUHAN, generate
from index import bulk, offer_counts, offers, views
from index.admin import drop, ensure
from index.client import make_client
from index.documents import crawled_part
from index.mapping import Names, names
from index.search import Filters

#: Invented division codes for the generator's districts and streets (Wuhan is 4201).
DISTRICT_CODES = {name: f"4201{n + 2:02d}" for n, name in enumerate(DISTRICTS)}
LISTS: list[dict[str, Any]] = [
    {},
    {"district": ["武昌区"]},
    {"needs": ["food"]},
    {"needs": ["transport"], "district": ["江岸区"]},
    {"urgency": ["critical"]},
]


def _codes(post: dict[str, Any]) -> dict[str, Any]:
    district = post.get("district")
    if not district:
        return {"city_code": "4201"}
    street = post.get("street")
    index = DISTRICTS[district].index(street) if street in DISTRICTS[district] else 0
    return {
        "city_code": "4201",
        "district_code": DISTRICT_CODES[district],
        "street_code": f"{DISTRICT_CODES[district]}{index + 1:03d}",
    }


def generate_offers(count: int, seed: int, now: datetime) -> Iterator[dict[str, Any]]:
    """Yield COUNT offers; a tenth expired, a tenth with a capacity of one (used up once
    linked), a twentieth naming no place."""
    rng = random.Random(seed + 1)
    for n in range(count):
        district = rng.choice(list(DISTRICTS))
        street = rng.choice(DISTRICTS[district])
        needs = rng.sample(list(NEEDS), k=rng.choice((1, 1, 2)))
        roll = rng.random()
        offer: dict[str, Any] = {}
        if roll < 0.1:
            offer["expires_at"] = (now - timedelta(days=1)).isoformat()
        elif roll < 0.3:
            offer["expires_at"] = (now + timedelta(days=rng.randint(1, 14))).isoformat()
        if rng.random() < 0.3:
            offer["capacity"] = rng.randint(1, 40)
        placed = rng.random() > 0.05
        yield {
            "id": f"o{n}",
            "source": "weibo",
            "text": f"{district}{street} 志愿者可以提供帮助",
            "kind": "offer",
            "needs": needs,
            "urgency": "normal",
            "city": "武汉市" if placed else None,
            "district": district if placed else None,
            "street": street if placed else None,
            "posted_at": (now - timedelta(hours=rng.randint(1, 400))).astimezone(WUHAN).isoformat(),
            "offer": offer or None,
        }


def load(client: Any, where: Names, requests: int, offer_count: int, seed: int) -> None:
    """Bulk-load the generated requests and offers, with cluster fields as refresh sets."""
    ensure(client, where)
    now = datetime.now(UTC)
    posts = list(generate(requests, seed))
    size: dict[str, int] = {}
    first: dict[str, str] = {}
    for post in posts:
        size[post["cluster"]] = size.get(post["cluster"], 0) + 1
        first.setdefault(post["cluster"], post["id"])
    for post in posts:
        post.update(
            cluster_size=size[post["cluster"]],
            is_canonical=first[post["cluster"]] == post["id"],
            **_codes(post),
        )
    made = list(generate_offers(offer_count, seed, now))
    for offer in made:
        if offer.get("district"):
            offer.update(_codes(offer))
    actions = (bulk.update_action(where.requests, crawled_part(p)) for p in [*posts, *made])
    report = bulk.write(client, actions, chunk_size=2000)
    client.indices.refresh(index=where.requests)
    loaded = client.count(index=where.requests)["count"]
    print(f"loaded {loaded} documents (errors: {dict(report.errors) or 'none'})")


def _time(fn: Any, *args: Any) -> float:
    began = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - began) * 1000


def run(client: Any, where: Names, rounds: int) -> dict[str, list[float]]:
    """Time the list without and with the offers' counts, alternately, and the matches."""
    names_ = ("list", "list+matches", "matches", "cold count")
    times: dict[str, list[float]] = {name: [] for name in names_}
    some = client.search(
        index=where.requests,
        query={
            "bool": {"filter": [{"term": {"kind": "request"}}, {"exists": {"field": "district"}}]}
        },
        size=50,
        _source=False,
    )
    request_ids = [h["_id"] for h in some["hits"]["hits"]]

    def plain(filters: Filters) -> Any:
        return views.search_page(client, where, filters, links=False, sort="urgency", size=20)

    def with_matches(filters: Filters) -> None:
        page = plain(filters)
        offer_counts.count_offers(client, where, page.rows)

    def detail(post: str) -> None:
        offers.matches(client, where, post, links=False)

    for n in range(rounds):
        filters = Filters(**LISTS[n % len(LISTS)])
        # Alternate which goes first, so that neither always meets a warmer cache.
        order = ("list", "list+matches") if n % 2 else ("list+matches", "list")
        for name in order:
            fn = plain if name == "list" else with_matches
            times[name].append(_time(fn, filters))
        post = request_ids[n % len(request_ids)]
        times["matches"].append(_time(detail, post))
        if n % 20 == 0:
            offer_counts.invalidate(where)
            page = plain(filters)
            times["cold count"].append(_time(offer_counts.count_offers, client, where, page.rows))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--offers", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--es", default="http://127.0.0.1:9250")
    parser.add_argument("--prefix", default="")
    parser.add_argument("--keep", action="store_true", help="keep the bench backlog")
    args = parser.parse_args()
    client = make_client([args.es], request_timeout=120)
    where = names(args.prefix or f"qiuzhu-bench-{uuid.uuid4().hex[:8]}")
    try:
        if not client.indices.exists(index=where.requests):
            began = time.perf_counter()
            load(client, where, args.requests, args.offers, args.seed)
            print(f"load took {time.perf_counter() - began:.0f} s")
        # Warm both paths once per list before measuring.
        run(client, where, len(LISTS) * 2)
        times = run(client, where, args.rounds)
        print(f"{args.requests} requests, {args.offers} offers, {args.rounds} rounds")
        print(f"{'':14}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
        for name, values in times.items():
            print(f"{name:14}{pct(values, 50):9.1f}{pct(values, 95):9.1f}{pct(values, 99):9.1f}")
        ratio = pct(times["list+matches"], 95) / pct(times["list"], 95)
        print(f"list p95 with matches / without: {ratio:.2f} (target <= 1.30)")
    finally:
        if not args.keep:
            drop(client, where)


if __name__ == "__main__":
    main()
