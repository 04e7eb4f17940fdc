"""Analyse posts: one post to the taxonomy's fields, and the JSONL stream of `qiuzhu analyze`."""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import islice
from typing import Any

import orjson

from classify.clusterer import Clusterer
from classify.decide import as_fields, decide
from classify.dedup import (
    cluster_id,
    dedup_keys,
    normalise_for_dedup,
    remember_signature,
    signature,
)
from classify.episodes import CASE_LEVELS
from classify.features import PostView
from classify.model import Model, get_model
from classify.needs import decide_kind, decide_needs, score_needs
from classify.nlp import WORDS_KEY, get_nlp, keep_dictionary_words, normalise
from classify.personal import mask_text, number_spans, person_names, scan_numbers
from classify.urgency import decide_urgency
from qiuzhu.errors import InvalidInput

log = logging.getLogger(__name__)

# Posts analysed in one spaCy memory zone.
_ZONE_POSTS = 2000


def _encode(obj: dict[str, Any]) -> str:
    """Return OBJ as one compact JSON line (UTF-8 text, no ASCII escapes)."""
    return orjson.dumps(obj).decode()


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


def analyze_post(post: dict[str, Any], model: Model | None = None) -> dict[str, Any]:
    """Return POST with the taxonomy fields and extras added (`cluster` is its own).

    MODEL decides kind, needs and urgency (default: the process-wide one; see
    `analyze_posts`).

    Raises:
        InvalidInput: POST is not an object with an `id` and a `text` string.
        ModelError: the classifier's artefact is missing or does not fit.
    """
    return next(analyze_posts([post], model))


#: Posts `analyze_posts` analyses in one spaCy memory zone.
_CHUNK_POSTS = 100


def analyze_posts(
    posts: Iterable[dict[str, Any]], model: Model | _Rules | None = None
) -> Iterator[dict[str, Any]]:
    """Yield each of POSTS analysed, as `analyze_post` would, in a third less time.

    MODEL decides kind, needs and urgency: the trained model given, the process-wide one
    (None: `classify.model.get_model`), or `RULES` for the cue rules alone (the baseline
    that evaluation and benchmarks compare the model with).

    Posts share a memory zone _CHUNK_POSTS at a time: the words a zone makes serve every
    post in it, instead of being made again and freed for each post. Words seen only in
    its posts (numbers, names) leave spaCy's vocabulary with the zone; dictionary words
    stay, or every zone would build their lexemes again.

    Raises:
        InvalidInput: a post is not an object with an `id` and a `text` string (the posts
            before it were yielded).
    """
    nlp = get_nlp()
    decider = get_model() if model is None else model
    it = iter(posts)
    while chunk := list(islice(it, _CHUNK_POSTS)):
        done: list[dict[str, Any]] = []
        failed: InvalidInput | None = None
        words: set[str] = set()
        # Nothing is yielded inside the zone: the caller may analyse with spaCy meanwhile.
        with nlp.memory_zone():
            for post in chunk:
                try:
                    out, sig = _analyze(post, decider, words)
                except InvalidInput as exc:
                    failed = exc
                    break
                # The writer compares the post with its batch and the backlog: it will
                # need this again.
                remember_signature(out["text"], sig)
                done.append(out)
        keep_dictionary_words(nlp, words)
        yield from done
        if failed is not None:
            raise failed


def _segmented(text: str, starts: list[int]) -> str:
    """Return TEXT's words (token offsets STARTS) joined by spaces, without whitespace."""
    ends = [*starts[1:], len(text)] if starts else []
    words = (text[start:end] for start, end in zip(starts, ends, strict=True))
    return " ".join(word for word in words if not word.isspace())


class _Rules:
    """The cue rules alone deciding kind, needs and urgency (a baseline to measure against)."""

    def __repr__(self) -> str:
        return "RULES"


#: Pass as `model` to decide by the cue rules alone.
RULES = _Rules()


def _rules_fields(view: PostView) -> dict[str, Any]:
    kind, outcome = decide_kind(view.cues, templated=view.templated)
    scores = score_needs(view.cues, kind)
    needs = decide_needs(scores) if kind != "irrelevant" else []
    urgency, urgency_cues = decide_urgency(view.cues, kind)
    return {
        "kind": kind,
        "outcome": outcome,
        "needs": needs,
        "needs_scores": {need: scores.get(need, 0.0) for need in needs},
        "needs_cues": {},
        "urgency": urgency,
        "urgency_cues": urgency_cues,
    }


def nlp_text(post: dict[str, Any]) -> str:
    """Return what the NLP stage reads of POST: its title (when the text lacks it) and text."""
    text = post.get("text") or ""
    title = str(post.get("title") or "").strip()
    return f"{title}\n{text}" if title and title not in text else text


def view_of(doc: Any, post: dict[str, Any], norm: str = "") -> PostView:
    """Return what the classifier reads of POST, analysed as DOC.

    NORM is the post's text as duplicates compare it, when the caller has it and the
    post has no title the text lacks (the classifier reads the title too).
    """
    ext = doc._
    words = doc.user_data.get(WORDS_KEY)
    if words is None:
        words = [token.text for token in doc]
    text = ext.text if ext.text is not None else doc.text
    title = str(post.get("title") or "").strip()
    if title and title not in (post.get("text") or ""):
        norm = normalise_for_dedup(text)
    return PostView(
        text=text,
        words=words,
        cues=ext.cues or [],
        templated=len(ext.template or {}) >= 3,
        title=title,
        norm=norm or normalise_for_dedup(text),
    )


def _analyze(
    post: dict[str, Any], model: Model | _Rules | None = None, seen: set[str] | None = None
) -> tuple[dict[str, Any], Any]:
    """Return the analysed POST and its MinHash signature; add its words to SEEN."""
    text = _check(post)
    if model is None:
        model = get_model()
    norm_text = normalise(nlp_text(post))
    doc = get_nlp()(norm_text)
    ext = doc._
    fields: dict[str, str] = ext.template or {}
    norm = normalise_for_dedup(normalise(text))
    view = view_of(doc, post, norm)
    out = dict(post)
    if isinstance(model, _Rules):
        out.update(_rules_fields(view))
    else:
        out.update(as_fields(decide(model, view)))
    out.update(ext.places)
    out["offer"] = _offer_terms(text, post) if out.get("kind") == "offer" else None
    numbers = number_spans(text)
    phones, masked, id_numbers = scan_numbers(text, numbers)
    out["phones"] = masked
    out["id_numbers"] = [f"{n[:6]}********{n[-4:]}" for n in id_numbers]
    out["names"] = person_names(norm_text, fields, doc.user_data.get(WORDS_KEY))
    # What roles that may not see contact data are shown instead of the text.
    out["text_masked"] = mask_text(text, out["names"], numbers)
    out["template"] = fields
    words = doc.user_data.get(WORDS_KEY)
    if seen is not None and words is not None:
        seen.update(words)
    if words is not None:
        out["text_seg"] = " ".join([word for word in words if not word.isspace()])
    else:
        starts = ext.starts
        if starts is None:
            starts = [token.idx for token in doc]
        out["text_seg"] = _segmented(ext.text if ext.text is not None else doc.text, starts)
    sig = signature(text, norm)
    # The post's own id at its platform: its source_id, or its id less the source prefix.
    own = post.get("source_id") or str(post["id"]).removeprefix(f"{post.get('source')}:")
    relay = {"source_id": own, "repost_of": post.get("repost_of")}
    keyed = {
        "text": text,
        "template": fields,
        "author": post.get("author"),
        "kind": out.get("kind"),
        **{f"{level}_code": out.get(f"{level}_code") for level in CASE_LEVELS},
        **relay,
    }
    out["dedup_keys"] = dedup_keys(keyed, sig, norm, phones)
    # Alone, a post is its own cluster; analyze_stream and the index merge clusters.
    out["cluster"] = cluster_id(str(post["id"]))
    return out, sig


def _offer_terms(text: str, post: dict[str, Any]) -> dict[str, Any]:
    """Return an offer's capacity and expiry (classify/offers.py), in the crisis's zone."""
    from zoneinfo import ZoneInfo

    from classify.offers import offer_terms
    from qiuzhu import profiles

    zone = ZoneInfo(profiles.current().time_zone)
    return offer_terms(text, post.get("posted_at"), zone, datetime.now(zone))


def _error(number: int, message: str) -> str:
    return _encode({"line": number, "error": message})


def analyze_stream(lines: Iterable[str], model: Model | _Rules | None = None) -> Iterator[str]:
    """Yield one output JSON line per input line, clustering across the whole input.

    A line that is not a JSON object with `id` and `text` yields
    `{"line": N, "error": "..."}` and the rest goes on. Output waits for the end of the
    input because the cluster of the first post depends on the last; meanwhile the
    analysed posts wait in a temporary file and only the clusterer's compact state
    (a few hundred bytes a post) stays in memory.
    """
    with Clusterer() as clusterer:
        yield from _analyze_all(lines, clusterer, get_model() if model is None else model)


def _analyze_all(
    lines: Iterable[str], clusterer: Clusterer, model: Model | _Rules
) -> Iterator[str]:
    errors = 0
    nlp = get_nlp()
    zone: contextlib.ExitStack | None = None
    seen: set[str] = set()
    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
        for number, line in enumerate(lines, start=1):
            if zone is None or number % _ZONE_POSTS == 0:
                # spaCy's vocabulary would otherwise keep every phone number and name
                # it ever saw: free what each chunk of posts added.
                if zone is not None:
                    zone.close()
                    keep_dictionary_words(nlp, seen)
                    seen.clear()
                zone = contextlib.ExitStack()
                zone.enter_context(nlp.memory_zone())
            if not line.strip():
                spool.write(_error(number, "empty line: expected a JSON object") + "\n")
                errors += 1
                continue
            try:
                post = orjson.loads(line)
                out, sig = _analyze(post, model, seen)
            except (ValueError, InvalidInput) as exc:
                message = exc.message if isinstance(exc, InvalidInput) else f"not JSON: {exc}"
                spool.write(_error(number, message) + "\n")
                errors += 1
                continue
            clusterer.add(out, sig)
            del out["cluster"]
            # A line starting with "+" is an analysed post waiting for its cluster.
            spool.write("+" + _encode(out) + "\n")
        if zone is not None:
            zone.close()
        spool.seek(0)
        assignments = clusterer.iter_assignments()
        for line in spool:
            line = line.rstrip("\n")
            if not line.startswith("+"):
                yield line
                continue
            cluster, canonical, size = next(assignments)
            extra = _encode({"cluster": cluster, "canonical_id": canonical, "cluster_size": size})
            yield line[1:-1] + "," + extra[1:]
    if errors:
        log.warning("%d input lines were not analysable; see their error objects", errors)
