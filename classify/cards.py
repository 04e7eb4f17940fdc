"""Dedup cards: what a duplicate decision reads of a backlog post, in a few hundred bytes.

The backlog keeps each post's card as a binary doc value (`dedup_card`), so the writer
fetches duplicate candidates without loading their source, and compares them without
computing their signatures from the text again (`index.clusters`).
"""

from __future__ import annotations

import re
import struct
from typing import Any

import numpy as np

from classify.dedup import BANDS, NUM_PERM, person_facts, post_signature, text_length
from classify.episodes import facts

#: Version 2 adds the episode facts; version 1 cards (without them) are still read.
_CARD_VERSION = 2
_READS = (1, 2)
_CARD_HEAD = struct.Struct("<BBHI6s6s6sB")  # version, flags, LSH bands kept, text length,
# name digest, name-and-age digest, text digest, phone keys kept
_EPISODE = struct.Struct("<BH3Q")  # kind, subjects, district, street and community codes
_NAMED, _AGED, _TEXT_KEY, _PERSON_KEY, _NAME_KEY = 1, 2, 4, 8, 16
_LSH = 5  # bytes of an LSH band's key


#: The keys `dedup_keys` makes, packed in binary in a card: kind, band, hex digest.
_PACKABLE = re.compile(r"(lsh):(1[0-5]|[0-9]):([0-9a-f]{10})|(text|phone):()([0-9a-f]{12})")


def card(post: dict[str, Any]) -> bytes:
    """Return the dedup card of analysed POST, whose `dedup_keys` are the keys it stores.

    The card holds its signature, text length, person digests and stored keys: everything
    `same_episode` and `index.clusters.assign` read of a candidate (see `from_card`).
    Keys this module makes are packed in binary; any other key is kept as text.
    """
    name, person, aged = person_facts(post)
    flags = (_NAMED if name else 0) | (_AGED if aged else 0)
    text = bytes(6)
    bands: dict[int, bytes] = {}
    phones: list[bytes] = []
    other: list[str] = []  # keys of other forms, kept as text
    person_key, name_key = (f"person:{person}", f"name:{name}") if name else ("", "")
    for key in dict.fromkeys(post.get("dedup_keys") or []):
        found = _PACKABLE.fullmatch(key)
        if found is None:
            if key == person_key:
                flags |= _PERSON_KEY
            elif key == name_key:
                flags |= _NAME_KEY
            else:
                other.append(key)
        elif found[1]:
            band = int(found[2])
            if band in bands:
                other.append(key)
            else:
                bands[band] = bytes.fromhex(found[3])
        elif found[4] == "phone" and len(phones) < 255:
            phones.append(bytes.fromhex(found[6]))
        elif found[4] == "text" and not flags & _TEXT_KEY:
            text, flags = bytes.fromhex(found[6]), flags | _TEXT_KEY
        else:
            other.append(key)
    head = _CARD_HEAD.pack(
        _CARD_VERSION,
        flags,
        sum(1 << band for band in bands),
        text_length(post),
        bytes.fromhex(name) if name else bytes(6),
        bytes.fromhex(person) if name else bytes(6),
        text,
        len(phones),
    )
    episode = facts(post)
    head += _EPISODE.pack(episode.kind, episode.subjects, *episode.places)
    lsh = b"".join(bands[band] for band in sorted(bands))
    sig = np.asarray(post_signature(post), dtype="<u4").tobytes()
    texts = [key.encode("utf-8")[:255] for key in other[:255]]
    extra = bytes([len(texts)]) + b"".join(bytes([len(k)]) + k for k in texts)
    return head + b"".join(phones) + lsh + sig + extra


def from_card(data: bytes) -> dict[str, Any]:
    """Return what the card DATA says of its post, as fields `same_episode` reads.

    `dedup_keys` (the keys the post stores), `_signature`, `_text_length`, `_person` and,
    from a version 2 card, `_episode` (kind, place codes, subjects: `classify.episodes`).

    Raises:
        ValueError: DATA is not a card this version reads.
    """
    if len(data) < _CARD_HEAD.size or data[0] not in _READS:
        raise ValueError("not a dedup card of this version")
    try:
        return _read(data)
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise ValueError(f"a damaged dedup card: {exc}") from exc


def _read(data: bytes) -> dict[str, Any]:
    version, flags, bands, length, name, person, text, phones = _CARD_HEAD.unpack_from(data)
    at = _CARD_HEAD.size
    episode = None
    if version >= 2:
        if len(data) < at + _EPISODE.size:
            raise ValueError("a dedup card too short")
        kind, subjects, *places = _EPISODE.unpack_from(data, at)
        episode = (kind, tuple(places), subjects)
        at += _EPISODE.size
    end = at + 6 * phones + _LSH * bands.bit_count() + 4 * NUM_PERM
    if len(data) <= end:
        raise ValueError("a dedup card too short")
    keys = [f"text:{text.hex()}"] if flags & _TEXT_KEY else []
    for _ in range(phones):
        keys.append(f"phone:{data[at : at + 6].hex()}")
        at += 6
    for band in range(BANDS):
        if bands >> band & 1:
            keys.append(f"lsh:{band}:{data[at : at + _LSH].hex()}")
            at += _LSH
    named = bool(flags & _NAMED)
    if flags & _PERSON_KEY:
        keys.append(f"person:{person.hex()}")
    if flags & _NAME_KEY:
        keys.append(f"name:{name.hex()}")
    sig = np.frombuffer(data, dtype="<u4", count=NUM_PERM, offset=at).astype(np.uint32)
    at = end + 1
    for _ in range(data[end]):
        size = data[at]
        keys.append(data[at + 1 : at + 1 + size].decode("utf-8", "replace"))
        at += 1 + size
    if at != len(data):
        raise ValueError("a dedup card of the wrong length")
    post = {
        "dedup_keys": keys,
        "_signature": sig,
        "_text_length": length,
        "_person": (name.hex(), person.hex(), bool(flags & _AGED)) if named else ("", "", False),
    }
    if episode is not None:
        post["_episode"] = episode
    return post
