"""The batches `write_docs` reads ahead in a thread while the current one is written."""

from __future__ import annotations

import threading

import pytest

from index.backlog import _Prefetched


def test_every_item_arrives_once_in_order_in_batches_of_the_size():
    with _Prefetched(({"n": n} for n in range(7)), 3) as batches:
        got = [[item["n"] for item in batch] for batch in batches]
    assert got == [[0, 1, 2], [3, 4, 5], [6]]


def test_the_next_batch_is_read_while_the_caller_holds_this_one():
    read = threading.Event()

    def items():
        yield {"n": 0}
        read.set()  # reached only when the reader asks for the second batch's item
        yield {"n": 1}

    with _Prefetched(items(), 1) as batches:
        first = next(batches)
        assert read.wait(timeout=5), "the second batch was not read ahead"
        assert first == [{"n": 0}]
        assert next(batches) == [{"n": 1}]


def test_an_error_of_the_input_reaches_the_caller_after_the_batches_before_it():
    def items():
        yield from ({"n": n} for n in range(4))
        raise ValueError("bad line")

    got = []
    with pytest.raises(ValueError, match="bad line"), _Prefetched(items(), 2) as batches:
        for batch in batches:
            got.append(batch)
    assert [len(batch) for batch in got] == [2, 2]


def test_leaving_early_stops_the_reader():
    produced = []

    def items():
        for n in range(10_000):
            produced.append(n)
            yield {"n": n}

    prefetched = _Prefetched(items(), 10)
    with prefetched as batches:
        next(batches)
    assert not prefetched._thread.is_alive()
    # The reader stopped at most a couple of batches ahead, not at the end of the input.
    assert len(produced) <= 40
