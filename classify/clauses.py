"""Read a text clause by clause and remember what each clause gave: posts repeat many."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")

#: Clauses a memo remembers before it is emptied.
MEMO_CLAUSES = 100_000


def by_clause(
    text: str, clause: re.Pattern[str], memo: dict[str, T], scan: Callable[[str], T]
) -> Iterator[tuple[int, T]]:
    """Yield (offset, SCAN(c)) for every clause c of TEXT (the matches of CLAUSE).

    Results come from MEMO when the clause was read before; MEMO is emptied once it holds
    MEMO_CLAUSES clauses. SCAN must depend on the clause alone.
    """
    for match in clause.finditer(text):
        part = match.group()
        found = memo.get(part)
        if found is None:
            if len(memo) >= MEMO_CLAUSES:
                memo.clear()
            found = memo[part] = scan(part)
        yield match.start(), found
