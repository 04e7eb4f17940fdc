"""Settings: parsed with clear errors, and every one documented in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qiuzhu import settings
from qiuzhu.errors import ConfigError

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_setting_is_in_the_readme_table_with_its_default():
    text = README.read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(QIUZHU_[A-Z0-9_]+)` \| `([^`]*)` \|", text, re.M))
    for decl in settings.SETTINGS:
        assert decl.env in rows, f"{decl.env} is not in the README's settings table"
        default = (
            decl.default.replace(str(settings.ROOT), ".").replace(str(settings.ROOT.parent), "..")
            if decl.default
            else "(empty)"
        )
        assert rows[decl.env] == default, f"{decl.env}: README says {rows[decl.env]!r}"


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("ES_URLS", "localhost:9200", "not an http"),
        ("ES_URLS", " , ", "expected one URL"),
        ("ES_HTTP_PORT", "ninety", "QIUZHU_ES_HTTP_PORT='ninety' is not valid"),
        ("ES_START_TIMEOUT", "soon", "not valid"),
        # -1 would never publish a deletion mark or a summary nobody refreshed.
        ("INDEX_REFRESH_INTERVAL", "-1", "expected a time such as 30s"),
        ("INDEX_REFRESH_INTERVAL", "often", "expected a time such as 30s"),
    ],
)
def test_bad_values_name_the_variable(monkeypatch, name, raw, message):
    monkeypatch.setenv(f"QIUZHU_{name}", raw)
    with pytest.raises(ConfigError, match=message):
        settings.get(name)


def test_url_list_is_split_and_trimmed(monkeypatch):
    monkeypatch.setenv("QIUZHU_ES_URLS", "http://127.0.0.1:9200/, http://127.0.0.1:9201")
    assert settings.get("ES_URLS") == ["http://127.0.0.1:9200", "http://127.0.0.1:9201"]
