"""Tests of the frozen splits and of the labellers' agreement."""

import pytest

from classify.agreement import agreement, kappa
from classify.splits import by_hash, by_time, read_splits, write_splits
from qiuzhu.errors import InvalidInput


def _posts(times):
    return [{"id": f"p{i}", "posted_at": t} for i, t in enumerate(times)]


def test_by_time_trains_on_the_earliest_and_tests_on_the_latest():
    posts = _posts([f"2021-07-{day:02d}T10:00:00+08:00" for day in range(1, 11)])
    splits = by_time(posts)
    assert [splits[f"p{i}"] for i in range(10)] == ["train"] * 6 + ["validation"] * 2 + ["test"] * 2


def test_by_time_never_cuts_posts_of_the_same_time_apart():
    # A source that gives only the day: one day never straddles two splits.
    times = ["2022-04-01T12:00:00+08:00"] * 5 + ["2022-04-02T12:00:00+08:00"] * 5
    splits = by_time(_posts(times))
    assert len({splits[f"p{i}"] for i in range(5)}) == 1
    assert len({splits[f"p{i}"] for i in range(5, 10)}) == 1


def test_posts_without_a_time_train():
    splits = by_time(_posts([None, "2021-01-01T00:00:00", "2021-01-02T00:00:00"]))
    assert splits["p0"] == "train"


def test_by_hash_is_stable_and_roughly_sixty_twenty_twenty():
    ids = [f"inv-{i}" for i in range(2000)]
    first, again = by_hash(ids), by_hash(ids)
    assert first == again
    share = sum(v == "train" for v in first.values()) / len(ids)
    assert 0.55 < share < 0.65


def test_splits_are_frozen(tmp_path):
    path = tmp_path / "splits.tsv"
    assert write_splits(path, {"a": "train", "b": "test"}, "header") == 2
    assert write_splits(path, {"a": "train", "c": "validation"}, "header") == 1
    assert read_splits(path) == {"a": "train", "b": "test", "c": "validation"}
    with pytest.raises(InvalidInput, match="splits are frozen"):
        write_splits(path, {"b": "train"}, "header")


@pytest.mark.parametrize("line", ["a\tsomewhere", "a", "\ttrain"])
def test_a_bad_split_line_is_refused_with_its_number(tmp_path, line):
    path = tmp_path / "splits.tsv"
    path.write_text(f"# header\nok\ttrain\n{line}\n", "utf-8")
    with pytest.raises(InvalidInput, match=r"splits.tsv:3"):
        read_splits(path)


def test_kappa_is_one_for_equal_labels_and_zero_for_chance():
    assert kappa(["a", "b", "a", "b"], ["a", "b", "a", "b"]) == pytest.approx(1.0)
    assert kappa(["a", "a", "b", "b"], ["a", "b", "a", "b"]) == pytest.approx(0.0)


def test_agreement_compares_fields_and_needs_by_id():
    first = [
        {"id": 1, "kind": "request", "urgency": "high", "needs": ["food", "special_care"]},
        {"id": 2, "kind": "irrelevant", "urgency": "normal", "needs": []},
        {"id": 3, "kind": "offer", "urgency": "normal", "needs": ["transport"]},
    ]
    second = [
        {"id": 2, "kind": "irrelevant", "urgency": "normal", "needs": []},
        {"id": 1, "kind": "request", "urgency": "normal", "needs": ["food"]},
        {"id": 3, "kind": "offer", "urgency": "normal", "needs": ["transport"]},
    ]
    result = agreement(first, second)
    assert result["posts"] == 3
    assert result["fields"]["kind"]["kappa"] == pytest.approx(1.0)
    assert result["fields"]["urgency"]["equal"] == pytest.approx(2 / 3)
    assert result["needs"]["special_care"] == {"kappa": pytest.approx(0.0), "first": 1, "second": 0}
