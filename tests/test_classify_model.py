"""Tests of the trained classifier: its artefact, training, decisions and evidence."""

import json
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

from classify import model as model_module
from classify.analyze import analyze_post, nlp_text, view_of
from classify.corpus import CONFIG, data_digest, read_config
from classify.critical import critical_cases
from classify.decide import decide
from classify.model import OUTPUTS, Model, ModelError, get_model, load, save
from classify.nlp import get_nlp, normalise
from qiuzhu import settings

INVENTED_ONLY = """
[training]
seed = 7
steps = chars words cues shape
min_posts = 2
c = 10
balanced = needs kind urgency
artefact = {out}

[corpus:invented]
posts = {root}/classify/training/invented/posts.jsonl
labels = {root}/classify/training/invented/labels.jsonl
splits = {root}/classify/training/splits/invented.tsv
"""


def _config(tmp_path, out="model.zip"):
    path = tmp_path / "config.cfg"
    path.write_text(INVENTED_ONLY.format(out=tmp_path / out, root=settings.ROOT), "utf-8")
    return path


def _view(text):
    doc = get_nlp()(normalise(nlp_text({"text": text})))
    return view_of(doc, {"text": text})


def test_training_is_deterministic_and_the_artefact_is_small(tmp_path):
    from classify.train import train

    config = _config(tmp_path)
    first = train(config, tmp_path / "a.zip", say=lambda _: None)
    second = train(config, tmp_path / "b.zip", say=lambda _: None)
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    assert first["sha256"] == second["sha256"]
    assert (tmp_path / "a.zip").stat().st_size < 8 * 2**20
    trained = load(tmp_path / "a.zip")
    # The artefact carries its metadata and its figures on the frozen test split.
    assert trained.meta["data_digest"] == data_digest(read_config(config))
    assert trained.meta["test"]["invented"]["labelled"] > 100
    assert set(trained.meta["versions"]) >= {"numpy", "scikit-learn"}
    assert set(trained.thresholds) >= {"urgency:critical", "urgency:high"}


def test_train_command_prints_validation_only_without_writing(tmp_path):
    from qiuzhu.commands.nlp import train_command

    config = _config(tmp_path, out="never.zip")
    result = CliRunner().invoke(train_command, ["--config", str(config), "--validate-only"])
    assert result.exit_code == 0, result.output
    assert "== invented (validation) ==" in result.output
    assert "(test)" not in result.output
    assert not (tmp_path / "never.zip").exists()


def test_the_shipped_artefact_was_trained_on_the_labels_in_the_repository():
    shipped = load(model_module.SHIPPED)
    assert shipped.meta["repo_digest"] == data_digest(read_config(CONFIG), outside=False), (
        "the labels, splits or config changed since the artefact was built: run `qiuzhu train`"
    )
    for corpus in ("wuhan-2020", "henan-2021", "shanghai-2022", "invented"):
        assert shipped.meta["test"][corpus]["labelled"] > 100


def test_a_missing_artefact_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match=r"is missing: rebuild it with `qiuzhu train`"):
        load(tmp_path / "nowhere.zip")


def test_a_damaged_artefact_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(ModelError, match=r"is damaged .*rebuild it with `qiuzhu train`"):
        load(bad)
    cut = tmp_path / "cut.zip"
    cut.write_bytes(model_module.SHIPPED.read_bytes()[:5000])
    with pytest.raises(ModelError, match="is damaged"):
        load(cut)


def test_an_artefact_for_other_cue_patterns_is_refused(tmp_path):
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(model_module.SHIPPED) as src, zipfile.ZipFile(other, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "meta.json":
                meta = json.loads(data)
                meta["cues_digest"] = "0" * 16
                data = json.dumps(meta).encode()
            dst.writestr(item, data)
    with pytest.raises(ModelError, match="another cues digest"):
        load(other)


def test_analysis_with_a_missing_model_fails_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("QIUZHU_MODEL_PATH", str(tmp_path / "gone.zip"))
    model_module._cached.cache_clear()
    try:
        with pytest.raises(ModelError, match=r"gone\.zip is missing"):
            analyze_post({"id": "x", "text": "求助：母亲发烧，求床位"})
    finally:
        monkeypatch.delenv("QIUZHU_MODEL_PATH")
        model_module._cached.cache_clear()


def test_the_model_is_loaded_once_per_process():
    assert get_model() is get_model()


def _calm_model(kind="request"):
    """A model that calls everything a normal KIND about food (no feature weighs)."""
    bias = np.full(len(OUTPUTS), -5.0, dtype=np.float32)
    bias[OUTPUTS.index(f"kind:{kind}")] = 5.0
    bias[OUTPUTS.index("urgency:normal")] = 5.0
    bias[OUTPUTS.index("need:food")] = 5.0
    return Model(
        rows=np.empty(0, dtype=np.uint32),
        weights=np.zeros((0, len(OUTPUTS)), dtype=np.float32),
        bias=bias,
        thresholds={},
        meta={},
    )


@pytest.mark.parametrize(
    ("text", "case"),
    [
        ("父亲确诊，现在呼吸困难，求床位", "breathing"),
        ("母亲血氧只有85，求收治", "oxygen"),
        ("奶奶已经昏迷，叫不醒", "unconscious"),
        ("老婆羊水破了，宫缩越来越密，医院进不去", "labour"),
        ("我爸透析已经五天没做了，人开始糊涂", "treatment_overdue"),
        ("老公走了以后我真的不想活了", "suicidal"),
        ("我们被困在一楼，水位还在涨，求救援", "flood"),
        ("房子塌了，有人被埋在下面", "collapse"),
    ],
)
def test_the_critical_detector_cannot_be_overruled_downwards(text, case):
    decision = decide(_calm_model(), _view(text))
    assert decision.urgency == "critical"
    assert case in decision.critical
    assert decision.urgency_cues


@pytest.mark.parametrize(
    "text",
    ["母亲确诊，没有呼吸困难，求床位", "孩子没有昏迷，只是发烧", "我们在三楼，水位在下降，很安全"],
)
def test_negated_or_absent_critical_cases_are_not_critical(text):
    assert critical_cases(_view(text).cues) == []
    assert decide(_calm_model(), _view(text)).urgency == "normal"


def test_an_outcome_ends_the_risk_its_story_tells():
    view = _view("更新：父亲前几天呼吸困难，今天已经去世了，谢谢大家")
    over = decide(_calm_model("update"), view)
    assert (over.kind, over.outcome, over.urgency) == ("update", "deceased", "normal")
    waiting = decide(_calm_model("update"), _view("更新：还在等床位，父亲现在呼吸困难"))
    assert waiting.urgency == "critical"


def test_every_need_and_urgency_keeps_the_phrases_that_drove_it():
    post = analyze_post({"id": "e", "text": "外婆一个人住，降压药吃完了，发烧三天，求帮忙买药"})
    assert post["kind"] == "request"
    assert set(post["needs_cues"]) == set(post["needs"])
    assert all(post["needs_cues"][need] for need in post["needs"])
    assert post["urgency"] != "normal"
    assert post["urgency_cues"]


# Plain cases in every crisis's words: a model that misses more than a few of these is
# not one to ship, whatever its figures.
PLAIN = [
    ("求助！父亲确诊新冠肺炎，发烧一周，社区说没有床位，求收治", "request", "bed"),
    ("母亲高烧不退，医院说做不了核酸，无法确诊，求帮忙", "request", "testing"),
    ("我爸的降压药和胰岛素都快用完了，附近药店都关了，求帮忙配药", "request", "medicine"),
    ("妻子怀孕九个月，今天见红了，医院不接诊，求助", "request", "urgent_care"),
    ("我们社区卫生站缺口罩和防护服，急需支援", "request", "supplies"),
    ("小区封了十天，家里米和菜都吃完了，求团购渠道", "request", "food"),
    ("父亲要去医院做透析，小区不让出，也叫不到车，求帮忙安排车辆", "request", "transport"),
    ("爷爷八十多岁独居，腿脚不便，无人照顾，求志愿者上门", "request", "special_care"),
    ("主人被隔离了，家里两只猫没人喂，求上门喂猫", "request", "pets"),
    ("新乡卫辉我家被淹了，一家五口被困在二楼，求救援", "request", "rescue"),
    ("郑州东站滞留，没地方住，有没有能临时安置的地方", "request", "shelter"),
    ("安置点急需志愿者帮忙搬运物资和做饭", "request", "volunteers"),
    ("本人有车，可免费接送医护人员上下班，有需要的联系", "offer", "transport"),
    ("我们酒店可以免费提供20间房给受灾群众临时住宿", "offer", "shelter"),
    ("更新：父亲已经住进医院了，谢谢大家的帮助，请不要再转了", "update", None),
    ("今天武汉下雪了，大家加油，一切都会好起来的", "irrelevant", None),
    ("据官方通报，全市新增确诊病例较昨日下降", "irrelevant", None),
]


def test_the_shipped_model_gets_plain_cases_right():
    wrong = []
    for text, kind, need in PLAIN:
        post = analyze_post({"id": "p", "text": text})
        if post["kind"] != kind or (need and need not in post["needs"]):
            wrong.append((kind, need, post["kind"], post["needs"]))
    assert len(wrong) <= 3, wrong


def test_artefact_bytes_do_not_depend_on_when_they_were_written(tmp_path):
    shipped = load(model_module.SHIPPED)
    save(shipped, tmp_path / "one.zip")
    save(shipped, tmp_path / "two.zip")
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()
    assert load(tmp_path / "one.zip").thresholds == shipped.thresholds
