"""The last line of defence before a post leaves the index layer for a role without contacts.

`text_masked` is meant to hold the post with its contact data masked, but a post loaded
without that field carries its raw text there. Whatever the NLP stage did, a view for a
role that may not see contact data passes through `scrub`: phone numbers, ID-card numbers
and the names found in the post are masked again here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Full-width digits are folded first so that ０２７-８８８８８８８８ is seen as digits.
_FOLD = str.maketrans("０１２３４５６７８９－＋Ｘｘ", "0123456789-+Xx")
_ID = re.compile(r"(?<!\d)\d{6}(?:19|20)\d{2}[01]\d[0-3]\d\d{3}[\dXx](?!\d)")
# Mobile and landline numbers, with the separators people type inside them.
_PHONE = re.compile(
    r"(?<!\d)(?:\+?86[-\s]?)?(?:1[3-9]\d(?:[-\s]?\d){8}|0\d{2,3}[-\s]?\d{7,8})(?!\d)"
)
_LONG_DIGITS = re.compile(r"(?<!\d)\d{7,}(?!\d)")


def _mask_digits(match: re.Match[str]) -> str:
    # Keep the first three digits (a mobile prefix or area code says nothing of a person).
    value = match.group(0)
    digits = [i for i, c in enumerate(value) if c.isdigit()]
    keep = set(digits[:3])
    return "".join(c if (i in keep or not c.isdigit()) else "*" for i, c in enumerate(value))


def scrub(text: str | None, names: Iterable[str] = ()) -> str:
    """Return TEXT with phone numbers, ID-card numbers, long digit runs and NAMES masked."""
    if not text:
        return ""
    text = text.translate(_FOLD)
    for pattern in (_ID, _PHONE, _LONG_DIGITS):
        text = pattern.sub(_mask_digits, text)
    for name in sorted({n for n in names if n and len(n) >= 2}, key=len, reverse=True):
        text = text.replace(name, name[0] + "*" * (len(name) - 1))
    return text


def has_contact_digits(text: str) -> bool:
    """Return whether TEXT holds something that looks like a phone or ID-card number."""
    text = text.translate(_FOLD)
    return any(p.search(text) for p in (_ID, _PHONE, _LONG_DIGITS))
