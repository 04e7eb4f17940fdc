"""Build the spaCy pipeline once per process: jieba segmentation plus rule components.

`get_nlp()` returns `spacy.blank("zh")` with jieba as its segmenter and three rule
components whose patterns are data files under classify/:

* `qiuzhu_template` parses the help-request template (`doc._.template`);
* `qiuzhu_cues` finds need, urgency, kind and outcome cues (`doc.spans["cues"]`,
  `doc._.cues`) from classify/patterns/cues.yaml;
* `qiuzhu_places` resolves the place against the division data (`doc._.places`).

Place names and cue phrases are added to jieba's dictionary so that they stay whole.
"""

from __future__ import annotations

import logging
import threading
import unicodedata
from functools import lru_cache

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from classify import gazetteer
from classify.cues import find_cues, patterns
from classify.places import resolve
from classify.template import parse_template

log = logging.getLogger(__name__)

_LOCK = threading.Lock()
# jieba frequency given to added words: high enough to keep them whole over a split.
_WORD_FREQ = 2000

for _name in ("template", "cues", "places", "text"):
    if not Doc.has_extension(_name):
        Doc.set_extension(_name, default=None)


@Language.component("qiuzhu_template", assigns=["doc._.template", "doc._.text"], retokenizes=False)
def template_component(doc: Doc) -> Doc:
    """Parse the help-request template of the post into `doc._.template`."""
    # Doc.text joins every token on each call: read it once for all components.
    doc._.text = doc.text
    doc._.template = parse_template(doc._.text)
    return doc


@Language.component("qiuzhu_cues", assigns=["doc._.cues", "doc.spans"], retokenizes=False)
def cues_component(doc: Doc) -> Doc:
    """Find the cue phrases of classify/patterns/cues.yaml (`doc._.cues`, `doc.spans["cues"]`)."""
    cues = find_cues(doc._.text or doc.text)
    doc._.cues = cues
    spans = []
    for cue in cues:
        span = doc.char_span(cue.start, cue.end, label=cue.label, alignment_mode="expand")
        if span is not None:
            spans.append(span)
    doc.spans["cues"] = spans
    return doc


@Language.component(
    "qiuzhu_places", requires=["doc._.template"], assigns=["doc._.places"], retokenizes=False
)
def places_component(doc: Doc) -> Doc:
    """Resolve where the person in need is (`doc._.places`)."""
    fields = doc._.template or {}
    text = doc._.text or doc.text
    doc._.places = resolve(fields.get("address", ""), text, fields.get("city", ""))
    return doc


def _custom_words() -> list[str]:
    gaz = gazetteer.load()
    words = {
        alias
        for alias, entries in gaz.aliases.items()
        if 2 < len(alias) <= 12 and any(strength > gazetteer.BARE for _, strength in entries)
    }
    words.update(p for p in patterns().phrases if len(p) >= 2)
    return sorted(words)


def normalise(text: str) -> str:
    """Return TEXT in the form the pipeline reads (NFKC: ASCII digits, colons, brackets)."""
    return unicodedata.normalize("NFKC", text)


def build_nlp() -> Language:
    """Return a new pipeline (slow: loads jieba and the gazetteer; use `get_nlp`)."""
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    import jieba

    jieba.setLogLevel(logging.WARNING)
    words = _custom_words()
    for word in words:
        jieba.add_word(word, freq=_WORD_FREQ)
    log.info("jieba dictionary extended with %d place names and cue phrases", len(words))
    nlp.add_pipe("qiuzhu_template")
    nlp.add_pipe("qiuzhu_cues")
    nlp.add_pipe("qiuzhu_places")
    return nlp


@lru_cache(maxsize=1)
def _cached() -> Language:
    return build_nlp()


def get_nlp() -> Language:
    """Return the process-wide pipeline, built on first use."""
    with _LOCK:
        return _cached()
