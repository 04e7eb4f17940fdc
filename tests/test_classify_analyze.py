"""Tests of analyze_post, the JSONL stream, `qiuzhu analyze` and `qiuzhu eval`."""

import json

import pytest
from click.testing import CliRunner

from classify.analyze import TAXONOMY_KEYS, analyze_post, analyze_posts, analyze_stream
from classify.evaluate import score
from classify.nlp import get_nlp
from qiuzhu.commands.nlp import analyze_command, eval_command
from qiuzhu.errors import InvalidInput

POST = {
    "id": "x1",
    "text": "【姓名】孙一平【年龄】70【所在城市】武汉【所在小区、社区】江岸区后湖街道某某小区"
    "【联系方式】13912345678【病情描述】确诊，呼吸困难，没有床位，求收治",
    "source": "test",
}


def test_get_nlp_is_built_once_with_jieba():
    nlp = get_nlp()
    assert nlp is get_nlp()
    assert nlp.pipe_names == ["qiuzhu_template", "qiuzhu_cues", "qiuzhu_places"]
    doc = nlp("后湖街道呼吸困难")
    assert [t.text for t in doc] == ["后湖街道", "呼吸困难"]
    assert doc.spans["cues"]


def test_analyze_post_adds_the_taxonomy_fields():
    out = analyze_post(POST)
    assert set(TAXONOMY_KEYS) <= set(out)
    assert out["source"] == "test"
    assert out["kind"] == "request"
    assert out["needs"][0] == "bed"
    assert out["urgency"] == "critical"
    assert out["district"] == "江岸区"
    assert out["district_code"] == "420102"
    assert out["street"] == "后湖街道"
    assert out["phones"] == ["139****5678"]
    assert out["names"] == ["孙一平"]
    assert out["template"]["age"] == "70"
    assert "后湖街道" in out["text_seg"].split(" ")
    assert out["cluster"].startswith("c-")


@pytest.mark.parametrize("bad", [{"text": "无id"}, {"id": "a"}, {"id": "a", "text": 3}, ["x"]])
def test_analyze_post_rejects_bad_input(bad):
    with pytest.raises(InvalidInput):
        analyze_post(bad)


def test_analyze_posts_gives_what_analyze_post_gives_and_frees_the_posts_words():
    from classify import analyze
    from classify.dedup import text_signature

    posts = [
        dict(
            POST,
            id=f"n{n}",
            text=POST["text"].replace("孙一平", f"孙{n}号").replace("5678", f"{n:04d}"),
        )
        for n in range(analyze._CHUNK_POSTS + 7)  # two zones
    ]
    nlp = get_nlp()
    assert list(analyze_posts(posts)) == [analyze_post(p) for p in posts]
    # Each post's own words (its name, its number) left with their zone; dictionary
    # words stay, so analysing the posts again adds nothing to the vocabulary.
    assert not {"孙3号", "13912340003"} & {lex.text for lex in nlp.vocab}
    kept = {lex.text for lex in nlp.vocab}
    list(analyze_posts(posts))
    assert {lex.text for lex in nlp.vocab} == kept
    assert text_signature(posts[5]["text"]) is not None
    # A bad post stops the stream after the posts before it.
    out = []
    with pytest.raises(InvalidInput):
        for post in analyze_posts([POST, {"id": "no text"}, POST]):
            out.append(post)
    assert [p["id"] for p in out] == ["x1"]


def test_analyze_stream_keeps_order_and_reports_bad_lines():
    repost = dict(POST, id="x2", text="转发求助！" + POST["text"])
    lines = [json.dumps(POST, ensure_ascii=False), "{not json", "", '{"id": "z"}']
    lines.append(json.dumps(repost, ensure_ascii=False))
    out = [json.loads(line) for line in analyze_stream(lines)]
    assert len(out) == 5
    assert out[0]["id"] == "x1"
    assert out[1] == {"line": 2, "error": out[1]["error"]}
    assert out[2]["line"] == 3
    assert out[3]["line"] == 4
    assert out[4]["cluster"] == out[0]["cluster"]
    assert out[4]["cluster_size"] == 2


def test_analyze_command_reads_a_file_and_writes_output(tmp_path):
    source = tmp_path / "posts.jsonl"
    source.write_text(json.dumps(POST, ensure_ascii=False) + "\n", encoding="utf-8")
    target = tmp_path / "out.jsonl"
    result = CliRunner().invoke(analyze_command, [str(source), "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text(encoding="utf-8"))["district"] == "江岸区"


def test_analyze_command_reads_stdin():
    result = CliRunner().invoke(analyze_command, [], input=json.dumps(POST) + "\n")
    assert result.exit_code == 0
    assert json.loads(result.output)["id"] == "x1"


def test_eval_command_prints_tables_and_json(tmp_path):
    posts = tmp_path / "posts.jsonl"
    posts.write_text(json.dumps(POST, ensure_ascii=False) + "\n", encoding="utf-8")
    gold = tmp_path / "gold.jsonl"
    label = {
        "id": "x1",
        "kind": "request",
        "needs": ["bed"],
        "urgency": "critical",
        "district": "江岸区",
        "street": "后湖街道",
        "community": "",
        "cluster": "k1",
    }
    gold.write_text(json.dumps(label, ensure_ascii=False) + "\n", encoding="utf-8")
    tables = CliRunner().invoke(eval_command, ["--gold", str(gold), "--posts", str(posts)])
    assert tables.exit_code == 0, tables.output
    assert "needs micro-F1 1.000" in tables.output
    as_json = CliRunner().invoke(
        eval_command, ["--gold", str(gold), "--posts", str(posts), "--json"]
    )
    assert json.loads(as_json.output)["places"]["district"]["accuracy"] == 1.0


def test_score_counts_duplicate_pairs():
    gold = [{"id": str(i), "cluster": c} for i, c in enumerate("aabc")]
    predicted = [{"id": str(i), "cluster": c} for i, c in enumerate("xxxy")]
    result = score(gold, predicted)
    assert result["duplicates"]["recall"] == 1.0
    assert result["duplicates"]["precision"] == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    "text",
    [
        "【姓名】孙一平【年龄】70 所在城市：武汉\n病情：发烧5天，CT显示双肺感染。",
        "求助！！父亲 高烧39.5度 ，\r\n社区电话 027-8765 4321 打不通 #武汉加油# abc_def-1.5%",
        "",
    ],
)
def test_segmenter_gives_jieba_words_twice(text):
    import jieba

    from classify.segment import Segmenter

    get_nlp()  # the custom words are in jieba's dictionary
    segmenter = Segmenter()
    assert segmenter.cut(text) == list(jieba.cut(text))
    assert segmenter.cut(text) == list(jieba.cut(text))  # from the remembered blocks


def test_analyze_stream_does_not_hold_outputs(monkeypatch):
    # The first output line is ready only after the input ends, but the analysed posts
    # wait in a temporary file: the generator holds no list of results.
    import classify.analyze as module

    lines = [json.dumps(dict(POST, id=f"x{i}"), ensure_ascii=False) for i in range(30)]
    monkeypatch.setattr(module, "_ZONE_POSTS", 7)
    out = [json.loads(line) for line in analyze_stream(iter(lines))]
    assert [o["id"] for o in out] == [f"x{i}" for i in range(30)]
    assert {o["cluster"] for o in out} == {out[0]["cluster"]}
    assert out[-1]["cluster_size"] == 30
    assert all(o["district"] == "江岸区" for o in out)


def test_eval_command_prints_folds(tmp_path):
    posts = tmp_path / "posts.jsonl"
    gold = tmp_path / "gold.jsonl"
    label = {"kind": "request", "needs": ["bed"], "urgency": "critical", "cluster": "k"}
    posts.write_text(
        "".join(json.dumps(dict(POST, id=f"x{i}"), ensure_ascii=False) + "\n" for i in range(6)),
        encoding="utf-8",
    )
    gold.write_text(
        "".join(json.dumps(dict(label, id=f"x{i}")) + "\n" for i in range(6)), encoding="utf-8"
    )
    result = CliRunner().invoke(
        eval_command, ["--gold", str(gold), "--posts", str(posts), "--folds", "3", "--json"]
    )
    assert result.exit_code == 0, result.output
    folds = json.loads(result.output)["folds"]
    assert len(folds) == 3
    assert sum(part["labelled"] for part in folds) == 6
