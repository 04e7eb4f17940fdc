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
from bisect import bisect_left, bisect_right
from functools import lru_cache
from itertools import accumulate
from typing import Any

import spacy
from spacy import attrs
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.vocab import Vocab

from classify import gazetteer
from classify.cues import find_cues, patterns
from classify.places import resolve
from classify.segment import Segmenter
from classify.template import blank_labels, parse_template

log = logging.getLogger(__name__)

_LOCK = threading.Lock()
# jieba frequency given to added words: high enough to keep them whole over a split.
_WORD_FREQ = 2000
#: Where the tokenizer leaves jieba's words in `doc.user_data` (the segmented text).
WORDS_KEY = "qiuzhu.words"

for _name in ("template", "cues", "places", "text", "starts"):
    if not Doc.has_extension(_name):
        Doc.set_extension(_name, default=None)


class JiebaTokenizer:
    """Segment with jieba, as spaCy's zh tokenizer does, but build the Doc directly.

    spaCy's zh tokenizer re-aligns jieba's words with the text to move single spaces
    into `whitespace_`; that costs as much as jieba itself. Here every jieba word,
    whitespace included, is a token, so `doc.text` is the text and token offsets are
    running sums, kept in `doc._.starts` and `doc._.text` for the components.
    """

    def __init__(self, vocab: Vocab) -> None:
        self.vocab = vocab
        self.segmenter = Segmenter()

    def __call__(self, text: str) -> Doc:
        """Return the Doc of TEXT."""
        words = [word for word in self.segmenter.cut(text) if word]
        doc = Doc(self.vocab, words=words, spaces=[False] * len(words))
        starts = [0, *accumulate(map(len, words))]
        starts.pop()
        ext = doc._
        ext.starts = starts
        ext.text = text
        doc.user_data[WORDS_KEY] = words
        return doc


@Language.component("qiuzhu_template", assigns=["doc._.template", "doc._.text"], retokenizes=False)
def template_component(doc: Doc) -> Doc:
    """Parse the help-request template of the post into `doc._.template`."""
    ext = doc._  # one accessor object for all reads and writes below
    if ext.text is None:
        # Doc.text joins every token on each call: read it once for all components.
        ext.text = doc.text
    ext.template = parse_template(ext.text)
    return doc


@Language.component(
    "qiuzhu_cues",
    requires=["doc._.template"],
    assigns=["doc._.cues", "doc.spans"],
    retokenizes=False,
)
def cues_component(doc: Doc) -> Doc:
    """Find the cue phrases of classify/patterns/cues.yaml (`doc._.cues`, `doc.spans["cues"]`)."""
    ext = doc._
    text = ext.text if ext.text is not None else doc.text
    cues = find_cues(blank_labels(text) if ext.template else text)
    ext.cues = cues
    starts = ext.starts
    if starts is None:
        starts = ext.starts = [token.idx for token in doc]
    spans = []
    # Labels as hashes: the labels are in the string store for good (see build_nlp).
    hashes = doc.vocab.strings
    for cue in cues:
        # The tokens covering the cue's characters (spaCy's "expand" alignment).
        first = bisect_right(starts, cue.start) - 1
        last = bisect_left(starts, cue.end)
        if first < 0:
            first = 0
        if first < last:
            spans.append(Span(doc, first, last, label=hashes[cue.label]))
    doc.spans["cues"] = spans
    return doc


@Language.component(
    "qiuzhu_places", requires=["doc._.template"], assigns=["doc._.places"], retokenizes=False
)
def places_component(doc: Doc) -> Doc:
    """Resolve where the person in need is (`doc._.places`)."""
    ext = doc._
    fields = ext.template or {}
    text = ext.text or doc.text
    ext.places = resolve(fields.get("address", ""), text, fields.get("city", ""))
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
    if unicodedata.is_normalized("NFKC", text):
        return text
    return unicodedata.normalize("NFKC", text)


def keep_dictionary_words(nlp: Language, words: set[str]) -> int:
    """Give the jieba dictionary words among WORDS a lexeme for good; return how many.

    Call outside any memory zone. A zone frees every lexeme made inside it, so without
    this each zone of posts would build the lexemes of the same common words again;
    the dictionary is finite, so the vocabulary stays bounded, while names and numbers
    (not in the dictionary) still leave with their zone.
    """
    import jieba

    dictionary = jieba.dt.FREQ
    vocab = nlp.vocab
    added = 0
    for word in words:
        if dictionary.get(word) and word not in vocab:
            vocab[word]  # looking the word up makes its lexeme
            added += 1
    return added


def build_nlp() -> Language:
    """Return a new pipeline (slow: loads jieba and the gazetteer; use `get_nlp`)."""
    import jieba

    # jieba sets its own logger to DEBUG on import and writes to stderr itself.
    jieba.setLogLevel(logging.WARNING)
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    # qiuzhu reads tokens' text and offsets, never spaCy's other lexical attributes (shape,
    # like_num, stop words...). Computing all 23 for each new word, and the numbers and
    # names of every post are new words, was a quarter of the analysis time.
    vocab: Any = nlp.vocab  # spaCy's type stubs omit lex_attr_getters
    getters = vocab.lex_attr_getters
    vocab.lex_attr_getters = {a: getters[a] for a in (attrs.LOWER, attrs.NORM) if a in getters}
    words = _custom_words()
    for word in words:
        jieba.add_word(word, freq=_WORD_FREQ)
    log.info("jieba dictionary extended with %d place names and cue phrases", len(words))
    nlp.tokenizer = JiebaTokenizer(nlp.vocab)
    for label in patterns().labels:
        # Outside any memory zone: kept for good, so spans can carry the label's hash.
        nlp.vocab.strings.add(label)
    nlp.add_pipe("qiuzhu_template")
    nlp.add_pipe("qiuzhu_cues")
    nlp.add_pipe("qiuzhu_places")
    # The statistics that names of private persons are found with (classify.names).
    from classify import names

    names.load()
    return nlp


@lru_cache(maxsize=1)
def _cached() -> Language:
    return build_nlp()


def get_nlp() -> Language:
    """Return the process-wide pipeline, built on first use."""
    with _LOCK:
        return _cached()
