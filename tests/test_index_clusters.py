"""Duplicates against the whole backlog: later posts join earlier clusters, nothing else."""

from __future__ import annotations

from classify.analyze import analyze_post
from classify.dedup import same_episode
from index import workflow
from index.backlog import write_posts
from index.bulk import Spool, create_action, write
from index.documents import crawled_part


def templated(n, name, age, body, day=5, **extra):
    text = (
        f"【姓名】{name}【年龄】{age}【所在城市】武汉【所在小区、社区】江岸区后湖街道百步亭社区"
        f"【联系方式】1380000{n:04d}【病情描述】{body}"
    )
    return analyze_post(
        {
            "id": str(n),
            "source": "fixture",
            "text": text,
            "posted_at": f"2020-02-{day:02d}T10:00:00+08:00",
            **extra,
        }
    )


def doc(backlog, n):
    return workflow.get_request(backlog.client, backlog.names, f"fixture:{n}")[0]


def test_a_later_post_about_the_same_person_joins_the_backlog_cluster(backlog):
    spool = Spool(backlog.spool_dir)
    write_posts(
        backlog.client,
        backlog.names,
        [templated(1, "陈某某", "67", "发烧五天，咳嗽，社区登记后没有床位。")],
        spool,
        same_episode,
    )
    # Tonight's crawl: a repost of the same person's request, rewritten and more urgent.
    write_posts(
        backlog.client,
        backlog.names,
        [templated(2, "陈某某", "67", "现在呼吸困难，血氧80%，求求大家帮忙转发！", day=6)],
        spool,
        same_episode,
    )
    first, second = doc(backlog, 1), doc(backlog, 2)
    assert second["cluster"] == first["cluster"]
    assert (first["cluster_size"], first["is_canonical"], second["is_canonical"]) == (
        2,
        True,
        False,
    )
    # The cluster ranks as its most urgent member: never hidden as a duplicate.
    assert first["cluster_urgency_rank"] == 3


def test_posts_joining_a_cluster_are_written_once_with_their_summary(backlog):
    spool = Spool(backlog.spool_dir)
    body = "发烧五天，咳嗽，社区登记后没有床位。"
    for post in (templated(1, "陈某某", "67", body), templated(2, "陈某某", "67", body, day=6)):
        write_posts(backlog.client, backlog.names, [post], spool, same_episode)
    # Tonight: two more copies, one critical, in one batch; the backlog already has two.
    urgent = "现在呼吸困难，血氧80%，求求大家帮忙转发！"
    write_posts(
        backlog.client,
        backlog.names,
        [templated(3, "陈某某", "67", urgent, day=7), templated(4, "陈某某", "67", body, day=8)],
        spool,
        same_episode,
    )
    versions = {}
    for n in (1, 2, 3, 4):
        got = backlog.client.get(index=backlog.names.requests, id=f"fixture:{n}")
        versions[n] = got["_version"]
        source = got["_source"]
        assert (source["cluster_size"], source["cluster_urgency_rank"]) == (4, 3)
        assert source["is_canonical"] == (n == 1)
        assert source["cluster_last_at"] == "2020-02-08T10:00:00+08:00"
    # Each post was created with its cluster's summary, never rewritten after; only the
    # members already in the backlog were updated, once for each later batch.
    assert versions == {1: 3, 2: 2, 3: 1, 4: 1}


def test_two_people_in_the_same_community_with_the_same_need_stay_apart(backlog):
    spool = Spool(backlog.spool_dir)
    posts = [
        templated(1, "陈某某", "67", "发烧五天，社区登记后没有床位，求收治。"),
        templated(2, "刘某某", "45", "发烧五天，社区登记后没有床位，求收治。"),
    ]
    write_posts(backlog.client, backlog.names, posts[:1], spool, same_episode)
    write_posts(backlog.client, backlog.names, posts[1:], spool, same_episode)
    assert doc(backlog, 1)["cluster"] != doc(backlog, 2)["cluster"]
    assert doc(backlog, 2)["cluster_size"] == 1


def test_a_post_linking_two_backlog_clusters_merges_them_into_the_older(backlog):
    spool = Spool(backlog.spool_dir)
    a = analyze_post(
        {
            "id": "1",
            "source": "fixture",
            "posted_at": "2020-02-03T08:00:00+08:00",
            "text": "江汉区 独居老人张奶奶三天没吃饭了 家里没有菜 求社区送菜 电话13800001234",
        }
    )
    b = analyze_post(
        {
            "id": "2",
            "source": "fixture",
            "posted_at": "2020-02-04T08:00:00+08:00",
            "text": "求助 江汉区有位老人需要送米面油和蔬菜 联系13900005678",
        }
    )
    write_posts(backlog.client, backlog.names, [a], spool, same_episode)
    write_posts(backlog.client, backlog.names, [b], spool, same_episode)
    assert doc(backlog, 1)["cluster"] != doc(backlog, 2)["cluster"]
    bridge = analyze_post(
        {
            "id": "3",
            "source": "fixture",
            "posted_at": "2020-02-05T08:00:00+08:00",
            "text": "江汉区 独居老人张奶奶三天没吃饭了 家里没有菜 求社区送菜 "
            "电话13800001234 另一个号码13900005678",
        }
    )
    write_posts(backlog.client, backlog.names, [bridge], spool, same_episode)
    clusters = {doc(backlog, n)["cluster"] for n in (1, 2, 3)}
    assert clusters == {doc(backlog, 1)["cluster"]}
    assert doc(backlog, 2)["cluster_size"] == 3 and doc(backlog, 1)["is_canonical"]


def test_creating_a_request_someone_else_created_first_keeps_its_workflow(backlog):
    spool = Spool(backlog.spool_dir)
    first = templated(1, "陈某某", "67", "发烧五天，社区登记后没有床位。")
    write_posts(backlog.client, backlog.names, [first], spool, same_episode)
    workflow.change(
        backlog.client,
        backlog.names,
        "fixture:1",
        workflow.Actor("d", "dispatcher"),
        status="triaged",
    )
    # A writer that believed the request new sends a create: it must end as an update.
    report = write(
        backlog.client, [create_action(backlog.names.requests, crawled_part(first))], spool
    )
    assert (report.created, report.updated + report.unchanged, report.spooled) == (0, 1, 0)
    assert doc(backlog, 1)["status"] == "triaged"
    assert backlog.count() == 1


def test_reconcile_links_copies_two_parallel_writers_could_not_see(backlog):
    from index.backlog import reconcile, write_batch

    spool = Spool(backlog.spool_dir)
    first = templated(1, "陈某某", "67", "发烧五天，咳嗽，社区登记后没有床位。")
    copy = templated(2, "陈某某", "67", "转发：发烧五天，咳嗽，社区登记后没有床位。")
    # Two crawl processes write at the same moment: neither sees the other's batch.
    write_batch(backlog.client, backlog.names, [crawled_part(first)], spool, None)
    write_batch(backlog.client, backlog.names, [crawled_part(copy)], spool, None)
    assert doc(backlog, 1)["cluster"] != doc(backlog, 2)["cluster"]
    assert reconcile(backlog.client, backlog.names, "2000-01-01T00:00:00Z", same_episode) == 1
    assert doc(backlog, 1)["cluster"] == doc(backlog, 2)["cluster"]
    assert doc(backlog, 1)["cluster_size"] == 2 and doc(backlog, 1)["is_canonical"]
    # Once linked, a second pass changes nothing.
    assert reconcile(backlog.client, backlog.names, "2000-01-01T00:00:00Z", same_episode) == 0


def test_a_side_index_gains_new_fields_in_place(backlog):
    from index import admin
    from index.mapping import EVENT_MAPPING

    wider = {
        **EVENT_MAPPING,
        "properties": {**EVENT_MAPPING["properties"], "extra": {"type": "keyword"}},
    }
    admin._add_fields(backlog.client, backlog.names.events, wider, "events")
    props = backlog.client.indices.get_mapping(index=backlog.names.events)[backlog.names.events][
        "mappings"
    ]["properties"]
    assert "extra" in props


def test_summary_orders_members_by_real_time_and_carries_the_latest_update():
    from index.clusters import summary

    docs = [
        {
            "id": "b",
            "posted_at": "2020-02-05T01:00:00Z",
            "urgency_rank": 1,
            "source": "weibo",
            "kind": "request",
        },
        # 08:30 in Beijing is 00:30 UTC: earlier than b, though its string sorts later.
        {
            "id": "a",
            "posted_at": "2020-02-05T08:30:00+08:00",
            "urgency_rank": 3,
            "source": "forum",
            "kind": "request",
        },
        {
            "id": "c",
            "posted_at": "2020-02-06T09:00:00+08:00",
            "urgency_rank": 1,
            "source": "weibo",
            "kind": "update",
            "outcome": "admitted",
        },
    ]
    pairs = summary(docs)
    assert [doc["id"] for doc, _ in pairs] == ["a", "b", "c"]
    want = pairs[0][1]
    assert want["is_canonical"] and not pairs[1][1]["is_canonical"]
    assert (want["cluster_size"], want["cluster_urgency_rank"]) == (3, 3)
    assert want["cluster_sources"] == ["weibo", "forum"]
    assert want["cluster_last_at"] == "2020-02-06T09:00:00+08:00"
    assert want["cluster_update"] == {
        "id": "c",
        "outcome": "admitted",
        "posted_at": "2020-02-06T09:00:00+08:00",
    }


def test_a_key_on_many_backlog_posts_becomes_a_stop_word_and_duplicates_still_join(backlog):
    from index import clusters
    from index.backlog import write_batch

    def with_common_key(post):
        post = crawled_part(post)
        post["dedup_keys"] = [*post["dedup_keys"], "lsh:0:common"]
        return post

    spool = Spool(backlog.spool_dir)
    stop: set[str] = set()
    people = [
        with_common_key(templated(n, f"某{'甲乙丙丁戊己庚辛壬癸子丑寅卯'[n]}", str(30 + n), "发烧"))
        for n in range(clusters.STOP_KEY_POSTS + 2)
    ]
    write_batch(backlog.client, backlog.names, people, spool, same_episode, stop)
    assert stop == set()
    # The next batch meets the key on every earlier post: it is a stop word from now on.
    other = with_common_key(templated(90, "王某某", "71", "胸闷，求助"))
    write_batch(backlog.client, backlog.names, [other], spool, same_episode, stop)
    assert "lsh:0:common" in stop
    assert "lsh:0:common" not in doc(backlog, 90)["dedup_keys"]
    assert doc(backlog, 90)["cluster_size"] == 1
    # A later copy about the first person still joins its cluster through its other keys.
    copy = with_common_key(templated(91, "某甲", "30", "发烧三天了，求扩散", day=7))
    write_batch(backlog.client, backlog.names, [copy], spool, same_episode, stop)
    assert doc(backlog, 91)["cluster"] == doc(backlog, 0)["cluster"]
    assert doc(backlog, 0)["cluster_size"] == 2
    assert "lsh:0:common" not in doc(backlog, 91)["dedup_keys"]


def test_candidates_are_read_from_their_dedup_card_or_without_one_from_their_source(backlog):
    import base64

    from classify.cards import from_card
    from index import clusters

    spool = Spool(backlog.spool_dir)
    write_posts(
        backlog.client,
        backlog.names,
        [templated(1, "陈某某", "67", "发烧五天")],
        spool,
        same_episode,
    )
    first = doc(backlog, 1)
    carded = from_card(base64.b64decode(first["dedup_card"]))
    assert sorted(carded["dedup_keys"]) == sorted(first["dedup_keys"])
    # A document written without a card (before cards existed) is read from its source.
    older = crawled_part(templated(2, "刘某某", "80", "独居老人，发烧，没人照顾"))
    write(backlog.client, [create_action(backlog.names.requests, older)], spool)
    backlog.refresh()
    assert doc(backlog, 2)["dedup_card"] is None
    keys = sorted({*first["dedup_keys"], *older["dedup_keys"]})
    found = {c["id"]: c for c in clusters._candidates(backlog.client, backlog.names, keys)}
    assert set(found) == {"fixture:1", "fixture:2"}
    assert found["fixture:1"]["_signature"] is not None and "text" not in found["fixture:1"]
    assert found["fixture:2"]["text"] == older["text"]
    # Post times come as Elasticsearch orders them, from the card's doc values or the source.
    ten_beijing = 1_580_868_000_000  # 2020-02-05T10:00:00+08:00
    assert found["fixture:1"]["posted_at"] == found["fixture:2"]["posted_at"] == ten_beijing
    # Both kinds of candidate are found again by a repost.
    for n, name, age, body in (
        (3, "陈某某", "67", "发烧五天，求转发"),
        (4, "刘某某", "80", "独居老人"),
    ):
        write_posts(
            backlog.client,
            backlog.names,
            [templated(n, name, age, body, day=7)],
            spool,
            same_episode,
        )
    assert doc(backlog, 3)["cluster"] == first["cluster"]
    assert doc(backlog, 4)["cluster"] == doc(backlog, 2)["cluster"]
    assert doc(backlog, 2)["cluster_size"] == 2


def test_a_repost_crawled_a_night_later_joins_its_original_in_the_backlog(backlog):
    spool = Spool(backlog.spool_dir)
    text = "代发！金水区一小区一楼八十多岁的老人被困，水已经淹到腰了还在涨，求救援队！"
    original = analyze_post({"id": "4662000000000201", "source": "fixture", "text": text})
    write_posts(backlog.client, backlog.names, [original], spool, same_episode)
    relay = {"id": "4662000000000203", "source": "fixture", "text": "帮扩！还在等救援"}
    repost = analyze_post({**relay, "repost_of": "4662000000000201"})
    write_posts(backlog.client, backlog.names, [repost], spool, same_episode)
    assert (
        doc(backlog, "4662000000000203")["cluster"] == doc(backlog, "4662000000000201")["cluster"]
    )


def test_a_repost_of_a_late_member_of_a_big_cluster_still_joins_it(backlog):
    spool = Spool(backlog.spool_dir)
    # Two members carry the cluster's keys; the third keeps only its own relay key.
    for day, n in ((5, 1), (6, 2), (7, 4662000000000777)):
        post = templated(n, "陈某某", "67", "发烧五天，咳嗽，社区登记后没有床位。", day=day)
        write_posts(backlog.client, backlog.names, [post], spool, same_episode)
    late = doc(backlog, 4662000000000777)
    assert [k for k in late["dedup_keys"] if not k.startswith("post:")] == []
    relay = {"id": "4662000000000778", "source": "fixture", "text": "扩！还没床位"}
    repost = analyze_post({**relay, "repost_of": "4662000000000777"})
    write_posts(backlog.client, backlog.names, [repost], spool, same_episode)
    assert (
        doc(backlog, 4662000000000778)["cluster"] == doc(backlog, 1)["cluster"] == late["cluster"]
    )


def _by(n, author, text, day):
    post = {"id": str(n), "source": "fixture", "text": text, "author": author}
    return analyze_post({**post, "posted_at": f"2020-02-{day:02d}T10:00:00+08:00"})


def test_an_update_crawled_later_finds_its_request_through_the_author_or_a_citing_repost(backlog):
    spool = Spool(backlog.spool_dir)
    request = _by(1, "硚口的小女儿", "我爸尿毒症，透析中心停了，已经一周没透析，腿肿了，求医院", 5)
    write_posts(backlog.client, backlog.names, [request], spool, same_episode)
    # The same account's update, and a stranger's repost that names the account.
    update = _by(2, "硚口的小女儿", "谢谢大家，我爸今天在另一家医院做上透析了", 7)
    repost = _by(3, "路人丙", "扩！//@硚口的小女儿:我爸尿毒症一周没透析了", 5)
    other = _by(4, "硚口的小女儿", "我妈也开始发烧了，求床位", 7)
    write_posts(backlog.client, backlog.names, [update], spool, same_episode)
    write_posts(backlog.client, backlog.names, [repost], spool, same_episode)
    write_posts(backlog.client, backlog.names, [other], spool, same_episode)
    cluster = doc(backlog, 1)["cluster"]
    assert doc(backlog, 2)["cluster"] == doc(backlog, 3)["cluster"] == cluster
    # The same account writing about another person starts another episode.
    assert doc(backlog, 4)["cluster"] != cluster
    assert doc(backlog, 1)["cluster_size"] == 3


def test_a_newsroom_follow_up_crawled_later_joins_the_one_request_it_fits(backlog):
    spool = Spool(backlog.spool_dir)
    home = "我家在硚口区宝丰街道，我爸尿毒症，透析中心停了，已经五天没透了，腿肿得厉害"
    write_posts(backlog.client, backlog.names, [_by(1, "硚口的女儿", home, 1)], spool, same_episode)
    news = "此前网友求助的硚口区一名尿毒症透析患者，已由区卫健局协调到另一家医院进行血液透析。"
    write_posts(backlog.client, backlog.names, [_by(2, "长江日报", news, 4)], spool, same_episode)
    assert doc(backlog, 2)["cluster"] == doc(backlog, 1)["cluster"]
    # A second fitting request: the next such follow-up is ambiguous and stays apart.
    second = "硚口区汉正街我外公尿毒症，医院停了透析，求哪里能透析"
    write_posts(backlog.client, backlog.names, [_by(3, "外孙", second, 5)], spool, same_episode)
    again = "记者获悉，此前在网上求助的硚口区尿毒症患者，目前已恢复每周三次透析。"
    write_posts(backlog.client, backlog.names, [_by(4, "长江晚报", again, 6)], spool, same_episode)
    assert doc(backlog, 4)["cluster"] not in (
        doc(backlog, 1)["cluster"],
        doc(backlog, 3)["cluster"],
    )


def test_a_detached_post_stays_apart_through_re_ingestion_and_new_links(backlog):
    from index.merge import detach
    from index.workflow import Actor

    spool = Spool(backlog.spool_dir)
    request = _by(1, "江夏的小橙子", "我妈乳腺癌化疗停了九天，一直吐，我们在江夏纸坊，求医院", 5)
    wrong = _by(2, "江夏的小橙子", "谢谢大家，化疗的事有医院接了，不用再转了", 6)
    for post in (request, wrong):
        write_posts(backlog.client, backlog.names, [post], spool, same_episode)
    assert doc(backlog, 2)["cluster"] == doc(backlog, 1)["cluster"]
    detach(backlog.client, backlog.names, "fixture:2", Actor("disp", "dispatcher"))
    apart = doc(backlog, 2)["cluster"]
    assert apart != doc(backlog, 1)["cluster"] and doc(backlog, 2)["apart_from"] == ["fixture:1"]
    # Crawled again, and a new post of the same account that links to both.
    again = _by(3, "江夏的小橙子", "谢谢大家，化疗的事有医院接了", 7)
    for post in (wrong, again):
        write_posts(backlog.client, backlog.names, [post], spool, same_episode)
    assert doc(backlog, 2)["cluster"] == apart
    assert doc(backlog, 3)["cluster"] in (doc(backlog, 1)["cluster"], apart)
    assert doc(backlog, 1)["cluster"] != apart
    assert doc(backlog, 2)["cluster_size"] + doc(backlog, 1)["cluster_size"] == 3
