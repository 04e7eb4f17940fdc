"""Parse the 「肺炎患者求助」 help-request template into named fields.

The template is 【姓名】…【年龄】…【所在城市】…【所在小区、社区】…【患病时间】…【联系方式】…
【其他紧急联系人】…【病情描述】…, but people reorder it, drop fields, run fields together,
use half-width brackets or colons and reword labels. `parse_template` is tolerant of all
of that and never raises on text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

#: Label variants people write, by the field key they fill. The first variant is the
#: template's own label.
FIELD_LABELS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "患者姓名", "病人姓名", "求助人姓名", "求助人", "名字"),
    "age": ("年龄", "患者年龄", "岁数"),
    "gender": ("性别",),
    "city": ("所在城市", "城市", "所在地市", "所在市"),
    "address": (
        "所在小区、社区",
        "所在小区/社区",
        "所在小区，社区",
        "所在小区,社区",
        "所在小区社区",
        "所在小区或社区",
        "小区、社区",
        "所在社区",
        "所在小区",
        "家庭住址",
        "家庭地址",
        "居住地址",
        "详细地址",
        "所在地址",
        "现住址",
        "住址",
        "地址",
    ),
    "onset": ("患病时间", "发病时间", "发病日期", "起病时间", "患病日期"),
    "contact": (
        "联系方式",
        "联系电话",
        "联系人和电话",
        "联系人电话",
        "本人电话",
        "手机号码",
        "手机号",
        "手机",
        "电话",
    ),
    "contact_person": ("联系人",),
    "emergency_contact": (
        "其他紧急联系人",
        "其他紧急联系",
        "紧急联系人",
        "其他联系人",
        "家属联系方式",
        "家属电话",
    ),
    "id_number": ("身份证号码", "身份证号", "身份证"),
    "hospital": ("就诊医院", "所在医院", "就诊情况"),
    "description": (
        "病情描述",
        "病情介绍",
        "病情说明",
        "病情简介",
        "病情",
        "患者情况",
        "病人情况",
        "症状",
    ),
}

#: Fixed text of the template that every templated post carries; stripped before
#: near-duplicate comparison so that templated posts do not all look alike.
TEMPLATE_BOILERPLATE: tuple[str, ...] = (
    "肺炎患者求助超话",
    "求助人信息（若有相关化验单，请上传图片）",
    "求助人信息(若有相关化验单,请上传图片)",
    "求助人信息",
    "若有相关化验单，请上传图片",
)

#: Every label variant and the fixed template text, longest first.
TEMPLATE_LABELS: tuple[str, ...] = tuple(
    sorted(
        {label for labels in FIELD_LABELS.values() for label in labels} | set(TEMPLATE_BOILERPLATE),
        key=len,
        reverse=True,
    )
)

_OPEN = "【\\[［〔〖「"
_CLOSE = "】\\]］〕〗」"
_COLON = ":："
#: A bracketed label the template does not know (【位置】, 【被困人数】 of a rescue sheet):
#: no field of ours, but the end of the field before it.
_OTHER_LABEL = re.compile(rf"[{_OPEN}][^{_OPEN}{_CLOSE}\n]{{1,8}}[{_CLOSE}]")
# Labels shorter than this are taken bare (no bracket) only when a colon follows, since
# words like 病情 or 电话 also occur in running text.
_BARE_MIN = 4


@lru_cache(maxsize=1)
def _label_lookup() -> dict[str, str]:
    return {label: key for key, labels in FIELD_LABELS.items() for label in labels}


@lru_cache(maxsize=1)
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    alternation = "|".join(re.escape(label) for label in TEMPLATE_LABELS)
    bracketed = re.compile(rf"[{_OPEN}]\s*(?P<label>{alternation})\s*[{_CLOSE}]\s*[{_COLON}]?\s*")
    bare = re.compile(rf"(?P<label>{alternation})\s*(?P<colon>[{_COLON}])?\s*")
    return bracketed, bare


def _normalise(text: str) -> str:
    # NFKC turns full-width digits, colons and brackets into their ASCII forms but leaves
    # 【】, so ages and phone numbers come out in one form. The quick check first: most
    # texts reach here already normalised.
    if unicodedata.is_normalized("NFKC", text):
        return text
    return unicodedata.normalize("NFKC", text)


def _clean_value(value: str) -> str:
    return value.strip(" \t\r\n,，。;；、:：|/")


@lru_cache(maxsize=1)
def _boilerplate() -> tuple[str, ...]:
    return tuple(_normalise(boiler) for boiler in TEMPLATE_BOILERPLATE)


@lru_cache(maxsize=8)
def _find_labels(text: str) -> tuple[tuple[int, int, str], ...]:
    """Return (start, end, key) of every label occurrence, without overlaps.

    Cached for the last few texts: parsing and stripping a post both need its labels.
    """
    lookup = _label_lookup()
    bracketed, bare = _patterns()
    found: list[tuple[int, int, str]] = []
    taken: list[tuple[int, int]] = []
    for match in bracketed.finditer(text):
        key = lookup.get(match.group("label"))
        if key:
            found.append((match.start(), match.end(), key))
            taken.append((match.start(), match.end()))
    strong = len(found)
    for match in bare.finditer(text):
        label = match.group("label")
        key = lookup.get(label)
        if not key or any(s <= match.start() < e for s, e in taken):
            continue
        has_colon = match.group("colon") is not None
        # A bare long label without colon counts only inside a post that already uses
        # the template, where it is a field run together with the previous one.
        if has_colon or (len(label) >= _BARE_MIN and strong >= 2):
            found.append((match.start(), match.end(), key))
            taken.append((match.start(), match.end()))
    found.sort()
    return tuple(found)


def parse_template(text: str) -> dict[str, str]:
    """Return the template fields found in TEXT, by key (name, age, city, address, ...).

    Keys are those of `FIELD_LABELS` plus `preamble` (text before the first label).
    A field given twice keeps its first non-empty value. Text without any template
    label gives an empty dict.
    """
    if not isinstance(text, str) or not text:
        return {}
    norm = _normalise(text)
    labels = _find_labels(norm)
    if not labels:
        return {}
    fields: dict[str, str] = {}
    preamble = _clean_value(norm[: labels[0][0]])
    for boiler in _boilerplate():
        preamble = preamble.replace(boiler, "")
    preamble = _clean_value(preamble)
    if preamble:
        fields["preamble"] = preamble
    raw: dict[str, str] = {}
    previous = ""
    known = {start for start, _, _ in labels}
    others = [m.start() for m in _OTHER_LABEL.finditer(norm) if m.start() not in known]
    for index, (start, end, key) in enumerate(labels):
        stop = labels[index + 1][0] if index + 1 < len(labels) else len(norm)
        stop = next((at for at in others if end <= at < stop), stop)
        if raw.get(key) and previous:
            # A label seen again is usually running text ("父亲症状：…") inside the
            # previous field: keep it there rather than cutting that field short.
            raw[previous] += norm[start:stop]
        elif _clean_value(norm[end:stop]):
            raw[key] = norm[end:stop]
            previous = key
    fields.update((key, _clean_value(value)) for key, value in raw.items())
    return fields


def blank_labels(text: str) -> str:
    """Return normalised TEXT with its template labels blanked out, offsets unchanged.

    A label such as 【病情描述】 says nothing about this post: its words (病情) must not
    read as cues.
    """
    norm = _normalise(text)
    labels = _find_labels(norm)
    if not labels:
        return norm
    pieces: list[str] = []
    last = 0
    for start, end, _ in labels:
        pieces.append(norm[last:start])
        pieces.append(" " * (end - start))
        last = end
    pieces.append(norm[last:])
    return "".join(pieces)


def strip_template(text: str) -> str:
    """Return TEXT without the template's labels and fixed boilerplate."""
    norm = _normalise(text)
    pieces: list[str] = []
    last = 0
    # The labels of the whole text (parse_template found them already): the label
    # pattern takes the boilerplate whole, so no label is found inside it.
    for start, end, _ in _find_labels(norm):
        pieces.append(norm[last:start])
        pieces.append(" ")
        last = end
    pieces.append(norm[last:])
    stripped = "".join(pieces)
    for boiler in _boilerplate():
        stripped = stripped.replace(boiler, " ")
    return stripped
