"""Analyse posts: one post to the taxonomy's fields, and the JSONL stream of `qiuzhu analyze`."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from spacy.attrs import ORTH

from classify.dedup import Clusterer, cluster_id, dedup_keys, normalise_for_dedup, signature
from classify.needs import decide_kind, decide_needs, score_needs
from classify.nlp import get_nlp, normalise
from classify.personal import find_id_numbers, masked_phones, names_from_template
from classify.urgency import decide_urgency
from qiuzhu.errors import InvalidInput

log = logging.getLogger(__name__)

#: The keys the taxonomy defines, in its order.
TAXONOMY_KEYS = (
    "kind",
    "needs",
    "urgency",
    "province",
    "city",
    "district",
    "street",
    "community",
    "district_code",
    "cluster",
    "phones",
)


def _check(post: Any) -> str:
    if not isinstance(post, dict):
        raise InvalidInput("expected a JSON object with `id` and `text`")
    if "id" not in post or post["id"] in (None, ""):
        raise InvalidInput("the object has no `id`")
    text = post.get("text")
    if not isinstance(text, str):
        raise InvalidInput("the object has no `text` string")
    return text


def analyze_post(post: dict[str, Any]) -> dict[str, Any]:
    """Return POST with the taxonomy fields and extras added (`cluster` is its own).

    Raises:
        InvalidInput: POST is not an object with an `id` and a `text` string.
    """
    return _analyze(post)[0]


def _analyze(post: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    text = _check(post)
    doc = get_nlp()(normalise(text))
    fields: dict[str, str] = doc._.template or {}
    cues = doc._.cues or []
    kind, outcome = decide_kind(cues, templated=len(fields) >= 3)
    scores = score_needs(cues, kind)
    needs = decide_needs(scores) if kind != "irrelevant" else []
    urgency, urgency_cues = decide_urgency(cues, kind)
    out = dict(post)
    out.update(
        {
            "kind": kind,
            "outcome": outcome,
            "needs": needs,
            "needs_scores": {need: scores.get(need, 0.0) for need in needs},
            "urgency": urgency,
            "urgency_cues": urgency_cues,
        }
    )
    out.update(doc._.places)
    names = names_from_template(fields)
    out["phones"] = masked_phones(text)
    out["id_numbers"] = [f"{n[:6]}********{n[-4:]}" for n in find_id_numbers(text)]
    out["names"] = names
    out["template"] = fields
    # Reading ORTH ids avoids building a Token object per word.
    strings = doc.vocab.strings
    words = (strings[orth] for orth in doc.to_array(ORTH).tolist())
    out["text_seg"] = " ".join(word for word in words if not word.isspace())
    norm = normalise_for_dedup(text)
    sig = signature(text, norm)
    out["dedup_keys"] = dedup_keys({"text": text, "template": fields}, sig, norm)
    # Alone, a post is its own cluster; analyze_stream and the index merge clusters.
    out["cluster"] = cluster_id(str(post["id"]))
    return out, sig


def analyze_stream(lines: Iterable[str]) -> Iterator[str]:
    """Yield one output JSON line per input line, clustering across the whole input.

    A line that is not a JSON object with `id` and `text` yields
    `{"line": N, "error": "..."}` and the rest goes on. Output waits for the end of the
    input because the cluster of the first post depends on the last.
    """
    results: list[dict[str, Any]] = []
    clusterer = Clusterer()
    slots: list[int] = []
    errors = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            results.append({"line": number, "error": "empty line: expected a JSON object"})
            slots.append(-1)
            errors += 1
            continue
        try:
            post = json.loads(line)
            out, sig = _analyze(post)
        except (ValueError, InvalidInput) as exc:
            message = exc.message if isinstance(exc, InvalidInput) else f"not JSON: {exc}"
            results.append({"line": number, "error": message})
            slots.append(-1)
            errors += 1
            continue
        slots.append(clusterer.add(out, sig))
        results.append(out)
    assignments = clusterer.assignments()
    for result, slot in zip(results, slots, strict=True):
        if slot >= 0:
            cluster, canonical, size = assignments[slot]
            result.update(cluster=cluster, canonical_id=canonical, cluster_size=size)
        yield json.dumps(result, ensure_ascii=False)
    if errors:
        log.warning("%d input lines were not analysable; see their error objects", errors)
