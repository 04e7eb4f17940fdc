"""Tests of the cue rules' kind, needs and urgency decisions, on invented posts.

The rules are the trained model's features, its evidence for dispatchers and the baseline
`qiuzhu eval --rules` measures it against; the model itself is tested in
test_classify_model.py.
"""

import pytest

from classify.analyze import RULES, analyze_post


def _analyse(text):
    return analyze_post({"id": "t", "text": text}, RULES)


@pytest.mark.parametrize(
    ("text", "need"),
    [
        ("求助！我父亲确诊新冠肺炎，发烧一周，社区说没有床位，求收治", "bed"),
        ("母亲高烧不退，医院说做不了核酸，无法确诊，求帮忙", "testing"),
        ("老人的降压药吃完了，买不到药，求助", "medicine"),
        ("妻子怀孕九个月，预产期就在下周，医院不接诊，求助", "urgent_care"),
        ("我们社区卫生站缺口罩和防护服，急需支援", "supplies"),
        ("家里断粮三天了，求助", "food"),
        ("父亲发烧，没有车去医院，求帮忙", "transport"),
        ("爷爷独居，无人照顾，求助", "special_care"),
        ("确诊后他一直说想死，求心理援助", "mental"),
        ("邻居出门隔离，家里的猫没人喂，求宠物救助", "pets"),
        ("求助！父亲已经走了，后事不知道怎么料理", "other"),
    ],
)
def test_needs_found(text, need):
    assert need in _analyse(text)["needs"]


@pytest.mark.parametrize(
    ("text", "need"),
    [
        ("我们不需要口罩，谢谢。父亲确诊，求床位", "supplies"),
        ("医生开的药已经买到了。母亲确诊，求收治", "medicine"),
        ("母亲的核酸检测结果是阳性，求床位", "testing"),
    ],
)
def test_negated_or_reported_needs_are_not_needs(text, need):
    assert need not in _analyse(text)["needs"]


def test_a_need_asked_after_an_outcome_stays():
    post = _analyse("药已经买到了，母亲呼吸困难，现在求安排住院")
    assert "bed" in post["needs"]
    assert "medicine" not in post["needs"]


def test_suicidal_thoughts_are_not_negated_by_having():
    assert "mental" in _analyse("父亲确诊两周，已经有了轻生的念头，求床位")["needs"]


def test_admitted_update_drops_bed():
    post = _analyse("更新：父亲已住院，谢谢大家的帮助")
    assert post["kind"] == "update"
    assert post["outcome"] == "admitted"
    assert "bed" not in post["needs"]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("求助：母亲确诊肺炎，求床位", "request"),
        ("本人有车，可免费接送医护人员上下班，有需要的联系", "offer"),
        ("今天武汉下雪了，大家加油", "irrelevant"),
    ],
)
def test_kind(text, kind):
    assert _analyse(text)["kind"] == kind


@pytest.mark.parametrize(
    ("text", "urgency", "cue"),
    [
        ("父亲确诊，呼吸困难，求床位", "critical", "呼吸困难"),
        ("母亲血氧只有75，求收治", "critical", "血氧 75%"),
        ("奶奶已经昏迷，求救", "critical", "昏迷"),
        ("母亲确诊十天，现在呼吸也开始困难，求床位", "critical", "呼吸也开始困难"),
        ("父亲CT显示双肺全白，求收治", "critical", "全白"),
        ("父亲确诊，情况危急，求床位", "high", "确诊"),
        ("外婆发烧一周，整天嗜睡，求床位", "high", "嗜睡"),
        ("父亲疑似肺炎，发烧5天了，求床位", "high", "发热 5天"),
        ("母亲确诊，没有呼吸困难，求床位", "high", "确诊"),
    ],
)
def test_urgency_and_cues(text, urgency, cue):
    post = _analyse(text)
    assert post["urgency"] == urgency
    assert cue in post["urgency_cues"]


def test_normal_spo2_is_not_critical():
    assert _analyse("父亲确诊，血氧98，求床位")["urgency"] == "high"


def test_needs_are_ordered_by_confidence():
    post = _analyse("求助：父亲确诊，没有床位，无法收治，求床位。没有车")
    scores = [post["needs_scores"][n] for n in post["needs"]]
    assert scores == sorted(scores, reverse=True)
    assert post["needs"][0] == "bed"


@pytest.mark.parametrize(
    ("text", "has_testing"),
    [
        ("母亲高烧五天，排不上核酸检测，至今未确诊，求帮助", True),
        ("父亲CT双肺感染，核酸结果为阴性，医院只认核酸，希望能再做核酸", True),
        ("之前一直无法确诊，昨天核酸检测结果为阳性，现在求床位", False),
        ("母亲已做核酸，正在等待结果，呼吸困难，求收治", False),
        ("母亲高烧五天，排不上核酸检测 #全国确诊新型肺炎病例# 求帮助", True),
        ("医院没有核酸试剂，CT基本确诊了，求帮助", True),
    ],
)
def test_testing_is_answered_by_a_reported_test(text, has_testing):
    assert ("testing" in _analyse(text)["needs"]) is has_testing


@pytest.mark.parametrize(
    ("text", "need", "expected"),
    [
        ("奶奶长期卧床，爷爷也发烧了，求帮助", "special_care", True),
        ("母亲高烧一周，现在卧床不起，求床位", "special_care", False),
        ("爷爷中风后生活不能自理，奶奶确诊了，求帮忙", "special_care", True),
        ("外婆一个人住，发烧三天了，求帮助", "special_care", True),
        ("妈妈一人在武汉生活，确诊了，求帮助", "special_care", True),
        ("爷爷确诊，只有80岁的奶奶照顾他，求床位", "special_care", True),
        ("父亲确诊，一个人去医院打针，求床位", "special_care", False),
        ("父母都住院了，两个孩子独自在家，求帮忙", "special_care", True),
        ("父亲呼吸困难，需要吸氧，求床位", "medicine", False),
        ("老人家里的药断了，也没有药店开门，求助", "medicine", True),
        ("社区的车只送不接，父亲没法回家，求帮忙", "transport", True),
    ],
)
def test_need_phrases(text, need, expected):
    assert (need in _analyse(text)["needs"]) is expected
