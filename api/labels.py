"""Chinese labels of the taxonomy's codes: data is stored and filtered by code, shown by label."""

from __future__ import annotations

from index.documents import KINDS, teams
from index.workflow import STATUSES

NEEDS = {
    "bed": "收治床位",
    "testing": "检测确诊",
    "medicine": "药品",
    "urgent_care": "急重症就医",
    "supplies": "防护医疗物资",
    "food": "生活物资",
    "transport": "交通出行",
    "special_care": "特殊人群照护",
    "mental": "心理援助",
    "pets": "宠物救助",
    "rescue": "抢险救援",
    "shelter": "转移安置",
    "volunteers": "志愿者",
    "other": "其他",
}
URGENCY = {"critical": "危重", "high": "紧急", "normal": "一般"}
KIND = {"request": "求助", "offer": "提供帮助", "update": "进展", "irrelevant": "无关"}
STATUS = {
    "new": "新收",
    "triaged": "已核实",
    "assigned": "已分派",
    "resolved": "已解决",
    "duplicate": "重复",
    "unreachable": "联系不上",
    "closed": "已关闭",
}
OUTCOME = {"admitted": "已收治", "resolved": "已解决", "deceased": "已离世", "waiting": "仍在等待"}
SORT = {"urgency": "紧急程度 + 等待时间", "recent": "最新发布", "relevance": "相关度"}
ROLE = {"dispatcher": "调度员", "analyst": "分析员", "admin": "管理员"}

assert set(KIND) == set(KINDS) and set(STATUS) == set(STATUSES)


def all_labels() -> dict[str, dict[str, str]]:
    """Return every code → label table the console needs."""
    return {
        "needs": NEEDS,
        "urgency": URGENCY,
        "kind": KIND,
        "status": STATUS,
        "team": teams(),
        "outcome": OUTCOME,
        "sort": SORT,
        "role": ROLE,
    }
