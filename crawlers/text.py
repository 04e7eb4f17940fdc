"""Turn the HTML or messy text a source gives into clean, readable text. No Scrapy here."""

from __future__ import annotations

import html
import re

_BREAK = re.compile(r"<\s*(?:br|/p|/div|/li|/tr|/h\d|p|div|li|tr|h\d)\b[^>]*>", re.IGNORECASE)
_DROP = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"[ \t\f\v\u00a0\u2000-\u200a\u3000\u202f\u205f]+")
_INVISIBLE = re.compile(r"[\u200b-\u200d\u2060\ufeff]")


def clean_text(value: str) -> str:
    """Return VALUE with HTML removed, entities decoded and whitespace normalised.

    Block-level tags and `<br>` become line breaks; runs of spaces (including
    full-width ones) become one space; blank lines go.
    """
    if not value:
        return ""
    text = _DROP.sub(" ", value)
    text = _BREAK.sub("\n", text)
    text = html.unescape(_TAG.sub("", text))
    text = _INVISIBLE.sub("", text)
    lines = (_SPACE.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)
