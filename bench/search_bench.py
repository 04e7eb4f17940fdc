"""Search latency through the API beside the same queries sent straight to Elasticsearch.

Generates N invented backlog documents with a seeded generator (districts, streets, needs,
urgency, duplicate clusters; no real person), bulk-loads them under a bench index prefix,
starts `qiuzhu serve` on loopback in a subprocess, and for 1, 5 and 20 concurrent clients
sends the same query mix — dispatchers' searches (text, place and need filters, facets,
sorted by urgency) and analysts' aggregations — (a) to the API over HTTP with an API token
and (b) straight to Elasticsearch: the very bodies the API sends (`views.page_body`,
`stats.grid_body`, `stats.overview_body`), built beforehand. Both sides go through urllib3
with one shared pool and decode the JSON they receive, so this client costs both alike.
Prints p50/p95/p99 of both, the ratio of the p95s, requests per second, and the CPU
milliseconds per request of Elasticsearch, the API's processes and this client.
A script that prints figures, not a test.

Run: .venv/bin/python -m bench.search_bench --docs 100000 --es http://127.0.0.1:9250
Iterate: add `--prefix qiuzhu-bench-mine --keep` to load once and reuse the backlog.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import psutil
import urllib3

from bench.meter import Meter, measure, metered, pct
from index import bulk, stats, users, views
from index.admin import drop, ensure
from index.client import make_client
from index.documents import crawled_part
from index.mapping import Names, names
from index.search import Filters

WUHAN = timezone(timedelta(hours=8))
DISTRICTS = {
    "江岸区": ["后湖街道", "百步亭花园路街道", "二七街道", "台北街道"],
    "武昌区": ["中南路街道", "水果湖街道", "徐家棚街道", "杨园街道"],
    "江汉区": ["民族街道", "唐家墩街道", "汉兴街道"],
    "硚口区": ["宝丰街道", "古田街道", "韩家墩街道"],
    "汉阳区": ["四新街道", "琴断口街道", "五里墩街道"],
    "洪山区": ["关山街道", "珞南街道", "狮子山街道"],
    "青山区": ["红卫路街道", "钢花村街道"],
    "东西湖区": ["吴家山街道", "将军路街道"],
}
NEEDS = {
    "bed": "发烧多天 CT显示双肺感染 求床位 求收治",
    "testing": "一直发烧 做不了核酸检测 求确诊",
    "medicine": "家里老人高血压药快吃完了 求药",
    "urgent_care": "透析病人 医院停诊 急需透析",
    "supplies": "社区卫生站缺口罩 防护服 消毒液",
    "food": "独居老人 家里没有菜了 需要买菜 米面油",
    "transport": "医护人员下夜班 没有车 求接送",
    "special_care": "父母都被隔离 孩子一个人在家 没人照顾",
    "mental": "失眠焦虑 情绪崩溃 需要心理疏导",
    "pets": "主人被隔离 家里猫狗没人喂",
    "other": "咨询 开具证明 其他求助",
}
URGENCY = (("normal", 0.6), ("high", 0.3), ("critical", 0.1))
QUERIES: list[dict[str, Any]] = [
    {},
    {"district": "武昌区"},
    {"need": "food"},
    {"q": "发烧"},
    {"q": "透析", "urgency": "critical"},
    {"district": "江岸区", "need": "bed"},
    {"q": "买菜 老人"},
    {"sort": "recent"},
    {"street": "中南路街道"},
    {"q": "核酸检测", "sort": "relevance"},
    {"since": "2020-02-01", "until": "2020-02-10"},
    {"need": "transport,medicine", "page": "2"},
    # Analysts' aggregations: district × need × day, and the overview counts.
    {"_stats": "grid"},
    {"_stats": "overview", "district": "武昌区"},
]
STATS = {"grid": stats.grid_body, "overview": stats.overview_body}


def generate(count: int, seed: int) -> Iterator[dict[str, Any]]:
    """Yield COUNT analysed posts; about a fifth repeat an earlier request's cluster."""
    rng = random.Random(seed)
    start = datetime(2020, 1, 23, 8, tzinfo=WUHAN)
    recent: list[tuple[str, str]] = []
    for n in range(count):
        district = rng.choice(list(DISTRICTS))
        street = rng.choice(DISTRICTS[district])
        needs = rng.sample(list(NEEDS), k=rng.choice((1, 1, 1, 2)))
        urgency = rng.choices([u for u, _ in URGENCY], [w for _, w in URGENCY])[0]
        posted = start + timedelta(minutes=n * 60 * 24 * 45 / count + rng.random())
        cluster = f"c-{n}"
        if recent and rng.random() < 0.2:
            cluster, district = rng.choice(recent)
        else:
            recent.append((cluster, district))
            recent = recent[-2000:]
        text = " ".join(NEEDS[need] for need in needs)
        yield {
            "id": str(n),
            "source": rng.choice(("weibo", "douban", "forum", "board")),
            "text": f"{district}{street} {text} 电话1{rng.randint(3000000000, 9999999999)}",
            "kind": "request",
            "needs": needs,
            "urgency": urgency,
            "city": "武汉市",
            "district": district if rng.random() > 0.1 else None,
            "street": street,
            "posted_at": posted.isoformat(),
            "cluster": cluster,
        }


def load(client: Any, where: Names, count: int, seed: int) -> None:
    """Bulk-load the generated posts, with cluster sizes and urgencies set as refresh would."""
    ensure(client, where)
    posts = list(generate(count, seed))
    rank = {"critical": 3, "high": 2, "normal": 1}
    size: dict[str, int] = {}
    top: dict[str, int] = {}
    first: dict[str, str] = {}
    for post in posts:
        c = post["cluster"]
        size[c] = size.get(c, 0) + 1
        top[c] = max(top.get(c, 0), rank[post["urgency"]])
        first.setdefault(c, post["id"])
    for post in posts:
        c = post["cluster"]
        post.update(
            cluster_size=size[c], cluster_urgency_rank=top[c], is_canonical=first[c] == post["id"]
        )
    actions = (bulk.update_action(where.requests, crawled_part(p)) for p in posts)
    report = bulk.write(client, actions, chunk_size=2000)
    client.indices.refresh(index=where.requests)
    loaded = client.count(index=where.requests)["count"]
    print(f"loaded {loaded} documents (errors: {dict(report.errors) or 'none'})")


def _filters(query: dict[str, Any]) -> tuple[Filters, dict[str, Any]]:
    from starlette.datastructures import QueryParams

    from api.params import filters, page_options

    params = QueryParams(urlencode(query))
    return filters(params, contacts=True), page_options(params).kwargs()


def _loaded(client: Any, where: Names) -> int:
    if not client.indices.exists(index=where.requests):
        return -1
    return int(client.count(index=where.requests)["count"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000, help="Documents to generate.")
    parser.add_argument("--seed", type=int, default=7, help="Seed of the generator.")
    parser.add_argument("--es", default="http://127.0.0.1:9250", help="Elasticsearch URL.")
    parser.add_argument("--requests", type=int, default=240, help="Queries per client count.")
    parser.add_argument("--keep", action="store_true", help="Keep the bench indices afterwards.")
    parser.add_argument(
        "--prefix",
        help="Index prefix to use (qiuzhu-bench-...); its backlog is reused when it already "
        "holds --docs documents, so a kept run can be measured again without loading.",
    )
    parser.add_argument("--json", type=Path, help="Also write the figures to this JSON file.")
    parser.add_argument(
        "--mix",
        choices=("all", "dispatcher", "analyst"),
        default="all",
        help="Which queries to send: dispatchers' searches, analysts' aggregations, or both.",
    )
    args = parser.parse_args()
    if args.mix != "all":
        analyst = args.mix == "analyst"
        QUERIES[:] = [q for q in QUERIES if ("_stats" in q) == analyst]
    prefix = args.prefix or f"qiuzhu-bench-{uuid.uuid4().hex[:8]}"
    if not prefix.startswith("qiuzhu-bench-"):
        parser.error("--prefix must start with qiuzhu-bench-")
    where = names(prefix)
    client = make_client([args.es], connections_per_node=64, request_timeout=120)
    if _loaded(client, where) == args.docs:
        print(f"reusing {args.docs} documents under {prefix}")
    else:
        began = time.perf_counter()
        drop(client, where)
        load(client, where, args.docs, args.seed)
        print(f"load took {time.perf_counter() - began:.0f} s (prefix {prefix})")
    password = secrets.token_urlsafe(12)
    users.add_user(client, where, "bench", "dispatcher", password, replace=True)
    token = users.create_token(client, where, "bench", days=1)
    port = _free_port()
    env = {**os.environ, "QIUZHU_ES_URLS": args.es, "QIUZHU_INDEX_PREFIX": prefix}
    server = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        # The same HTTP library, pool size and keep-alive as the Elasticsearch client's
        # transport (urllib3), so both paths cost this client the same per request.
        pool = urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=64, block=True)
        auth_header = {"Authorization": f"Bearer {token}"}

        def via_api(query: dict[str, Any]) -> None:
            params = {k: v for k, v in query.items() if k != "_stats"}
            path = f"/api/stats/{query['_stats']}" if "_stats" in query else "/api/requests"
            response = pool.request(
                "GET", f"{path}?{urlencode(params)}", headers=auth_header, timeout=60
            )
            if response.status != 200:
                raise RuntimeError(f"{path} answered {response.status}: {response.data[:200]!r}")
            orjson.loads(response.data)

        # The direct path sends exactly the bodies the API sends, built beforehand, and
        # decodes the answer: no query building or shaping is counted on its side.
        bodies = {}
        for query in QUERIES:
            params = {k: v for k, v in query.items() if k != "_stats"}
            filters, kwargs = _filters(params)
            if "_stats" in query:
                bodies[repr(query)] = STATS[query["_stats"]](filters)
            else:
                bodies[repr(query)] = views.page_body(where, filters, **kwargs)

        def direct(query: dict[str, Any]) -> None:
            client.search(index=where.requests, body=bodies[repr(query)], ignore_unavailable=True)

        for fn in (via_api, direct):  # warm caches and connections
            measure(fn, QUERIES, 4, len(QUERIES))
        print(f"\n{args.docs} documents, {args.requests} queries per run, {len(QUERIES)} queries")
        print(
            f"{'clients':>7} | {'API p50':>8} {'p95':>8} {'p99':>8} | "
            f"{'ES p50':>8} {'p95':>8} {'p99':>8} | p95 ratio | API r/s  ES r/s"
        )
        figures = []
        meter = Meter(client, psutil.Process(server.pid), where.requests)
        cpu_lines = []
        for clients in (1, 5, 20):
            per = max(1, args.requests // clients // 2)
            # Interleaved halves (API, ES, ES, API), so a neighbour's load burst on this
            # shared machine weighs on both sides alike.
            runs: dict[str, list[tuple[list[float], float, dict[str, float]]]] = {
                "api": [],
                "es": [],
            }
            for side in ("api", "es", "es", "api"):
                fn = via_api if side == "api" else direct
                runs[side].append(metered(meter, fn, QUERIES, clients, per))
            api_ms = [t for r in runs["api"] for t in r[0]]
            es_ms = [t for r in runs["es"] for t in r[0]]
            rps = {
                side: len(runs[side]) * clients * per / sum(r[1] for r in runs[side])
                for side in runs
            }
            cpu = {
                side: {
                    part: 1000
                    * sum(r[2][part] for r in runs[side])
                    / (len(runs[side]) * clients * per)
                    for part in ("es", "shard", "api", "bench")
                }
                for side in runs
            }
            print(
                f"{clients:>7} | {pct(api_ms, 50):8.1f} {pct(api_ms, 95):8.1f} "
                f"{pct(api_ms, 99):8.1f} | {pct(es_ms, 50):8.1f} {pct(es_ms, 95):8.1f} "
                f"{pct(es_ms, 99):8.1f} | {pct(api_ms, 95) / pct(es_ms, 95):.2f}x"
                f"  | {rps['api']:7.1f} {rps['es']:7.1f}"
            )
            cpu_lines.append(
                f"{clients:>7} | "
                + " | ".join(
                    f"{cpu[side]['es']:6.1f} {cpu[side]['shard']:6.1f} {cpu[side]['api']:6.1f} "
                    f"{cpu[side]['bench']:6.1f}"
                    for side in ("api", "es")
                )
            )
            figures.append(
                {
                    "clients": clients,
                    "api": {f"p{p}": round(pct(api_ms, p), 1) for p in (50, 95, 99)},
                    "es": {f"p{p}": round(pct(es_ms, p), 1) for p in (50, 95, 99)},
                    "api_rps": round(rps["api"], 1),
                    "es_rps": round(rps["es"], 1),
                    "ratio_p95": round(pct(api_ms, 95) / pct(es_ms, 95), 2),
                    "cpu_ms_per_request": {
                        side: {k: round(v, 2) for k, v in cpu[side].items()} for side in cpu
                    },
                }
            )
        print("(milliseconds; the last two columns are requests/s through the API and direct)")
        print(
            "\nms per request: ES = the node's CPU (other users of the node included), "
            "shard = search time in the bench index's shards, API = CPU of the API's "
            "processes, bench = CPU of this client"
        )
        print(
            f"{'clients':>7} | {'via API: ES':>11} {'shard':>6} {'API':>6} {'bench':>6} | "
            f"{'direct: ES':>10} {'shard':>6} {'API':>6} {'bench':>6}"
        )
        print("\n".join(cpu_lines))
        if args.json:
            args.json.write_text(
                json.dumps({"docs": args.docs, "mix": args.mix, "rows": figures}, indent=2)
            )
    finally:
        server.terminate()
        server.wait(timeout=20)
        if not args.keep:
            drop(client, where)


if __name__ == "__main__":
    main()
