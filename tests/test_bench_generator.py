"""The synthetic request generator: reproducible, streaming, real places, duplicates."""

from __future__ import annotations

import inspect
import itertools

from bench import generator


def test_same_seed_gives_the_same_stream_and_another_seed_does_not():
    a = list(generator.posts(300, seed=5))
    b = list(generator.posts(300, seed=5))
    c = list(generator.posts(300, seed=6))
    assert a == b
    assert a != c
    assert len({p["id"] for p in a}) == 300


def test_posts_are_a_lazy_stream():
    assert inspect.isgenerator(generator.posts(10**9))
    first = list(itertools.islice(generator.posts(10**9, seed=1), 5))
    assert [p["id"] for p in first] == ["g0", "g1", "g2", "g3", "g4"]


def test_places_are_real_wuhan_divisions_from_the_gazetteer():
    from classify import gazetteer

    places = generator.Places.load()
    gaz = gazetteer.load()
    names = set(gaz.names)
    assert len(places.communities) > 1000
    for district, street, community in places.communities[::500]:
        assert {district, street, community} <= names
        assert district.endswith(("区", "县", "市"))


def test_duplicate_rate_is_respected_and_truth_follows_the_taxonomy():
    gen = generator.Generator(seed=3, duplicate_rate=0.3)
    pairs = list(gen.stream(3000))
    episodes = [truth.episode for _, truth in pairs]
    repeats = len(episodes) - len(set(episodes))
    assert 0.2 < repeats / len(pairs) < 0.4
    needs = {n for _, truth in pairs for n in truth.needs}
    assert needs <= set(generator.NEED_WEIGHTS)
    assert {truth.urgency for _, truth in pairs} == {"critical", "high", "normal"}


def test_unrelated_posts_rarely_share_an_lsh_band():
    # Real posts from different episodes share a band in about 0.015 % of pairs; a
    # generator of few phrases made it 0.07-0.1 %, which made dedup look quadratic.
    from collections import defaultdict

    from classify.dedup import dedup_keys

    pairs = list(generator.Generator(seed=4).stream(1500))
    buckets: defaultdict[str, list[int]] = defaultdict(list)
    for number, (post, _) in enumerate(pairs):
        for key in dedup_keys(post):
            if key.startswith("lsh:"):
                buckets[key].append(number)
    sharing = {(a, b) for members in buckets.values() for a in members for b in members if a < b}
    unrelated = [(a, b) for a, b in sharing if pairs[a][1].episode != pairs[b][1].episode]
    assert len(unrelated) / (len(pairs) * (len(pairs) - 1) / 2) < 0.0004


def test_posts_that_are_not_requests_are_varied():
    texts = [p["text"] for p, t in generator.Generator(seed=8).stream(4000) if t.kind != "request"]
    top = max(texts.count(t) for t in set(texts))
    assert len(texts) > 150
    assert top < len(texts) / 10
