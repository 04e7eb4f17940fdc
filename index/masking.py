"""The last line of defence before a post leaves the index layer for a role without contacts.

`text_masked` holds the post with its personal data masked by the NLP stage
(`classify.personal.mask_text`: phone, ID-card and house numbers, and the names
`classify.names` found). Whatever a stored document holds, every view, export and table
for a role that may not see contact data passes through `scrub`, which applies the same
masking again with the post's own names, and masks any other long run of digits. Log lines
and error messages pass `mask_numbers`, the same masking of numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from classify.personal import mask_numbers, mask_text, person_names

__all__ = ["has_contact_digits", "mask_numbers", "masked_fields", "remask", "scrub"]

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
    """Return TEXT masked for a role without contact rights, with the post's NAMES."""
    if not text:
        return ""
    text = mask_text(text.translate(_FOLD), names)
    # Digits no phone or ID pattern recognised (a number typed oddly) are masked too.
    return _LONG_DIGITS.sub(_mask_digits, text)


def masked_fields(text: str, template: dict[str, Any], names: Iterable[str] = ()) -> MaskedPost:
    """Return the names and `text_masked` of a post's TEXT, finding the names itself.

    For a post that comes without them (loaded from an older `qiuzhu analyze`, or copied
    by a migration from a backlog masked before names in free text were found): NAMES
    already known are kept, the names `classify.names` finds in TEXT added.
    """
    from classify.nlp import normalise

    found = person_names(normalise(text), {k: str(v) for k, v in template.items() if v})
    merged = list(dict.fromkeys([*names, *found]))
    return MaskedPost(merged, mask_text(text, merged))


@dataclass(frozen=True)
class MaskedPost:
    """A post's names of private persons and its masked text."""

    names: list[str]
    text_masked: str


def remask(source: dict[str, Any]) -> dict[str, Any]:
    """Return a stored document SOURCE with its names and `text_masked` found again."""
    text = source.get("text")
    if not text:
        return source
    personal = dict(source.get("personal") or {})
    template = {**(source.get("template") or {}), "name": personal.get("template_name") or ""}
    masked = masked_fields(text, template, personal.get("names") or [])
    personal["names"] = masked.names
    return {**source, "personal": personal, "text_masked": masked.text_masked}


def has_contact_digits(text: str) -> bool:
    """Return whether TEXT holds something that looks like a phone or ID-card number."""
    text = text.translate(_FOLD)
    return any(p.search(text) for p in (_ID, _PHONE, _LONG_DIGITS))
