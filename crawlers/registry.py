"""The source registry: every place qiuzhu crawls, declared as data in a YAML file.

Adding a site of an existing kind is an edit of that file. `load_sources()` checks every
entry and raises `ConfigError` naming the source and the field of the first mistake.
Strings may hold `${VAR}`: a declared qiuzhu setting (`${QIUZHU_DEMO_SITE_URL}`) or any
environment variable, so the bundled sources can point at a demo site on any port.
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from lxml import etree
from parsel.csstranslator import HTMLTranslator

from qiuzhu import settings
from qiuzhu.errors import ConfigError

KINDS = ("weibo", "feed", "html", "message_board", "spreadsheet")
#: How a paged source lists its posts (`order:`); see `crawlers.paging`.
ORDERS = ("newest_first", "oldest_first", "unordered")
#: Kinds whose lists come in pages; feeds and sheets are read whole, so order is moot.
PAGED = ("weibo", "html", "message_board")
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Source:
    """One registry entry: where a source is, how to read it and how fast."""

    id: str
    kind: str
    start_urls: tuple[str, ...]
    enabled: bool = True
    encoding: str = ""
    download_delay: float = 0.5
    concurrency: int = 2
    timeout: float = 30.0
    overlap_hours: float = 24.0
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def order(self) -> str:
        """Return how the source lists its posts: one of ORDERS ("" for kinds read whole)."""
        if self.kind not in PAGED:
            return ""
        return str(self.options.get("order", "newest_first"))

    @property
    def full_read_hours(self) -> float | None:
        """Return the hours between full re-reads of every list page, or None for never.

        Unordered sources have them by default (CRAWL_FULL_READ_HOURS); others only when
        the registry asks for them.
        """
        hours = self.options.get("full_read_hours")
        if hours is None and self.order == "unordered":
            return float(settings.get("CRAWL_FULL_READ_HOURS"))
        return None if hours is None else float(hours)

    @property
    def max_pages(self) -> int | None:
        """Return the most list pages one crawl reads, or None for no limit."""
        value = self.options.get("max_pages")
        return int(value) if value is not None else None


class _Invalid(Exception):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field_name = field_name
        self.message = message


# --- validators: each returns the checked value or raises _Invalid -------------------


def _str(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(name, "expected a non-empty string")
    return value


def _url(name: str, value: Any) -> str:
    text = _str(name, value)
    if not text.startswith(("http://", "https://", "file://")):
        raise _Invalid(name, f"{text!r} is not an http://, https:// or file:// URL")
    return text


def _url_template(name: str, value: Any) -> str:
    text = _url(name, value)
    if "{id}" not in text:
        raise _Invalid(name, "expected a URL with an {id} placeholder")
    return text


def _selector(name: str, value: Any) -> str:
    text = _str(name, value)
    how, _, expr = text.partition(":") if text.startswith(("css:", "xpath:")) else ("css", "", text)
    try:
        if how == "xpath":
            etree.XPath(expr)
        else:
            HTMLTranslator().css_to_xpath(expr)
    except Exception as exc:  # cssselect and lxml raise several unrelated types
        raise _Invalid(name, f"{text!r} is not a valid {how} selector ({exc})") from None
    return text


def _regex(name: str, value: Any) -> str:
    text = _str(name, value)
    try:
        pattern = re.compile(text)
    except re.error as exc:
        raise _Invalid(name, f"{text!r} is not a valid regular expression ({exc})") from None
    if pattern.groups != 1:
        raise _Invalid(name, "expected a regular expression with exactly one group")
    return text


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _Invalid(name, "expected a whole number of 1 or more")
    return value


def _hours(name: str, value: Any) -> float:
    return _number(name, value, 0.0)


def _str_map(name: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str | int) for v in value.values()):
        raise _Invalid(name, "expected a mapping of names to strings")
    return {str(k): str(v) for k, v in value.items()}


def _str_list(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _Invalid(name, "expected a list of non-empty strings")
    return list(value)


def _choice(*allowed: str) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        if value not in allowed:
            raise _Invalid(name, f"expected one of {', '.join(allowed)}")
        return str(value)

    return check


Validator = Callable[[str, Any], Any]
# Per kind: option -> (required, validator). Nested mappings are checked key by key.
_Schema = dict[str, tuple[bool, Any]]

_ITEM_FIELDS = ("title", "author", "posted_at", "text", "images")
_PAGING: _Schema = {
    "order": (False, _choice(*ORDERS)),
    "full_read_hours": (False, _hours),
    "max_pages": (False, _positive_int),
}
_HTML: _Schema = {
    **_PAGING,
    "list": (
        True,
        {
            "rows": (True, _selector),
            "link": (True, _selector),
            "next_page": (False, _selector),
            "title": (False, _selector),
            "author": (False, _selector),
            "posted_at": (False, _selector),
        },
    ),
    "id_pattern": (True, _regex),
    "fields": (True, {name: (name == "text", _selector) for name in _ITEM_FIELDS}),
}
_BOARD_FIELDS = ("id", "title", "text", "author", "posted_at", "reply_state")
_MESSAGE_BOARD: _Schema = {
    **_PAGING,
    "detail_url": (True, _url_template),
    "form": (
        True,
        {
            "page_field": (True, _str),
            # Only for a site that takes a page size; paging never relies on it.
            "size_field": (False, _str),
            "page_size": (False, _positive_int),
            "extra": (False, _str_map),
        },
    ),
    "items_path": (True, _str),
    "detail_path": (False, _str),
    "fields": (True, {name: (name in {"id", "text"}, _str) for name in _BOARD_FIELDS}),
    "reply_states": (False, _str_map),
}
_SHEET_COLUMNS = (
    "source_id",
    "title",
    "author",
    "posted_at",
    "text",
    "name",
    "age",
    "city",
    "address",
    "onset",
    "contact",
    "emergency_contact",
)
_SPREADSHEET: _Schema = {
    "path": (False, _str),
    "format": (False, _choice("csv", "xlsx")),
    "sheet": (False, _str),
    "columns": (True, {name: (name == "text", _str) for name in _SHEET_COLUMNS}),
    # Further column headers whose values follow the text as 【header】value (被困人数).
    "details": (False, _str_list),
}
_SCHEMAS: dict[str, _Schema] = {
    "weibo": {
        **_PAGING,
        "long_text_url": (True, _url_template),
        "status_url": (False, _url_template),
    },
    "feed": {},
    "html": _HTML,
    "message_board": _MESSAGE_BOARD,
    "spreadsheet": _SPREADSHEET,
}
_COMMON = {
    "id",
    "kind",
    "enabled",
    "start_urls",
    "encoding",
    "rate_limit",
    "timeout",
    "overlap_hours",
}


def _check(schema: _Schema, data: Any, prefix: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _Invalid(prefix.rstrip("."), "expected a mapping")
    unknown = sorted(set(data) - set(schema))
    if unknown:
        raise _Invalid(prefix + unknown[0], f"unknown field; expected one of {', '.join(schema)}")
    out: dict[str, Any] = {}
    for key, (required, rule) in schema.items():
        if key not in data or data[key] is None:
            if required:
                raise _Invalid(prefix + key, "is required")
            continue
        out[key] = (
            _check(rule, data[key], f"{prefix}{key}.")
            if isinstance(rule, dict)
            else rule(prefix + key, data[key])
        )
    return out


def _substitute(value: Any, name: str) -> Any:
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            var = match.group(1)
            declared = var.removeprefix("QIUZHU_")
            if var.startswith("QIUZHU_") and declared in {s.name for s in settings.SETTINGS}:
                return str(settings.get(declared)).rstrip("/")
            if var in os.environ:
                return os.environ[var]
            raise _Invalid(name, f"${{{var}}} is neither a qiuzhu setting nor set")

        return _VAR.sub(repl, value)
    if isinstance(value, list):
        return [_substitute(v, f"{name}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _substitute(v, f"{name}.{k}" if name else str(k)) for k, v in value.items()}
    return value


def _number(name: str, value: Any, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _Invalid(name, "expected a number of 0 or more")
    return float(value)


def _source(entry: Any, base: Path, defaults: dict[str, Any]) -> Source:
    if not isinstance(entry, dict):
        raise _Invalid("", "expected a mapping with at least id and kind")
    merged = {**defaults, **entry}
    kind = merged.get("kind")
    if kind not in KINDS:
        raise _Invalid("kind", f"expected one of {', '.join(KINDS)}")
    options = {k: v for k, v in merged.items() if k not in _COMMON}
    data = _substitute({k: v for k, v in merged.items() if k in _COMMON}, "")
    for key in _PAGING:
        if key in options and kind not in PAGED:
            raise _Invalid(key, f"a {kind} source is read whole; {key} is for {', '.join(PAGED)}")
    options = _check(_SCHEMAS[kind], _substitute(options, ""), "")
    if kind == "message_board":
        form = options["form"]
        if ("size_field" in form) != ("page_size" in form):
            missing = "page_size" if "size_field" in form else "size_field"
            raise _Invalid(f"form.{missing}", "size_field and page_size go together")
    urls = data.get("start_urls") or []
    if isinstance(urls, str):
        urls = [urls]
    if kind == "spreadsheet" and "path" in options:
        path = Path(options["path"]).expanduser()
        urls = [*urls, (path if path.is_absolute() else (base / path).resolve()).as_uri()]
    if not urls:
        raise _Invalid("start_urls", "expected one URL or a list of URLs")
    start_urls = tuple(_url(f"start_urls[{i}]", u) for i, u in enumerate(urls))
    encoding = data.get("encoding") or ""
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise _Invalid("encoding", f"{encoding!r} is not an encoding Python knows") from None
    rate = data.get("rate_limit") or {}
    if not isinstance(rate, dict) or set(rate) - {"delay", "concurrency"}:
        raise _Invalid("rate_limit", "expected a mapping with delay and/or concurrency")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise _Invalid("enabled", "expected true or false")
    return Source(
        id=str(data["id"]),
        kind=kind,
        start_urls=start_urls,
        enabled=enabled,
        encoding=encoding,
        download_delay=_number("rate_limit.delay", rate.get("delay"), 0.5),
        concurrency=_positive_int("rate_limit.concurrency", rate.get("concurrency", 2)),
        timeout=_number("timeout", data.get("timeout"), 30.0),
        overlap_hours=_number(
            "overlap_hours", data.get("overlap_hours"), settings.get("CRAWL_OVERLAP_HOURS")
        ),
        options=options,
    )


def load_sources(path: Path | str | None = None) -> dict[str, Source]:
    """Read and check the registry at PATH (default: the CRAWL_SOURCES setting).

    Returns:
        The sources by id, in file order.

    Raises:
        ConfigError: the file is missing or not YAML, or an entry is wrong; the message
            names the source and the field.
    """
    file = Path(path) if path is not None else Path(settings.get("CRAWL_SOURCES"))
    try:
        doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the source registry {file}: {exc.strerror}.") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file} is not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("sources"), list):
        raise ConfigError(f"{file}: expected a mapping with a `sources:` list.")
    defaults = doc.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ConfigError(f"{file}: `defaults:` must be a mapping.")
    sources: dict[str, Source] = {}
    for index, entry in enumerate(doc["sources"]):
        sid = entry.get("id") if isinstance(entry, dict) else None
        label = f"source {sid!r}" if sid else f"source #{index + 1}"
        try:
            if not isinstance(sid, str) or not _ID.match(sid):
                raise _Invalid("id", "expected lower-case letters, digits, - and _")
            if sid in sources:
                raise _Invalid("id", "is used by an earlier source too")
            sources[sid] = _source(entry, file.parent, defaults)
        except _Invalid as exc:
            where = f", field {exc.field_name!r}" if exc.field_name else ""
            raise ConfigError(f"{file}: {label}{where}: {exc.message}.") from None
    return sources


def select_sources(
    sources: Mapping[str, Source], ids: list[str] | tuple[str, ...] | None
) -> list[Source]:
    """Return the sources named by IDS, or every enabled source when IDS is empty.

    Raises:
        ConfigError: an id is not in the registry.
    """
    if not ids:
        return [s for s in sources.values() if s.enabled]
    unknown = [i for i in ids if i not in sources]
    if unknown:
        raise ConfigError(
            f"unknown source {unknown[0]!r}; `qiuzhu sources` lists them: {', '.join(sources)}."
        )
    return [sources[i] for i in ids]
