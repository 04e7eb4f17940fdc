"""Tests of duplicate keys, the pairwise decision and clustering, on invented posts."""

import numpy as np
import pytest

from classify.analyze import analyze_post
from classify.cards import card, from_card
from classify.clusterer import Clusterer
from classify.dedup import (
    OTHER_PHONES_SAME,
    cluster_id,
    dedup_keys,
    same_episode,
    signature,
    similarity,
)

BASE = (
    "【姓名】周大成【年龄】66【所在城市】武汉【所在小区、社区】某某区幸福里小区"
    "【患病时间】2月1日【联系方式】13911112222【病情描述】发热八天，咳嗽，胸闷，"
    "CT显示双肺感染，社区登记后一直没有床位，家里还有八十岁的老母亲需要照顾"
)
OTHER_PERSON = (
    BASE.replace("周大成", "吴小红").replace("66", "41").replace("13911112222", "13633334444")
)
FREE_TEXT = "邻居家的老人一个人在家发烧好几天了，没有人照顾，社区电话一直打不通，希望有人能帮忙联系"


def _post(pid, text, posted_at=None):
    return {"id": pid, "text": text, "posted_at": posted_at}


def test_dedup_keys_are_deterministic_and_compact():
    keys = dedup_keys(_post("a", BASE))
    assert keys == dedup_keys(_post("b", BASE))
    assert any(k.startswith("lsh:") for k in keys)
    assert any(k.startswith("phone:") for k in keys)
    assert any(k.startswith("person:") for k in keys)
    assert all(len(k) <= 32 for k in keys)
    assert not any("13911112222" in k for k in keys)


def test_template_labels_do_not_make_posts_alike():
    a = "【姓名】甲【年龄】【所在城市】【所在小区、社区】【患病时间】【联系方式】【病情描述】咳嗽"
    b = "【姓名】乙【年龄】【所在城市】【所在小区、社区】【患病时间】【联系方式】【病情描述】骨折"
    shared = set(dedup_keys(_post("a", a))) & set(dedup_keys(_post("b", b)))
    assert not any(k.startswith("lsh:") for k in shared)


@pytest.mark.parametrize(
    "copy",
    [
        BASE,
        "转发求助，请大家帮帮忙！" + BASE,
        BASE.replace("发热八天", "发热九天") + " 更新：今天还在等床位",
    ],
)
def test_same_episode_for_reposts_and_updates(copy):
    assert same_episode(_post("a", BASE), _post("b", copy))


def test_different_people_same_community_are_not_duplicates():
    assert not same_episode(_post("a", BASE), _post("b", OTHER_PERSON))


def test_free_text_repost_is_duplicate():
    assert same_episode(_post("a", FREE_TEXT), _post("b", "扩散！" + FREE_TEXT))
    assert not same_episode(_post("a", FREE_TEXT), _post("b", "今天小区里发了蔬菜，大家都很开心"))


def test_clusterer_groups_and_picks_the_earliest_as_canonical():
    clusterer = Clusterer()
    posts = [
        _post("p1", "转发：" + BASE, "2020-02-04T10:00:00+08:00"),
        _post("p2", OTHER_PERSON, "2020-02-03T09:00:00+08:00"),
        _post("p3", BASE, "2020-02-03T08:00:00+08:00"),
        _post("p4", FREE_TEXT, None),
    ]
    for post in posts:
        clusterer.add(post)
    out = clusterer.assignments()
    assert out[0][0] == out[2][0] == cluster_id("p3")
    assert out[0][2] == 2
    assert out[1][0] not in (out[0][0], out[3][0])
    assert out[3] == (cluster_id("p4"), "p4", 1)


# Free text without a template: only the MinHash text similarity can link these.
APPEAL = (
    "我家楼下的张阿姨七十多岁了，老伴上周住院，她自己这几天也开始发烧咳嗽，"
    "社区登记以后一直没有消息，家里的药也快吃完了，她不会用手机，求好心人帮忙联系社区或者医院"
)


@pytest.mark.parametrize(
    "copy",
    [
        "转发扩散！！" + APPEAL,
        APPEAL + " 大家帮帮忙，求转发，谢谢🙏 @某某新闻",
        "看到这条很难过，希望有人能帮帮她。//" + APPEAL,
        APPEAL.replace("，", " ").replace("。", ""),
    ],
)
def test_minhash_alone_links_reposts_with_comments(copy):
    a, b = _post("a", APPEAL), _post("b", copy)
    assert not any(k.startswith(("person:", "phone:")) for k in dedup_keys(b))
    assert set(dedup_keys(a)) & set(dedup_keys(b))  # an LSH band or the exact text
    assert same_episode(a, b)
    clusterer = Clusterer()
    clusterer.add(a)
    clusterer.add(b)
    assert clusterer.assignments()[1][0] == cluster_id("a")


def test_minhash_keeps_other_free_text_apart():
    other = (
        "小区里一位独居的李爷爷八十岁，腿脚不便，这几天没人送菜，电话打给社区也没人接，"
        "家里只剩一点米了，希望附近的志愿者能帮忙送点菜过去"
    )
    assert not same_episode(_post("a", APPEAL), _post("b", other))


def test_signature_matches_for_equal_shingle_sets_and_is_stable():
    from classify.dedup import NUM_PERM, signature, similarity

    sig = signature(APPEAL)
    assert sig.shape == (NUM_PERM,)
    assert similarity(sig, signature(APPEAL)) == 1.0
    assert similarity(sig, signature("完全不同的一段话，讲的是天气和交通")) < 0.2
    assert signature("").tolist() == [0xFFFFFFFF] * NUM_PERM


def test_text_signature_is_the_analysis_signature_and_remembered_once():
    from classify import dedup
    from classify.analyze import _analyze

    # Full-width letters and digits: the analysis reads the NFKC form; dedup folds them too.
    text = APPEAL + "，联系电话：１３９１１１１２２２２，ＣＴ显示双肺感染"
    _, analysed = _analyze({"id": "a", "text": text})
    dedup._remembered.clear()
    first = dedup.text_signature(text)
    assert first.tolist() == analysed.tolist()
    # The second time it comes from memory; a remembered signature wins over computing.
    planted = np.arange(dedup.NUM_PERM, dtype=np.uint64)
    dedup.remember_signature(text, planted)
    assert dedup.text_signature(text).tolist() == planted.tolist()


def test_remembered_signatures_stay_bounded(monkeypatch):
    from classify import dedup

    monkeypatch.setattr(dedup, "REMEMBERED_SIGNATURES", 50)
    dedup._remembered.clear()
    for i in range(120):
        dedup.text_signature(f"第{i}条求助，需要药品和床位")
    assert 45 <= len(dedup._remembered) <= 50
    # The newest are kept, the oldest forgotten.
    assert hash("第119条求助，需要药品和床位") in dedup._remembered
    assert hash("第0条求助，需要药品和床位") not in dedup._remembered


def test_clusterer_state_is_compact():
    clusterer = Clusterer()
    for i in range(200):
        clusterer.add(_post(f"p{i}", f"第{i}号求助：发烧{i % 7}天，咳嗽，需要床位，编号{i * 37}"))
    assert len(clusterer) == 200
    assert len(clusterer.assignments()) == 200
    assert not hasattr(clusterer, "_posts")  # no analysed post is kept


def _mixed_posts(count):
    """Return invented posts: people with reposts, free-text appeals and their copies."""
    posts = []
    for i in range(count):
        person = i % 37
        if i % 5 == 4:
            text = f"转发扩散：{APPEAL}" if i % 2 else APPEAL + f"（第{i % 3}次求助）"
        else:
            text = (
                BASE.replace("周大成", "周大成吴小红李四王五赵六"[person % 9 : person % 9 + 3])
                .replace("66", str(40 + person % 11))
                .replace("13911112222", f"139{person:08d}")
            )
        posts.append(_post(f"p{i}", text, f"2020-02-0{1 + i % 9}T0{i % 10}:00:00+08:00"))
    return posts


def test_clusterer_spilled_keys_give_the_same_clusters():
    posts = _mixed_posts(240)
    in_memory = Clusterer()
    spilled = Clusterer(spill_keys=64)
    for post in posts:
        in_memory.add(post)
        spilled.add(post)
    assert spilled._spills  # the keys really went to the temporary files
    with spilled:
        out = spilled.assignments()
    assert not spilled._spills
    assert out == in_memory.assignments()
    assert len({cluster for cluster, _, _ in out}) < len(posts)


def _connected_pairs(posts):
    """Return each post's root in the brute-force graph of duplicate pairs sharing a key."""
    keys = [set(dedup_keys(post)) for post in posts]
    parent = list(range(len(posts)))

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for j in range(len(posts)):
        for i in range(j):
            if keys[i] & keys[j] and same_episode(posts[j], posts[i]):
                parent[max(find(i), find(j))] = min(find(i), find(j))
    return [find(k) for k in range(len(posts))]


def _assert_clusterer_agrees(posts):
    roots = _connected_pairs(posts)
    clusterer = Clusterer()
    for post in posts:
        clusterer.add(post)
    out = clusterer.assignments()
    for index, (cluster, canonical, size) in enumerate(out):
        members = [k for k in range(len(posts)) if roots[k] == roots[index]]
        assert size == len(members)
        assert cluster == out[roots[index]][0]
        earliest = min(members, key=lambda k: (posts[k]["posted_at"], k))
        assert canonical == posts[earliest]["id"]
    return out


def test_clusterer_clusters_are_the_connected_duplicate_pairs():
    out = _assert_clusterer_agrees(_mixed_posts(90))
    assert 1 < len({cluster for cluster, _, _ in out}) < 45


def test_posts_on_one_pattern_with_other_phones_are_other_people():
    offer = "志愿者团队{n}人，可以帮忙给老人买菜送药，如有需要请联系，电话{phone}"
    phones = [f"13{k}{k * 7 % 10}0012345" for k in range(6)]
    posts = [
        _post(f"o{i}", offer.format(n=5 + i % 4, phone=phones[i % 6]), f"2020-02-0{1 + i % 9}")
        for i in range(30)
    ]
    # Alike as texts (the numbers differ), yet other volunteers: apart.
    a, b = posts[0], posts[8]  # five volunteers each
    assert 0.7 <= similarity(signature(a["text"]), signature(b["text"])) < OTHER_PHONES_SAME
    assert not same_episode(a, b)
    # One volunteer posting again shares the number: the same offer.
    assert same_episode(posts[0], posts[6])
    # A long appeal reposted with another contact number is still the same request.
    appeal = APPEAL * 2
    assert same_episode(
        _post("r1", appeal + "联系电话13911112222"), _post("r2", appeal + "联系电话13633334444")
    )
    out = _assert_clusterer_agrees(posts)
    assert len({cluster for cluster, _, _ in out}) == len(phones)


def _analysed(pid, text):
    post = analyze_post({"id": pid, "text": text})
    return {**post, "template": dict(post["template"])}


@pytest.mark.parametrize(
    "other",
    [
        BASE.replace("CT显示", "（转发）CT显示"),  # a repost: same person, same age
        BASE.replace("【年龄】66", ""),  # the same name, one age missing
        OTHER_PERSON,  # another person
        FREE_TEXT,  # free text beside a templated post
        "紧急求助！" + FREE_TEXT + "联系电话13911112222",  # the same phone number
    ],
)
def test_a_dedup_card_decides_as_the_post_it_was_made_of(other):
    # The writer reads a backlog candidate from its card alone: every decision must be
    # the one the whole post gives.
    new, old = _analysed("1", BASE), _analysed("2", other)
    carded = {"id": "2", **from_card(card(dict(old)))}
    assert "text" not in carded and "template" not in carded
    assert same_episode(dict(new), carded) == same_episode(dict(new), dict(old))
    assert sorted(carded["dedup_keys"]) == sorted(old["dedup_keys"])
    assert carded["_text_length"] == len(old["text"])
    assert np.array_equal(carded["_signature"], signature(old["text"]))


def test_a_dedup_card_keeps_keys_of_any_form_and_refuses_a_damaged_card():
    post = _analysed("1", BASE)
    post["dedup_keys"] = ["lsh:3:xyz", "text:ABCDEF", "custom key", *post["dedup_keys"][:3]]
    data = card(dict(post))
    assert sorted(from_card(data)["dedup_keys"]) == sorted(post["dedup_keys"])
    # No name in it: a person's name is only kept as a digest.
    assert "周大成".encode() not in data
    for damaged in (data[:-1], data + b"\0", b"\3" + data[1:], b"\1" + data[1:], b""):
        with pytest.raises(ValueError):
            from_card(damaged)


def test_a_signature_is_the_same_dtype_remembered_or_not_and_a_text_met_again_is_recent(
    monkeypatch,
):
    from classify import dedup

    monkeypatch.setattr(dedup, "REMEMBERED_SIGNATURES", 10)
    dedup._remembered.clear()
    texts = [f"第{i}条求助，需要药品" for i in range(10)]
    fresh = dedup.text_signature(texts[0])  # computed
    again = dedup.text_signature(texts[0])  # remembered
    # Its bytes are what worker processes send on: one size whichever way it came.
    assert fresh.dtype == again.dtype == np.uint32
    assert fresh.tobytes() == again.tobytes() and len(fresh.tobytes()) == 4 * dedup.NUM_PERM
    for text in texts[1:]:
        dedup.text_signature(text)
    # The first text is met again (a repost): it is kept when room is made, others go.
    dedup.remember_signature(texts[0], fresh)
    dedup.text_signature("第十一条求助")
    assert hash(texts[0]) in dedup._remembered and hash(texts[1]) not in dedup._remembered
    with pytest.raises(ValueError):
        dedup.remember_signature("x", np.zeros(2 * dedup.NUM_PERM))


def _weibo(mid, text, repost_of="", posted_at=None):
    post = {"id": f"weibo:{mid}", "source": "weibo", "source_id": mid, "text": text}
    if repost_of:
        post["repost_of"] = repost_of
    if posted_at:
        post["posted_at"] = posted_at
    return analyze_post(post)


RELAYED = "代发！金水区一小区一楼八十多岁的老人被困，水已经淹到腰了还在涨，求救援队！"


def test_a_repost_in_other_words_joins_its_original_and_its_other_reposts():
    original = _weibo("4662000000000201", RELAYED)
    plus = _weibo("4662000000000203", "帮扩！还在等救援", repost_of="4662000000000201")
    again = _weibo("4662000000000204", "扩", repost_of="4662000000000201")
    alike = _weibo("4662000000000299", "帮扩！谁能帮帮忙")  # a relay of nothing known
    assert same_episode(original, plus) and same_episode(plus, again)
    assert not same_episode(original, alike) and not same_episode(plus, alike)
    clusterer = Clusterer()
    for post in (original, plus, again, alike):
        clusterer.add(post)
    clusters = [cluster for cluster, _, _ in clusterer.assignments()]
    assert clusters[0] == clusters[1] == clusters[2] != clusters[3]
    # A candidate read from its dedup card relays as the post did.
    assert same_episode(from_card(card(original)), plus)


def test_a_repost_naming_another_person_stays_apart():
    first = _weibo("4662000000000301", "【姓名】王某某【年龄】80【病情描述】被困二楼，水在涨")
    other = _weibo(
        "4662000000000302",
        "【姓名】李某某【年龄】75【病情描述】也被困了",
        repost_of="4662000000000301",
    )
    assert not same_episode(first, other)
    clusterer = Clusterer()
    clusterer.add(first)
    clusterer.add(other)
    [(a, _, _), (b, _, _)] = clusterer.assignments()
    assert a != b


def test_short_ids_of_two_sources_are_no_relay():
    board = analyze_post({"id": "board:12", "source": "board", "text": "求助：家里老人发烧"})
    forum = analyze_post({"id": "forum:12", "source": "forum", "text": "谁家有多余的口罩"})
    assert not [k for k in board["dedup_keys"] if k.startswith("post:")]
    assert not same_episode(board, forum)


def test_a_version_1_card_is_still_read_without_episode_facts():
    # Backlogs written before the episode facts keep their cards until re-carded.
    from classify.cards import _CARD_HEAD, _EPISODE

    post = _analysed("1", BASE)
    data = card(dict(post))
    head = _CARD_HEAD.size
    old = b"\1" + data[1:head] + data[head + _EPISODE.size :]
    read = from_card(old)
    assert "_episode" not in read
    assert sorted(read["dedup_keys"]) == sorted(post["dedup_keys"])
    assert from_card(data)["_episode"][0] == 1  # request
