"""Run every benchmark and write one Markdown report with its charts.

Runs, each in its own process so the figures do not disturb one another:
`bench.ingest_bench` (the whole pipeline beside raw bulk indexing, at each size) and
`bench.search_bench` (API beside direct Elasticsearch, at 1, 5 and 20 clients). Writes
`reports/bench-<time>/report.md` with the tables, `ingest.png` (posts/s against backlog
size) and `latency.png` (p50/p95 against concurrency). `reports/` is outside git.

Run: .venv/bin/python -m bench.report [--sizes 10000,100000] [--docs 100000]
Needs Elasticsearch at QIUZHU_ES_URLS (`qiuzhu es start`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qiuzhu import settings


def _run(module: str, *args: str) -> None:
    print(f"$ python -m {module} {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, "-m", module, *args], check=True)


def ingest_chart(rows: list[dict[str, Any]], path: Path) -> None:
    """Draw posts/s of the whole pipeline and of raw bulk against the backlog size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["posts"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4))
    ax.plot(sizes, [r["pipeline_rate"] for r in rows], "o-", label="qiuzhu pipeline, whole run")
    ax.plot(sizes, [r["raw_rate"] for r in rows], "s--", label="raw streaming_bulk")
    for r in rows:
        # The rate over each tenth of a run, at the backlog size it had reached.
        if r.get("segments"):
            backlog = [n for n, _ in r["segments"]]
            rates = [rate for _, rate in r["segments"]]
            ax.plot(backlog, rates, ".:", label=f"pipeline during the {r['posts']:,} run")
    ax.set_xscale("log")
    ax.set_xlabel("posts ingested (backlog size)")
    ax.set_ylabel("posts per second")
    ax.set_title("Ingest rate against backlog size")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def latency_chart(rows: list[dict[str, Any]], path: Path) -> None:
    """Draw p50 and p95 of the API and of direct Elasticsearch against concurrency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clients = [r["clients"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for side, style in (("api", "-"), ("es", "--")):
        label = "API" if side == "api" else "Elasticsearch direct"
        for p, marker in (("p50", "o"), ("p95", "s")):
            ax.plot(clients, [r[side][p] for r in rows], marker + style, label=f"{label} {p}")
    ax.set_xlabel("concurrent clients")
    ax.set_ylabel("latency (ms)")
    ax.set_xticks(clients)
    ax.set_title("Search latency against concurrency")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def markdown(ingest: list[dict[str, Any]], searches: list[dict[str, Any]], took: float) -> str:
    """Return the report's Markdown."""
    from bench.ingest_bench import IngestFigures, format_segments, format_table

    lines = [
        f"# qiuzhu benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python "
        f"{platform.python_version()}, Elasticsearch {settings.get('ES_VERSION')} at "
        f"{', '.join(settings.get('ES_URLS'))}; load average at the end "
        f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}. All runs took {took / 60:.1f} min.",
        "",
        "## Ingest: analyze → dedup against the backlog → bulk index",
        "",
        "Beside the same final documents sent with `helpers.streaming_bulk` alone, in the same "
        "run; ratio = pipeline rate / raw rate.",
        "",
        format_table([IngestFigures(**row) for row in ingest]),
        "",
        "Rate against the backlog size (near-linear cost keeps it flat):",
        "",
        format_segments([IngestFigures(**row) for row in ingest]),
        "",
        "![ingest rate](ingest.png)",
        "",
    ]
    mixes = {"dispatcher": "dispatchers' searches", "all": "searches and analysts' aggregations"}
    for search in searches:
        lines += [
            f"## Search through the API beside direct Elasticsearch: {mixes[search['mix']]} "
            f"({search['docs']:,} documents)",
            "",
            "| clients | API p50 | API p95 | API p99 | ES p50 | ES p95 | ES p99 | p95 ratio |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in search["rows"]:
            lines.append(
                f"| {r['clients']} | {r['api']['p50']} | {r['api']['p95']} | {r['api']['p99']} | "
                f"{r['es']['p50']} | {r['es']['p95']} | {r['es']['p99']} | {r['ratio_p95']:.2f}× |"
            )
        lines.append("")
    lines += ["Milliseconds; the chart shows the second mix. ![latency](latency.png)", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="10000,100000",
        help="Ingest sizes, comma-separated (add 1000000 for the full run).",
    )
    parser.add_argument(
        "--docs", type=int, default=100_000, help="Backlog size for the search benchmark."
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=settings.ROOT / "reports",
        help="Folder the report folder is written under.",
    )
    args = parser.parse_args(argv)
    folder = args.out / f"bench-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    folder.mkdir(parents=True)
    began = time.monotonic()
    _run("bench.ingest_bench", "--sizes", args.sizes, "--json", str(folder / "ingest.json"))
    es = settings.get("ES_URLS")[0]
    for mix in ("dispatcher", "all"):
        _run(
            "bench.search_bench",
            "--docs",
            str(args.docs),
            "--es",
            es,
            "--mix",
            mix,
            "--json",
            str(folder / f"search-{mix}.json"),
        )
    ingest = json.loads((folder / "ingest.json").read_text())
    searches = [
        json.loads((folder / f"search-{mix}.json").read_text()) for mix in ("dispatcher", "all")
    ]
    ingest_chart(ingest, folder / "ingest.png")
    latency_chart(searches[-1]["rows"], folder / "latency.png")
    report = folder / "report.md"
    report.write_text(markdown(ingest, searches, time.monotonic() - began), encoding="utf-8")
    print(f"Report: {report}")
    return report


if __name__ == "__main__":
    main()
