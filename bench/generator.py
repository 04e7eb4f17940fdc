"""Generate realistic synthetic help requests, reproducibly, as a stream.

Every post is invented: people, ages and phone numbers are drawn from small word lists and
random digits; places are real divisions of Wuhan drawn from the gazetteer (the national
division data the project installs), so place resolution is exercised on real names. Needs
and urgency follow the taxonomy: each post is built from phrases for the needs it carries
and the urgency cues it shows. A configurable share of posts repeats an earlier request:
exact reposts, reposts with a comment, copies with the template lost, and updates.

Run: .venv/bin/python -m bench.generator --posts 1000000 --seed 7 > posts.jsonl
Nothing is held in memory but a bounded window of recent requests to repeat.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

SHANGHAI = timezone(timedelta(hours=8))
START = datetime(2020, 1, 25, 8, 0, tzinfo=SHANGHAI)

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡蒋余杜叶程魏苏吕丁"
)
GIVEN = "秀英明华建国丽芳伟强敏静军洋勇艳杰涛超霞平刚桂兰玉珍凤琴云莲红梅娟"
RELATIONS = ["我父亲", "我母亲", "我丈夫", "我妻子", "我舅舅", "我姑姑", "我哥哥", "我"]
ESTATES = [
    "幸福花园",
    "阳光小区",
    "东方家园",
    "滨江苑",
    "建设新村",
    "铁路宿舍",
    "锦绣华庭",
    "长江花园",
    "金色港湾",
    "百合苑",
]

#: Phrases that make each need, in the taxonomy's sense.
NEED_PHRASES: dict[str, list[str]] = {
    "bed": [
        "社区登记后一直没有床位，求收治",
        "社区登记{d}天了还是没有床位",
        "排了{n}个小时也住不进医院，求收治",
        "急需住院治疗，求一个床位",
        "请求安排定点医院收治",
        "方舱医院排不上，求帮助入院",
    ],
    "testing": [
        "医院做不了核酸检测，无法确诊",
        "排了两天队还没做上CT，求检测",
        "需要核酸检测确诊",
        "社区说核酸名额要等{d}天，求尽快确诊",
    ],
    "medicine": [
        "降压药吃完了，药店买不到，求药",
        "需要胰岛素，家里没有了",
        "求奥司他韦，附近药店都没有",
        "需要制氧机，老人缺氧",
        "家里的降压药只够{d}天了，求药",
    ],
    "urgent_care": [
        "尿毒症病人需要透析，医院停了透析",
        "化疗已经推迟两周，求医院接收",
        "孕妇38周，产检医院不接收，求助",
        "老人突发脑梗，求急诊",
    ],
    "supplies": [
        "社区医院缺口罩和防护服，求捐助",
        "我们志愿者车队缺消毒液和护目镜",
        "卫生院医护人员没有防护服",
    ],
    "food": [
        "家里没有菜了，求帮忙买菜",
        "小区封闭，买不到米和油",
        "孩子的奶粉快吃完了，求助",
        "小区封了{d}天，家里没有菜了",
    ],
    "transport": [
        "没有车去医院，求志愿者接送",
        "医护人员下夜班没有车回家，求车",
        "需要车辆把病人送到发热门诊",
    ],
    "special_care": [
        "家里老人独居，子女都被隔离了，无人照顾",
        "父亲瘫痪在床，母亲住院了，无人照看",
        "孩子一个人在家，父母都在隔离点",
    ],
    "mental": ["整夜失眠，非常恐慌，需要心理疏导", "亲人去世后一直很焦虑，想找人聊聊"],
    "pets": ["回老家过年，猫被锁在家里十多天了，求上门喂猫", "家里的狗没人喂，求志愿者帮忙"],
    "other": ["想问一下遗体怎么处理", "求助咨询补贴政策"],
}
NEED_WEIGHTS = {
    "bed": 40,
    "testing": 14,
    "medicine": 8,
    "urgent_care": 4,
    "supplies": 4,
    "food": 8,
    "transport": 5,
    "special_care": 8,
    "mental": 3,
    "pets": 2,
    "other": 2,
}
CRITICAL_CUES = ["呼吸困难", "血氧{o}%", "已经昏迷", "医生说病危", "喘不上气"]
HIGH_CUES = ["发烧{d}天", "持续高烧{d}天", "咳嗽{d}天越来越重"]
SYMPTOMS = [
    "咳嗽",
    "胸闷",
    "乏力",
    "腹泻",
    "CT显示双肺磨玻璃影",
    "食欲差",
    "头疼",
    "浑身酸痛",
    "嗓子疼",
    "恶心",
    "没有味觉",
    "怕冷",
    "四肢无力",
    "体温{t}度",
]
#: Neutral free text (no need or urgency cue): when it began, who the family are, what was
#: tried. Real posts tell their own story; without it unrelated generated posts shared far
#: more of their text (and so LSH bands) than real ones do.
ONSETS = [
    "{m}月{d}日开始",
    "{d}天前开始",
    "从上周{w}开始",
    "除夕那天开始",
    "大年初{i}开始",
    "从{m}月中旬起",
    "{d}号晚上开始",
]
STORY = [
    "家住{f}楼",
    "全家{n}口人",
    "老伴今年{a}岁",
    "儿子在外地上班回不来",
    "女儿刚满{n}岁",
    "之前身体一直很好",
    "有高血压{d}年了",
    "平时有糖尿病",
    "退休前是{job}",
    "一家人急得团团转",
    "打了{n}个电话都没人接",
    "已经等了{d}天",
    "楼里还有{n}户人家",
    "我们住在{estate}{f}栋",
    "爱人也开始{symptom}",
    "{m}月{d}日去过一次{district}",
    "家里只剩{n}个口罩了",
    "社区说再等等",
    "网格员记下了名字",
    "街道的电话一直占线",
    "我在外地干着急",
    "老人不会用手机",
]
JOBS = ["老师", "工人", "司机", "会计", "医生", "厨师", "保安", "护士", "售货员", "公务员"]
WEEKDAYS = "一二三四五六日"
CLOSINGS = [
    "拜托了",
    "万分感谢",
    "跪谢好心人",
    "希望有人看到",
    "谢谢各位",
    "麻烦大家",
    "感激不尽",
    "",
]
OFFERS = [
    "我们车队有{n}辆车，可以免费接送医护人员",
    "有一批口罩可以捐给社区，请联系",
    "心理咨询师，可以免费提供电话心理疏导",
    "{estate}业主群凑了{n}箱消毒液，可以免费送给社区，如有需要请联系",
    "本人有车，{district}范围内可以免费接送医护人员上下班",
    "我们餐馆每天可以提供{n}份盒饭，有需要的医院请联系",
    "公司有{n}台制氧机可以无偿提供",
    "志愿者团队{n}人，可以帮忙给老人买菜送药，如有需要请联系",
]
UPDATES = [
    "更新：已经住院了，谢谢大家的帮助",
    "已解决，已经收治，感谢",
    "老人今天凌晨走了，谢谢大家",
    "还在等床位，请继续帮忙转发",
]
#: Posts that are not requests, built from parts so that they are varied, as they are in a
#: real crawl; a slogan alone still repeats now and then.
SLOGANS = ["武汉加油！", "中国加油！", "湖北挺住！", "致敬医护人员！", "一定会好起来的。"]
REMARKS = [
    "今天的新闻发布会说新增病例在下降",
    "大家出门一定要戴口罩",
    "在家第{d}天，追完了{n}部剧",
    "{district}的樱花应该快开了吧",
    "楼下超市今天开门了，排了{n}个人",
    "小区里很安静，只听见鸟叫",
    "看到{n}岁的老医生还在一线，很感动",
    "{m}月{d}日，窗外下雨了",
    "隔壁邻居送来{n}个鸡蛋",
    "今天学会了做{dish}",
    "在家办公第{d}天",
]
DISHES = ["热干面", "豆皮", "面窝", "排骨藕汤", "蛋酒", "糊汤粉", "馒头", "红烧肉"]
COMMENTS = ["求扩散！", "帮转，", "太急了，大家帮帮忙", "转发求助："]
SOURCES = ["weibo", "forum", "board", "sheet", "rss"]


@dataclass
class Places:
    """Real Wuhan divisions from the gazetteer: (district, street, community) names."""

    communities: list[tuple[str, str, str]]
    streets: list[tuple[str, str]]

    @classmethod
    def load(cls) -> Places:
        from classify import gazetteer

        gaz = gazetteer.load()
        communities, streets = [], []
        for index, code in enumerate(gaz.codes):
            if not code.startswith("4201"):
                continue
            level = gaz.levels[index]
            if level == gazetteer.COMMUNITY:
                street = gaz.ancestor(index, gazetteer.STREET)
                district = gaz.ancestor(index, gazetteer.DISTRICT)
                if street >= 0 and district >= 0:
                    communities.append((gaz.names[district], gaz.names[street], gaz.names[index]))
            elif level == gazetteer.STREET:
                district = gaz.ancestor(index, gazetteer.DISTRICT)
                if district >= 0:
                    streets.append((gaz.names[district], gaz.names[index]))
        communities.sort()
        streets.sort()
        return cls(communities, streets)


@dataclass
class Truth:
    """What a generated post is, for measuring: its needs, urgency, place and episode."""

    kind: str
    needs: list[str]
    urgency: str
    district: str
    episode: int


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"


class Generator:
    """A seeded stream of synthetic posts; the same seed gives the same stream."""

    def __init__(
        self, seed: int = 2020, duplicate_rate: float = 0.2, places: Places | None = None
    ) -> None:
        self.rng = random.Random(seed)
        self.duplicate_rate = duplicate_rate
        self.places = places or Places.load()
        self.recent: deque[tuple[dict[str, Any], Truth]] = deque(maxlen=2000)
        self.episodes = 0
        self.needs = list(NEED_WEIGHTS)
        self.weights = list(NEED_WEIGHTS.values())

    def _needs(self) -> list[str]:
        first = self.rng.choices(self.needs, self.weights)[0]
        out = [first]
        if self.rng.random() < 0.25:
            extra = self.rng.choices(self.needs, self.weights)[0]
            if extra not in out:
                out.append(extra)
        return out

    def _fill(self, phrase: str) -> str:
        rng = self.rng
        if "{" not in phrase:
            return phrase
        return phrase.format(
            d=rng.randint(2, 12),
            i=rng.randint(1, 9),
            o=rng.randint(70, 92),
            n=rng.randint(2, 20),
            m=rng.randint(1, 2),
            w=rng.choice(WEEKDAYS),
            f=rng.randint(1, 33),
            a=rng.randint(45, 90),
            t=f"{rng.randint(37, 40)}.{rng.randint(0, 9)}",
            job=rng.choice(JOBS),
            estate=rng.choice(ESTATES),
            symptom=rng.choice(SYMPTOMS[:4]),
            district=rng.choice(self.places.communities)[0],
            dish=rng.choice(DISHES),
        )

    def _story(self) -> str:
        """Return a few neutral sentences of a post's own story (no need or urgency cue)."""
        parts = [self._fill(p) for p in self.rng.sample(STORY, self.rng.randint(1, 3))]
        return "，".join(parts)

    def _request(self, number: int, when: datetime) -> tuple[dict[str, Any], Truth]:
        rng = self.rng
        needs = self._needs()
        roll = rng.random()
        urgency = "critical" if roll < 0.25 else "high" if roll < 0.7 else "normal"
        cues = []
        if urgency == "critical":
            cues.append(self._fill(rng.choice(CRITICAL_CUES)))
        if urgency in ("critical", "high"):
            cues.append(self._fill(rng.choice(HIGH_CUES)))
        district, street, community = rng.choice(self.places.communities)
        address = rng.choice(
            [
                f"{district}{street}{community}",
                f"{street}{community}",
                f"{community}{rng.choice(ESTATES)}",
                f"{district}{rng.choice(ESTATES)}",
            ]
        )
        asks = "；".join(self._fill(rng.choice(NEED_PHRASES[n])) for n in needs)
        symptoms = "，".join(self._fill(s) for s in rng.sample(SYMPTOMS, rng.randint(2, 3)))
        onset = self._fill(rng.choice(ONSETS))
        description = (
            f"{rng.choice(RELATIONS)}{onset}{''.join(c + '，' for c in cues)}{symptoms}。"
            f"{self._story()}。{asks}。{rng.choice(CLOSINGS)}"
        )
        name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))
        age = rng.randint(3, 95) if "special_care" not in needs else rng.randint(70, 95)
        if rng.random() < 0.6:
            text = (
                f"【姓名】{name}【年龄】{age}【所在城市】武汉【所在小区、社区】{address}"
                f"【患病时间】{when.month}月{when.day}日【联系方式】{_phone(rng)}"
                f"【其他紧急联系人】{_phone(rng)}【病情描述】{description}"
            )
        else:
            text = f"求助！{address}，{name}，{age}岁。{description}联系电话：{_phone(rng)}"
        self.episodes += 1
        truth = Truth("request", needs, urgency, district, self.episodes)
        return self._post(number, when, text), truth

    def _post(self, number: int, when: datetime, text: str) -> dict[str, Any]:
        source = self.rng.choice(SOURCES)
        return {
            "id": f"g{number}",
            "source": f"gen-{source}",
            "text": text,
            "posted_at": when.isoformat(),
            "url": f"http://127.0.0.1/gen/{source}/{number}",
            "author": f"user{self.rng.randrange(100000)}",
        }

    def _repeat(self, number: int, when: datetime) -> tuple[dict[str, Any], Truth]:
        original, truth = self.rng.choice(self.recent)
        roll = self.rng.random()
        if roll < 0.3:
            text = original["text"]
        elif roll < 0.7:
            text = self.rng.choice(COMMENTS) + original["text"]
        elif roll < 0.85:
            text = original["text"].replace("【", " ").replace("】", "：")
        else:
            text = original["text"] + " " + self.rng.choice(UPDATES)
            truth = Truth("update", truth.needs, truth.urgency, truth.district, truth.episode)
        return self._post(number, when, text), truth

    def _other(self, number: int, when: datetime) -> tuple[dict[str, Any], Truth]:
        self.episodes += 1
        if self.rng.random() < 0.5:
            text = self._fill(self.rng.choice(OFFERS)) + f"，电话{_phone(self.rng)}"
            return self._post(number, when, text), Truth("offer", [], "normal", "", self.episodes)
        rng = self.rng
        if rng.random() < 0.2:
            text = rng.choice(SLOGANS)
        else:
            remarks = "，".join(self._fill(r) for r in rng.sample(REMARKS, rng.randint(1, 2)))
            text = f"{remarks}。{rng.choice(SLOGANS)}"
        return self._post(number, when, text), Truth("irrelevant", [], "normal", "", self.episodes)

    def stream(self, count: int) -> Iterator[tuple[dict[str, Any], Truth]]:
        """Yield COUNT (post, truth) pairs in posting order."""
        when = START
        for number in range(count):
            when += timedelta(seconds=self.rng.randint(1, 40))
            roll = self.rng.random()
            if self.recent and roll < self.duplicate_rate:
                pair = self._repeat(number, when)
            elif roll > 0.95:
                pair = self._other(number, when)
            else:
                pair = self._request(number, when)
                self.recent.append(pair)
            yield pair


def posts(count: int, seed: int = 2020, duplicate_rate: float = 0.2) -> Iterator[dict[str, Any]]:
    """Yield COUNT synthetic posts (the `qiuzhu analyze` input format)."""
    for post, _ in Generator(seed, duplicate_rate).stream(count):
        yield post


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=1000, help="How many posts to write.")
    parser.add_argument("--seed", type=int, default=2020, help="Seed of the random stream.")
    parser.add_argument(
        "--duplicates",
        type=float,
        default=0.2,
        help="Share of posts that repeat an earlier request.",
    )
    parser.add_argument(
        "--truth",
        action="store_true",
        help="Add each post's true kind, needs, urgency, district and episode.",
    )
    args = parser.parse_args(argv)
    out = sys.stdout
    for post, truth in Generator(args.seed, args.duplicates).stream(args.posts):
        if args.truth:
            post = {**post, "truth": truth.__dict__}
        out.write(json.dumps(post, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
