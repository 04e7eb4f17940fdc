"""Find and mask personal data: phone, ID-card and house numbers, and names (classify.names)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

# Full-width digits and signs to ASCII, one character for one so offsets stay valid.
_WIDTH = str.maketrans("０１２３４５６７８９＋－　", "0123456789+- ")
_SEP = r"[-\s]?"
_MOBILE = re.compile(
    rf"(?<![\d])(?:(?:\+|00)?86{_SEP})?(1[3-9]\d){_SEP}(\d{{4}}){_SEP}(\d{{4}})(?![\d])"
)
_LANDLINE = re.compile(r"(?<![\d])(?:\(?(0\d{2,3})\)?[-\s]?)(\d{3,4})[-\s]?(\d{4})(?![\d])")
# The "no digit before" check follows the first digit, so the pattern starts with a
# digit class and the regex engine skips ahead to digits instead of trying every position.
_ID_CARD = re.compile(r"(\d(?<!\d\d)\d{5})(\d{8})(\d{3}[\dXx])(?![\dXx])")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_NAME = re.compile(r"^[\u4e00-\u9fff·]{2,5}$")
_NAME_NOISE = re.compile(r"[（(][^)）]*[)）]|先生|女士|老人|患者|病人|之子|之女")


_WIDE = re.compile("[０-９＋－　]")
_DIGIT = re.compile("[0-9０-９]")


def _ascii(text: str) -> str:
    # Most texts have no full-width digit or sign, and searching is far cheaper than
    # translating every character.
    return text.translate(_WIDTH) if _WIDE.search(text) else text


def id_checksum_ok(number: str) -> bool:
    """Return whether an 18-character ID-card number has a valid check character."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def _spans(text: str) -> list[tuple[int, int, str, str]]:
    """Return (start, end, kind, digits) of phone and ID numbers in ASCII-folded TEXT."""
    found: list[tuple[int, int, str, str]] = []
    for match in _ID_CARD.finditer(text):
        number = "".join(match.groups())
        if id_checksum_ok(number):
            found.append((match.start(), match.end(), "id", number.upper()))
    taken = [(s, e) for s, e, _, _ in found]
    for regex, kind in ((_MOBILE, "mobile"), (_LANDLINE, "landline")):
        for match in regex.finditer(text):
            if any(s < match.end() and match.start() < e for s, e in taken):
                continue
            digits = "".join(g for g in match.groups() if g)
            if kind == "landline" and not 10 <= len(digits) <= 12:
                continue
            found.append((match.start(), match.end(), kind, digits))
            taken.append((match.start(), match.end()))
    return sorted(found)


def mask_number(kind: str, digits: str) -> str:
    """Return the display form of a number: 138****1234, 027-****5678, 420102********1234."""
    if kind == "mobile":
        return f"{digits[:3]}****{digits[-4:]}"
    if kind == "landline":
        area = 3 if digits[:2] in {"01", "02"} else 4
        return f"{digits[:area]}-****{digits[-4:]}"
    return f"{digits[:6]}********{digits[-4:]}"


def number_spans(text: str) -> list[tuple[int, int, str, str]]:
    """Return (start, end, kind, digits) of the phone and ID numbers of TEXT, in order."""
    return _spans(_ascii(text))


def scan_numbers(
    text: str, spans: list[tuple[int, int, str, str]] | None = None
) -> tuple[list[str], list[str], list[str]]:
    """Return (phone digits, masked phones, ID-card numbers) of TEXT in one pass, each unique.

    SPANS (from `number_spans`) may be given when the caller has them already.
    """
    if spans is None:
        spans = _spans(_ascii(text))
    phones = [d for _, _, kind, d in spans if kind != "id"]
    masked = [mask_number(kind, d) for _, _, kind, d in spans if kind != "id"]
    ids = [d for _, _, kind, d in spans if kind == "id"]
    return list(dict.fromkeys(phones)), list(dict.fromkeys(masked)), list(dict.fromkeys(ids))


def find_phones(text: str) -> list[str]:
    """Return the phone numbers in TEXT as digits, mobile without +86, in order, unique."""
    found = [d for _, _, kind, d in _spans(_ascii(text)) if kind != "id"]
    return list(dict.fromkeys(found))


def find_id_numbers(text: str) -> list[str]:
    """Return the valid 18-character ID-card numbers in TEXT, in order, unique."""
    return list(dict.fromkeys(d for _, _, kind, d in _spans(_ascii(text)) if kind == "id"))


def masked_phones(text: str) -> list[str]:
    """Return the phone numbers of TEXT in their masked display form."""
    out = [mask_number(kind, d) for _, _, kind, d in _spans(_ascii(text)) if kind != "id"]
    return list(dict.fromkeys(out))


_ANY_DIGIT = re.compile(r"[0-9０-９XxＸｘ]")


def _keep_three(number: str) -> str:
    """Return NUMBER as written with all but its first three digits masked: 138-****-****.

    A mobile prefix or an area code says nothing of a person; the last digits would help
    to tell who it is. Separators stay, so the text keeps its length and shape.
    """
    seen = 0
    out = []
    for char in number:
        if _ANY_DIGIT.match(char):
            seen += 1
            out.append(char if seen <= 3 else "*")
        else:
            out.append(char)
    return "".join(out)


def mask_numbers(text: str) -> str:
    """Return TEXT with its phone, ID-card and house numbers masked, as `mask_text` does."""
    if not text or not _DIGIT.search(text):
        return text
    return mask_text(text)


def clean_name(value: str) -> str:
    """Return the person name in a template name field, or "" when it is not one."""
    value = _NAME_NOISE.sub("", value or "").strip(" ,，。、:：")
    value = re.split(r"[\s,，、/;；]", value)[0] if value else ""
    return value if _NAME.match(value) else ""


def names_from_template(fields: dict[str, str]) -> list[str]:
    """Return the names of private persons given in template fields."""
    names = []
    for key in ("name", "contact_person"):
        name = clean_name(fields.get(key, ""))
        if name and name not in names:
            names.append(name)
    return names


def person_names(
    text: str, fields: dict[str, str] | None = None, words: Sequence[str] | None = None
) -> list[str]:
    """Return the names of private persons in a post: template fields first, then free text.

    TEXT is the normalised post, WORDS its jieba words when the caller has them. Title
    references (王先生, 老李) are among the names; `mask_name` masks their surname.
    """
    from classify.names import find_names

    names = names_from_template(fields or {})
    for name in find_names(text, words, names).all:
        if name not in names:
            names.append(name)
    return names


def mask_name(name: str) -> str:
    """Return NAME masked: all but its first character (陈**), or a title's surname (*先生)."""
    from classify.names import mask_reference

    return mask_reference(name)


# Below the community: 7栋2单元302, 3号楼1单元, 2-1-502, 1201室. A building alone stays.
_HOUSE = re.compile(
    r"(?:[0-9一二三四五六七八九十零〇]+\s*(?:号楼|栋|幢|座|单元|楼|层|号|室|户)\s*){2,}(?:[0-9]{2,4}(?![0-9]))?"
    r"|(?<![0-9-])[0-9]{1,3}-[0-9]{1,2}-[0-9]{2,4}(?![0-9-])"
    r"|(?<![0-9])[0-9]{3,4}\s*(?:室|房|户)"
)
_HOUSE_DIGIT = re.compile(r"[0-9一二三四五六七八九十零〇]")


def mask_house_numbers(text: str) -> str:
    """Return TEXT with building, unit and room numbers masked (7栋2单元302 -> *栋*单元***)."""
    if not _DIGIT_OR_NUMERAL.search(text):
        return text
    return _HOUSE.sub(lambda match: _HOUSE_DIGIT.sub("*", match.group()), text)


_DIGIT_OR_NUMERAL = re.compile(
    r"[0-9一二三四五六七八九十零〇]\s*(?:号楼|栋|幢|座|单元|楼|层|号|室|户|房|-)"
)


def mask_text(
    text: str, names: Iterable[str] = (), spans: list[tuple[int, int, str, str]] | None = None
) -> str:
    """Return TEXT with phone, ID-card and house numbers and the given NAMES masked.

    Numbers keep their first three digits (138-****-****, 420***************). SPANS
    (from `number_spans`) may be given when the caller has them already. This is the
    masking of every way out for a role without contact rights: `text_masked`, the index
    layer's views, exports and tables, and every log line (numbers only).
    """
    if not text:
        return text
    if spans is None:
        spans = _spans(_ascii(text))
    pieces: list[str] = []
    last = 0
    for start, end, _, _ in spans:
        pieces.append(text[last:start])
        pieces.append(_keep_three(text[start:end]))
        last = end
    pieces.append(text[last:])
    masked = mask_house_numbers("".join(pieces))
    for name in sorted({n for n in names if n and len(n) >= 2}, key=len, reverse=True):
        if name in masked:
            masked = masked.replace(name, mask_name(name))
    return masked
