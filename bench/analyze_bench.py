"""Print `qiuzhu analyze` throughput and peak memory over generated posts, beside jieba alone.

Analysis is timed twice on the same posts: deciding by the cue rules alone (the baseline,
as before the trained model) and by the trained model (what ships).

Run: .venv/bin/python -m bench.analyze_bench [--posts 20000]

The posts are generated from invented templates and word lists (no real post is stored
here). With --replicate-dev, the shared dev posts (../shared/data) are read at run time
and repeated instead, when that folder is present; they are never written anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import time
from pathlib import Path

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "秀英明华建国丽芳伟强敏静军洋勇艳杰涛超"
PLACES = [
    "江岸区后湖街道",
    "武昌区中南路街道",
    "洪山区关山街道",
    "汉阳区四新街道",
    "硚口区古田街道",
    "江汉区万松街街道",
    "青山区冶金街道",
    "东西湖区吴家山街",
    "江夏区纸坊街道",
    "黄陂区前川街道",
]
ESTATES = ["幸福花园", "阳光小区", "东方家园", "滨江苑", "建设新村", "铁路宿舍"]
SYMPTOMS = [
    "发热{d}天，咳嗽，胸闷",
    "高烧不退，CT显示双肺感染",
    "呼吸困难，血氧{o}",
    "疑似新冠肺炎，乏力腹泻",
    "确诊后在家隔离，病情加重",
    "低烧{d}天，食欲差",
]
ASKS = [
    "社区登记后一直没有床位，求收治",
    "医院做不了核酸，无法确诊，求帮助",
    "家里没有车去医院，求帮忙",
    "老人独居无人照顾，求助",
    "药吃完了买不到药，求助",
    "请求安排入院治疗，谢谢大家",
]


def _phone(rng: random.Random) -> str:
    return "1" + rng.choice("3589") + "".join(rng.choice("0123456789") for _ in range(9))


def generate(count: int, seed: int = 2020) -> list[str]:
    """Return COUNT invented help requests as JSONL lines."""
    rng = random.Random(seed)
    lines = []
    for i in range(count):
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
        symptom = rng.choice(SYMPTOMS).format(d=rng.randint(2, 14), o=rng.randint(70, 99))
        text = (
            f"肺炎患者求助超话 【姓名】{name}【年龄】{rng.randint(20, 95)}【所在城市】武汉"
            f"【所在小区、社区】{rng.choice(PLACES)}{rng.choice(ESTATES)}{rng.randint(1, 30)}栋"
            f"【患病时间】1月{rng.randint(15, 31)}日【联系方式】{_phone(rng)}"
            f"【其他紧急联系人】{_phone(rng)}【病情描述】{symptom}。{rng.choice(ASKS)}"
        )
        text += "。" + "".join(rng.choice(SYMPTOMS + ASKS).format(d=3, o=90) for _ in range(3))
        post = {"id": f"bench-{i}", "text": text, "posted_at": f"2020-02-0{1 + i % 9}T08:00:00"}
        lines.append(json.dumps(post, ensure_ascii=False))
    return lines


def replicate_dev(count: int) -> list[str]:
    """Return COUNT lines repeating the shared dev posts, read at run time."""
    source = Path(__file__).resolve().parents[2] / "shared" / "data" / "weibo-2020-dev.jsonl"
    posts = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()]
    lines = []
    for i in range(count):
        post = dict(posts[i % len(posts)], id=f"dev-{i}")
        lines.append(json.dumps(post, ensure_ascii=False))
    return lines


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=20000, help="Number of posts to analyse.")
    parser.add_argument(
        "--replicate-dev", action="store_true", help="Repeat the shared dev posts instead."
    )
    args = parser.parse_args()
    lines = replicate_dev(args.posts) if args.replicate_dev else generate(args.posts)
    texts = [json.loads(line)["text"] for line in lines]

    from classify.analyze import RULES, analyze_stream
    from classify.model import get_model
    from classify.nlp import get_nlp

    get_nlp()  # load jieba, the gazetteer, the patterns and the model outside the timing
    get_model()
    # One pass outside the timing, so that the first timed run starts as warm as the others.
    sum(1 for _ in analyze_stream(lines[:1000], RULES))
    import jieba

    load_before = os.getloadavg()[0]

    start = time.process_time()
    for text in texts:
        list(jieba.cut(text))
    jieba_rate = len(texts) / (time.process_time() - start)

    rates = {}
    for name, decider in (("rules", RULES), ("model", None), ("rules again", RULES)):
        start = time.process_time()
        count = sum(1 for _ in analyze_stream(lines, decider))
        rates[name] = count / (time.process_time() - start)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rules_rate = (rates["rules"] + rates["rules again"]) / 2

    print(f"posts                  {count}  (rates per CPU-second of one core)")
    print(
        f"analyze, rules alone   {rules_rate:,.0f} posts/s (the baseline; "
        f"{rates['rules']:,.0f} and {rates['rules again']:,.0f} before and after)"
    )
    print(f"analyze, model         {rates['model']:,.0f} posts/s (what ships)")
    print(f"model / rules          {rates['model'] / rules_rate:.2f}")
    print(f"jieba segmenter alone  {jieba_rate:,.0f} posts/s")
    print(f"analyze / jieba        {rates['model'] / jieba_rate:.2f}")
    print(f"peak memory            {peak_mb:,.0f} MB (max RSS of the process)")
    # CPU time is counted, but a loaded machine still slows each core (shared caches).
    load_after = os.getloadavg()[0]
    print(f"machine load           {load_before:.2f} before, {load_after:.2f} after (1-min avg)")


if __name__ == "__main__":
    main()
