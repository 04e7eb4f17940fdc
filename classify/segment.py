"""jieba's accurate mode (HMM on), with the segmentation of repeated blocks remembered.

jieba cuts a text into blocks of Han characters, letters and digits, split at
punctuation and spaces, and segments each block on its own. Posts repeat many blocks
(the template's labels, place names, stock phrases, reposted paragraphs), so the words
of a block are kept in a bounded table: the output is exactly `jieba.cut(text)`.
"""

from __future__ import annotations

import re
from typing import Any

#: Blocks remembered before the table is emptied (a few MB at most).
MAX_BLOCKS = 200_000
# jieba's own block and whitespace patterns (jieba.re_han_default, re_skip_default).
_HAN = re.compile("([\u4e00-\u9fd5a-zA-Z0-9+#&\\._%\\-]+)", re.U)
_SKIP = re.compile("(\r\n|\\s)", re.U)


class Segmenter:
    """Segment texts as `jieba.cut(text)` does, remembering the words of each block."""

    def __init__(self, tokenizer: Any = None) -> None:
        import jieba

        self._jieba = tokenizer if tokenizer is not None else jieba.dt
        self._blocks: dict[str, tuple[str, ...]] = {}

    def clear(self) -> None:
        """Forget the remembered blocks (after words were added to jieba's dictionary)."""
        self._blocks.clear()

    def _block(self, block: str) -> tuple[str, ...]:
        words = self._blocks.get(block)
        if words is None:
            if len(self._blocks) >= MAX_BLOCKS:
                self._blocks.clear()
            # jieba's accurate mode with HMM for one block (Tokenizer.__cut_DAG).
            words = tuple(self._jieba._Tokenizer__cut_DAG(block))
            self._blocks[block] = words
        return words

    def cut(self, text: str) -> list[str]:
        """Return the words of TEXT, the same as `list(jieba.cut(text))`."""
        words: list[str] = []
        # A split on a capturing pattern alternates: text between matches, then a match.
        for number, block in enumerate(_HAN.split(text)):
            if not block:
                continue
            if number % 2:
                words.extend(self._block(block))
                continue
            for place, piece in enumerate(_SKIP.split(block)):
                if place % 2:
                    words.append(piece)
                else:
                    words.extend(piece)
        return words
