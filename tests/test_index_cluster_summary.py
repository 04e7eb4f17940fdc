"""Cluster summaries: exact for small clusters, aggregated and amortized for big ones."""

from __future__ import annotations

import random

from elasticsearch import helpers

from index import cluster_summary
from index.backlog import write_batch
from index.bulk import Spool, create_action, write
from index.cluster_summary import BIG_CLUSTER, STALE_GROWTH, aggregated, refresh, summary
from index.documents import crawled_part

SOURCES = ["weibo", "forum", "board", "sheet", "rss"]
EXACT = ("is_canonical", "cluster_urgency_rank", "cluster_update")


def member(n, cluster="c-slogan", posted_at="2020-02-06T10:00:00+08:00", **extra):
    post = {
        "id": f"{n:04d}",
        "source": "weibo",
        "text": "武汉加油！",
        "posted_at": posted_at,
        "kind": "irrelevant",
        "cluster": cluster,
        **extra,
    }
    return crawled_part(post)


def put(backlog, docs):
    report = write(
        backlog.client,
        [create_action(backlog.names.requests, d) for d in docs],
        Spool(backlog.spool_dir),
    )
    assert not report.spooled


def members(backlog, cluster):
    backlog.refresh()
    hits = backlog.client.search(
        index=backlog.names.requests, query={"term": {"cluster": cluster}}, size=1000
    )["hits"]["hits"]
    return [{"_id": h["_id"], **h["_source"]} for h in hits]


def big_mixed_cluster():
    docs = [
        # Real time 00:30 UTC: the earliest, though Elasticsearch reads it as 08:30 UTC,
        # after the thirty posts of 01:00 to 01:29 UTC.
        member(0, posted_at="2020-02-05T08:30:00", source="forum"),
        *(member(1 + i, posted_at=f"2020-02-05T01:{i:02d}:00Z") for i in range(30)),
        *(
            member(40 + i, posted_at=f"2020-02-06T{i % 24:02d}:00:00+08:00", source=s)
            for i, s in enumerate(SOURCES * 8)
        ),
        member(90, posted_at=None, source="board"),
        member(91, urgency="critical", posted_at="2020-02-06T12:00:00+08:00"),
        # Real time 04:00 UTC, the latest update; the naive 11:00 (03:00 UTC) sorts after it.
        member(92, kind="update", outcome="admitted", posted_at="2020-02-07T12:00:00+08:00"),
        member(93, kind="update", outcome="deceased", posted_at="2020-02-07T11:00:00"),
        # The latest post is 02:00 UTC; the naive ones of 09:xx are 01:xx UTC.
        member(94, posted_at="2020-02-09T10:00:00+08:00", source="rss"),
        *(member(100 + i, posted_at=f"2020-02-09T09:{i:02d}:00") for i in range(25)),
    ]
    return docs


def test_aggregated_summary_of_a_big_cluster_equals_the_members_summary(backlog):
    untimed_update = [
        member(200 + i, cluster="c-other", posted_at=f"2020-02-05T{i % 24:02d}:00:00Z")
        for i in range(BIG_CLUSTER)
    ]
    untimed_update += [
        member(300, cluster="c-other", kind="update", outcome="recovered", posted_at=None),
        member(301, cluster="c-other", kind="update", outcome="admitted"),
    ]
    put(backlog, big_mixed_cluster() + untimed_update)
    backlog.refresh()
    found = aggregated(backlog.client, backlog.names, ["c-slogan", "c-other"])
    for cluster in ("c-slogan", "c-other"):
        docs = members(backlog, cluster)
        assert len(docs) > BIG_CLUSTER
        canonical, want = summary(docs)[0]
        assert found[cluster]["canonical"]["_id"] == canonical["_id"]
        assert {**found[cluster]["want"], "is_canonical": True} == want
    slogan = found["c-slogan"]
    assert slogan["canonical"]["_id"] == "forum:0000"
    assert slogan["want"]["cluster_last_at"] == "2020-02-09T10:00:00+08:00"
    assert slogan["want"]["cluster_update"]["outcome"] == "admitted"
    assert slogan["want"]["cluster_urgency_rank"] == 3
    assert slogan["want"]["cluster_sources"][:2] == ["weibo", "board"]
    assert found["c-other"]["want"]["cluster_update"]["id"] == "weibo:0300"
    # A first refresh writes every member its whole summary.
    refresh(backlog.client, backlog.names, ["c-slogan", "c-other"])
    for cluster in ("c-slogan", "c-other"):
        for doc, want in summary(members(backlog, cluster)):
            assert {k: doc[k] for k in want} == want


def check(docs, critical_seen):
    """Assert what a big cluster's members must carry; return the true size."""
    pairs = summary(docs)
    canonical, exact = pairs[0]
    assert {k: canonical[k] for k in exact} == exact
    for doc, want in pairs:
        assert {k: doc[k] for k in EXACT} == {k: want[k] for k in EXACT}, doc["_id"]
        assert set(doc["cluster_sources"]) == set(want["cluster_sources"])
        assert len(docs) <= doc["cluster_size"] * (1 + STALE_GROWTH) + 1e-9
        assert doc["cluster_size"] <= len(docs)
        if critical_seen:
            assert doc["cluster_urgency_rank"] == 3
    return len(docs)


def test_a_growing_big_cluster_stays_exact_where_it_must_with_linear_writes(backlog):
    rng = random.Random(7)

    def joining(n, **extra):
        day = 5 + n // 100
        when = f"2020-02-{day:02d}T{n % 24:02d}:{n % 60:02d}:00+08:00"
        return member(n, posted_at=when, source=rng.choice(SOURCES), **extra)

    put(backlog, [joining(n) for n in range(70)])
    refresh(backlog.client, backlog.names, ["c-slogan"])
    check(members(backlog, "c-slogan"), False)
    written = 0
    critical_seen = False
    for batch, first in enumerate(range(70, 300, 5)):
        docs = [joining(n) for n in range(first, first + 5)]
        if batch == 20:
            docs[2] = joining(first + 2, urgency="critical")
            critical_seen = True
        if batch == 30:
            docs[0] = joining(first, kind="update", outcome="admitted")
        put(backlog, docs)
        written += refresh(backlog.client, backlog.names, ["c-slogan"])
        assert check(members(backlog, "c-slogan"), critical_seen) == first + 5
    # Rewriting every member on every batch would write about 8,600 documents.
    assert 300 <= written <= 3000


def test_a_cluster_crossing_big_from_below_and_a_small_one_stay_right(backlog):
    spool = Spool(backlog.spool_dir)
    small = [member(900 + i, cluster="c-small", source=SOURCES[i]) for i in range(3)]
    size = 0
    for batch in range(10):
        docs = [
            member(size + i, posted_at=f"2020-02-05T{i:02d}:{batch:02d}:00Z") for i in range(10)
        ]
        docs += [small[batch % 3]] if batch < 3 else []
        write_batch(backlog.client, backlog.names, docs, spool)
        size += 10
        big = members(backlog, "c-slogan")
        if size <= BIG_CLUSTER:
            for doc, want in summary(big):
                assert {k: doc[k] for k in want} == want
        else:
            check(big, False)
        for doc, want in summary(members(backlog, "c-small")):
            assert {k: doc[k] for k in want} == want
    assert len(members(backlog, "c-slogan")) == 100 > cluster_summary.BIG_CLUSTER


def test_members_leaving_a_big_cluster_never_leave_it_overstated(backlog):
    from index.clusters import move_members

    put(
        backlog,
        [member(n, posted_at=f"2020-02-05T{n % 24:02d}:{n % 60:02d}:00Z") for n in range(100)],
    )
    refresh(backlog.client, backlog.names, ["c-slogan"])
    leaving = [member(n, cluster="c-leaving") for n in range(100, 120)]
    put(backlog, leaving)
    refresh(backlog.client, backlog.names, ["c-slogan", "c-leaving"])
    # A dispatcher's merge, then its undo: twenty members join and leave again.
    move_members(backlog.client, backlog.names, {"c-leaving": "c-slogan"})
    refresh(backlog.client, backlog.names, ["c-slogan"])
    assert check(members(backlog, "c-slogan"), False) == 120
    back = [
        {
            "_op_type": "update",
            "_index": backlog.names.requests,
            "_id": d["id"],
            "doc": {"cluster": "c-leaving"},
        }
        for d in leaving
    ]
    helpers.bulk(backlog.client, back, refresh=True)
    refresh(backlog.client, backlog.names, ["c-slogan", "c-leaving"])
    assert check(members(backlog, "c-slogan"), False) == 100
    for doc, want in summary(members(backlog, "c-leaving")):
        assert {k: doc[k] for k in want} == want
