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

from bench.vocabulary import (
    CLOSINGS,
    COMMENTS,
    CRITICAL_CUES,
    DISHES,
    ESTATES,
    GIVEN,
    HIGH_CUES,
    JOBS,
    NEED_PHRASES,
    NEED_WEIGHTS,
    OFFERS,
    ONSETS,
    RELATIONS,
    REMARKS,
    SLOGANS,
    SOURCES,
    STORY,
    SURNAMES,
    SYMPTOMS,
    UPDATES,
    WEEKDAYS,
)

SHANGHAI = timezone(timedelta(hours=8))
START = datetime(2020, 1, 25, 8, 0, tzinfo=SHANGHAI)


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
        return self._post(number, when, text, f"family{self.episodes}"), truth

    def _post(
        self, number: int, when: datetime, text: str, author: str | None = None
    ) -> dict[str, Any]:
        source = self.rng.choice(SOURCES)
        reposter = f"user{self.rng.randrange(100000)}"
        return {
            "id": f"g{number}",
            "source": f"gen-{source}",
            "text": text,
            "posted_at": when.isoformat(),
            "url": f"http://127.0.0.1/gen/{source}/{number}",
            # A family's account posts its request and its updates; others repost.
            "author": author or reposter,
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
            return self._post(number, when, text, original["author"]), truth
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
