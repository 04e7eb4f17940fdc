"""A follow-up finds its request through its author, and stays apart from other people's.

Every post, account and number here is invented.
"""

from __future__ import annotations

import json

import pytest

from classify.analyze import analyze_post, analyze_stream
from classify.cards import card, from_card
from classify.dedup import same_episode, short_digest
from classify.episodes import author_keys, is_identity, mentioned_authors, subjects

REQUEST = (
    "我妈乳腺癌术后化疗，第四次本来定在上周，医院肿瘤科现在改收发热病人了，化疗停了九天。"
    "这两天一直吐，吃什么吐什么。我们在江夏纸坊，武汉现在哪家医院还能做化疗？"
)
UPDATE = "谢谢大家！我妈今天下午住进医院了，明天开始化疗，不用再转了🙏"


def post(n, text, author="纸坊的小橙子", day=6, hour=10, **extra):
    return {
        "id": f"t:{n}",
        "source": "weibo",
        "text": text,
        "author": author,
        "posted_at": f"2020-02-{day:02d}T{hour:02d}:00:00+08:00",
        **extra,
    }


def clusters(*posts):
    lines = [json.dumps(p, ensure_ascii=False) for p in posts]
    return [json.loads(line)["cluster"] for line in analyze_stream(lines)]


def test_an_update_by_the_same_account_joins_its_request():
    first, second = clusters(post(1, REQUEST), post(2, UPDATE, day=7))
    assert first == second
    assert same_episode(analyze_post(post(1, REQUEST)), analyze_post(post(2, UPDATE, day=7)))


@pytest.mark.parametrize(
    ("update", "why"),
    [
        (post(2, UPDATE, day=14), "eight days later: another episode"),
        (post(2, UPDATE, author="另一个账号"), "another account"),
        (post(2, "我爸今天下午住进医院了，谢谢大家，不用再转了", day=7), "another person"),
        (post(2, "我们在黄陂前川，我妈发烧住进医院了，谢谢大家", day=7), "another place"),
        (post(2, "我家药店今天开门了，化疗止吐药都有，需要的打电话", day=7), "an offer"),
    ],
)
def test_an_accounts_other_matters_stay_apart(update, why):
    first, second = clusters(post(1, REQUEST), update)
    assert first != second, why


def test_an_account_relaying_for_many_people_is_not_linked_by_its_author():
    relay = "天天帮转的热心人"
    posts = [
        post(n, f"【姓名】{name}【年龄】{age}【病情描述】发烧咳嗽，求床位", relay, hour=8 + n)
        for n, (name, age) in enumerate([("周某某", 70), ("吴某某", 66), ("郑某某", 81)])
    ]
    update = post(9, "感谢大家转发，老人今天住进医院了", author=relay, hour=20)
    found = clusters(*posts, update)
    assert len(set(found)) == 4


def test_a_repost_meets_the_account_it_cites_and_not_another_repost_of_it():
    hub = "二七区阿豪"
    request = post(1, "我媳妇怀孕三十八周破水了，楼下水一米多深，120过不来，求冲锋舟", author=hub)
    repost = post(2, "扩！//@路过的猫:帮转 //@二七区阿豪:我媳妇怀孕三十八周破水了，求船", "路人甲")
    update = post(3, "报平安：我媳妇凌晨在医院顺利生了，母女平安，谢谢大家", author=hub, day=7)
    other_repost = post(4, "//@二七区阿豪:小区里还有老人没出来，求救援队", "路人乙", hour=12)
    found = clusters(request, repost, update)
    assert found[0] == found[1] == found[2]
    # Citing one busy account does not make two reposts of its posts one episode.
    first, second = clusters(repost, other_repost)
    assert first != second
    assert author_keys(repost, short_digest) == [f"cites:{short_digest(hub)}"]


@pytest.mark.parametrize(
    ("author", "text", "keyed"),
    [
        ("纸坊的小橙子", REQUEST, True),
        ("帮转不留名", "代发：江夏纸坊一位阿姨化疗停了九天，联系人是她女儿", False),
        ("市民", "我父亲走失三天了", False),
        ("长江日报", "记者获悉，此前求助的患者已住院", False),
        ("共享表-编辑07", "【求助人】刘女士【情况】水到腰", False),
        ("路过的猫", "扩！//@某人:求助", False),
    ],
)
def test_only_a_familys_own_account_gives_an_author_key(author, text, keyed):
    keys = author_keys({"author": author, "text": text}, short_digest)
    assert any(k.startswith("author:") for k in keys) is keyed


def test_accounts_named_as_writers_are_found_in_reposts_relays_and_news():
    assert mentioned_authors("扩//@甲乙:帮转//@丙丁戊:我爸发烧") == ["丙丁戊"]
    assert mentioned_authors("急需床位，具体私信 @台北路的闺女 #武汉求助#") == ["台北路的闺女"]
    assert mentioned_authors("日前，网友“二七区阿豪”发文求助") == ["二七区阿豪"]
    # An official account tagged for attention is no writer of the request.
    assert mentioned_authors("#卫辉暴雨# 私信 @卫辉发布") == []
    assert is_identity("乐乐妈咪") and not is_identity("一位居民")


def test_subjects_are_read_after_a_possessive_and_from_a_condition():
    father, mother = subjects("我爸"), subjects("我妈")
    assert father and mother and not father & mother
    assert subjects("我爸妈都发烧了") == father | mother
    assert subjects("谢谢120的叔叔") == 0
    # A birth joins the pregnant mother's request whoever writes it.
    assert subjects("我老婆破水了") & subjects("凌晨生了，母女平安")


def test_a_shared_number_links_neither_an_offer_nor_posts_a_month_apart():
    phone = "138-0000-4471"
    request = post(1, f"我们小区停电三天了，老人需要制氧机，联系{phone}", author="甲")
    offer = post(2, f"免费提供发电机，送到家，需要的打{phone}", author="乙", hour=12)
    later = post(3, f"我们小区停电三天了，老人需要药，联系{phone}", author="丙", day=29)
    later["posted_at"] = "2020-03-29T10:00:00+08:00"
    found = clusters(request, offer, later)
    assert len(set(found)) == 3


def test_a_sheet_row_and_its_update_with_one_name_and_number_are_one_episode():
    row = (
        "【求助人】刘女士【位置】金水区丰产路老小区3号楼一楼【被困人数】4"
        "【联系方式】138-0000-2290【情况】水到大腿根还在涨"
    )
    done = "【求助人】刘女士【位置】金水区丰产路【联系方式】138-0000-2290【情况】已获救"
    first, second = clusters(post(1, row, author="在线文档"), post(2, done, "在线文档", hour=15))
    assert first == second


def test_a_card_brings_the_episode_facts_a_backlog_candidate_is_decided_by():
    request = analyze_post(post(1, REQUEST))
    carded = {"id": "t:1", "posted_at": request["posted_at"], **from_card(card(dict(request)))}
    update = analyze_post(post(2, UPDATE, day=7))
    other = analyze_post(post(3, "我爸今天住进医院了，谢谢大家", day=7))
    assert same_episode(dict(update), carded)
    assert not same_episode(dict(other), carded)
    assert same_episode(dict(update), carded) == same_episode(dict(update), dict(request))


DIALYSIS = "我家在硚口区宝丰街道，我爸尿毒症，透析中心停了，已经五天没透了，腿肿得厉害"
NEWS = "此前网友求助的硚口区一名尿毒症透析患者，已由区卫健局协调到另一家医院进行血液透析。"


def test_a_newsroom_follow_up_joins_the_one_request_it_refers_back_to():
    request = post(1, DIALYSIS, author="硚口的女儿", day=1)
    other_need = post(2, "硚口区宝丰街道我妈发烧五天了，求床位", author="另一家人", day=2)
    news = post(3, NEWS, author="长江日报", day=4)
    found = clusters(request, other_need, news)
    assert found[2] == found[0] != found[1]


def test_a_follow_up_two_requests_fit_stays_apart():
    first = post(1, DIALYSIS, author="硚口的女儿", day=1)
    second = post(2, "硚口区汉正街我外公尿毒症，医院停了透析，求哪里能透析", author="外孙", day=2)
    news = post(3, NEWS, author="长江日报", day=4)
    found = clusters(first, second, news)
    assert len(set(found)) == 3


@pytest.mark.parametrize(
    ("follow_up", "why"),
    [
        (post(3, NEWS, author="长江日报", day=20), "too late: 19 days on"),
        (post(3, NEWS, author="长江日报", day=1, hour=6), "before the request"),
        (
            post(
                3,
                "硚口区我外公尿毒症，之前在网上求助过没人管，今天又开始喘，求医院收治透析",
                "外孙",
                day=3,
            ),
            "a new plea",
        ),
        (post(3, NEWS.replace("硚口区", "江岸区"), author="长江日报", day=4), "another district"),
    ],
)
def test_a_reference_joins_only_an_earlier_request_of_its_place(follow_up, why):
    first, second = clusters(post(1, DIALYSIS, author="硚口的女儿", day=1, hour=9), follow_up)
    assert first != second, why
