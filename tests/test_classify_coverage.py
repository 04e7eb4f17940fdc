"""Coverage of every need by the cue rules, invented phrasing, free and inside the template."""

import pytest

from classify.analyze import RULES, analyze_post
from classify.template import blank_labels

# An invented template, as people fill it in; the description is appended.
TEMPLATE = (
    "【姓名】王某【年龄】66【所在城市】武汉【所在小区、社区】某某小区"
    "【联系方式】13800001111【病情描述】"
)

PHRASES = [
    ("小区封闭，买不到米和油", "food"),
    ("孩子的奶粉快吃完了", "food"),
    ("家里停水了，也买不到蔬菜", "food"),
    ("整夜失眠，非常恐慌，需要心理疏导", "mental"),
    ("亲人去世以后一直睡不着，想找心理咨询", "mental"),
    ("猫被锁在家里", "pets"),
    ("主人被隔离了，家里的狗没人喂", "pets"),
    ("父母都被隔离，孩子没人管", "special_care"),
    ("失能老人无人看管", "special_care"),
    ("孕妇快生了，医院不接收", "urgent_care"),
    ("肿瘤病人需要手术，手术推迟了", "urgent_care"),
    ("住院费用交不起，求助", "other"),
    ("胰岛素用完了，药店买不到药", "medicine"),
    ("医护人员上下班没有交通工具", "transport"),
    ("社区医生没有口罩，也没有防护服", "supplies"),
]


@pytest.mark.parametrize("templated", [False, True], ids=["free", "templated"])
@pytest.mark.parametrize(("phrase", "need"), PHRASES)
def test_need_found_in_free_and_templated_posts(phrase, need, templated):
    text = TEMPLATE + phrase if templated else phrase
    assert need in analyze_post({"id": "t", "text": text}, RULES)["needs"]


@pytest.mark.parametrize(
    ("phrase", "need"), [(p, n) for p, n in PHRASES if n in ("food", "pets", "mental")]
)
def test_template_labels_imply_no_patient(phrase, need):
    out = analyze_post({"id": "t", "text": TEMPLATE + phrase}, RULES)
    assert out["needs"] == [need]
    assert out["urgency"] == "normal"


def test_template_with_symptoms_still_needs_a_bed():
    out = analyze_post({"id": "t", "text": TEMPLATE + "发烧五天，咳嗽，胸闷"}, RULES)
    assert out["needs"][0] == "bed"
    assert out["urgency"] == "high"


def test_blank_labels_keeps_offsets():
    text = TEMPLATE + "咳嗽"
    blanked = blank_labels(text)
    assert len(blanked) == len(text)
    assert "病情" not in blanked
    assert blanked.endswith("咳嗽")
    assert "王某" in blanked
