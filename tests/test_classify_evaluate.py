"""Scoring against several label files, matched to the posts by id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from classify.evaluate import evaluate, merge_gold
from qiuzhu.errors import InvalidInput


def test_merge_gold_matches_by_id_and_first_file_wins():
    dev = [{"id": "a", "cluster": "k1"}, {"id": "b", "cluster": "k2", "kind": "request"}]
    extra = [
        {"id": "a", "kind": "offer", "needs": ["transport"]},
        {"id": "b", "kind": "irrelevant"},
    ]
    merged = merge_gold([dev, extra], ["b", "a", "c"])
    assert merged[0] == {"id": "b", "cluster": "k2", "kind": "request"}
    assert merged[1] == {"id": "a", "cluster": "k1", "kind": "offer", "needs": ["transport"]}
    assert merged[2] == {"id": "c"}


@pytest.mark.parametrize(
    "rows",
    [
        [{"id": "zz"}],
        [{"id": "a", "kind": "request"}, {"id": "a", "kind": "offer"}],
    ],
)
def test_merge_gold_refuses_unknown_or_repeated_ids(rows):
    with pytest.raises(InvalidInput):
        merge_gold([rows], ["a", "b"])


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def test_evaluate_scores_a_partial_labels_file_and_combines_two(tmp_path):
    posts = _jsonl(
        tmp_path / "posts.jsonl",
        [
            {"id": "1", "text": "求助：父亲确诊新冠肺炎，呼吸困难，没有床位，求收治"},
            {"id": "2", "text": "家里断粮三天了，母亲发烧，求助"},
            {"id": "3", "text": "今天武汉下雪了，大家加油"},
        ],
    )
    first = _jsonl(
        tmp_path / "first.jsonl",
        [{"id": "1", "kind": "request", "needs": ["bed"], "urgency": "critical"}],
    )
    second = _jsonl(
        tmp_path / "second.jsonl",
        [{"id": "2", "kind": "request", "needs": ["food", "bed"], "urgency": "high"}],
    )
    alone = evaluate(first, posts)
    assert alone["labelled"] == 1
    assert set(alone["needs"]) == {"bed"}
    both = evaluate([first, second], posts)
    assert both["labelled"] == 2
    assert both["needs"]["food"]["support"] == 1
    assert "duplicates" not in both


def test_eval_command_takes_several_gold_files(tmp_path):
    from click.testing import CliRunner

    from qiuzhu.commands.nlp import eval_command

    posts = _jsonl(
        tmp_path / "posts.jsonl",
        [
            {"id": "1", "text": "求助：母亲确诊，没有床位，求收治"},
            {"id": "2", "text": "父亲发烧五天，排不上核酸检测，求帮助"},
        ],
    )
    first = _jsonl(tmp_path / "a.jsonl", [{"id": "1", "kind": "request", "needs": ["bed"]}])
    second = _jsonl(tmp_path / "b.jsonl", [{"id": "2", "kind": "request", "needs": ["testing"]}])
    args = ["--gold", str(first), "--gold", str(second), "--posts", str(posts), "--json"]
    result = CliRunner().invoke(eval_command, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["labelled"] == 2


def test_score_counts_places_by_level_and_posts_put_in_another_province():
    from classify.evaluate import score

    gold = [
        {"kind": "request", "province": "河南省", "city": "新乡市", "district": "卫辉市"},
        {"kind": "request", "province": "河南省", "city": "郑州市", "district": ""},
        {"kind": "request", "province": "", "city": "", "district": ""},
    ]
    predicted = [
        {"kind": "request", "province": "河南省", "city": "新乡市", "district": "卫辉市"},
        {"kind": "request", "province": "湖北省", "city": "武汉市", "district": "江岸区"},
        {"kind": "request", "province": "湖北省", "city": "", "district": ""},
    ]
    result = score(gold, predicted)
    assert result["places"]["province"] == {"accuracy": 0.5, "support": 2}
    assert result["places"]["district"] == {"accuracy": 1.0, "support": 1}
    assert result["misplaced_province"] == 1  # a post whose gold has no province is not
