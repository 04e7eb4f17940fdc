"""Search: pure query building, and filters and ordering against the real backlog."""

from __future__ import annotations

from datetime import date

import pytest
from helpers_backlog import jsonl, post

from index import stats, views
from index.load import load
from index.mapping import names
from index.search import Filters, build_search, run_search
from qiuzhu.errors import InvalidInput


def test_build_search_is_pure_and_filters_without_scoring():
    search = build_search(names("p"), Filters(text="发烧", district=["江岸区"], needs=["bed"]))
    body = search.to_dict()
    bool_query = body["query"]["bool"]
    assert {"terms": {"district": ["江岸区"]}} in bool_query["filter"]
    assert {"terms": {"needs": ["bed"]}} in bool_query["filter"]
    # Sorted by urgency, the text only filters: its score must not reorder the list.
    assert bool_query["must"] == [{"match_all": {}}]
    text = bool_query["filter"][-1]["bool"]["must"][0]["simple_query_string"]
    assert text["query"] == "发烧" and text["default_operator"] == "and"
    assert body["sort"][0] == {"cluster_urgency_rank": {"order": "desc"}}
    assert body["collapse"] == {"field": "cluster"}
    # The one scoring clause: an overdue critical request, whatever the sort.
    (lift,) = bool_query["should"]
    assert lift["constant_score"]["boost"] >= 1e6


def test_build_search_by_relevance_scores_the_text():
    body = build_search(names("p"), Filters(text="发烧"), sort="relevance").to_dict()
    text = body["query"]["bool"]["must"][0]["bool"]["must"][0]["simple_query_string"]
    assert text["query"] == "发烧"
    assert body["sort"][0] == "_score"


def test_build_search_without_personal_data_excludes_contact_fields():
    body = build_search(names("p"), Filters(), personal=False).to_dict()
    assert "personal" in body["_source"]["excludes"]
    assert "text" in body["_source"]["excludes"]


@pytest.mark.parametrize(
    ("kwargs", "filters", "message"),
    [
        ({"size": 0}, Filters(), "Page size"),
        ({"size": 500}, Filters(), "Page size"),
        ({"page": 0}, Filters(), "Pages go"),
        ({"page": 1000, "size": 100}, Filters(), "Pages go"),
        ({"sort": "random"}, Filters(), "Unknown sort"),
        ({}, Filters(text="长" * 201), "characters"),
        ({}, Filters(urgency=["soon"]), "Unknown urgency"),
        ({}, Filters(since=date(2020, 3, 1), until=date(2020, 2, 1)), "since"),
    ],
)
def test_build_search_refuses_bad_parameters(kwargs, filters, message):
    with pytest.raises(InvalidInput, match=message):
        build_search(names("p"), filters, **kwargs)


def test_page_body_is_reused_per_view_but_each_caller_gets_its_own_copy():
    where = names("p")
    first = views.page_body(where, Filters(district=["江岸区"]), sort="urgency", page=1, size=20)
    first["size"] = 999
    again = views.page_body(where, Filters(district=["江岸区"]), sort="urgency", page=1, size=20)
    assert again["size"] == 20 and again is not first
    other = views.page_body(where, Filters(district=["武昌区"]), sort="urgency", page=1, size=20)
    assert {"terms": {"district": ["武昌区"]}} in other["query"]["bool"]["filter"]
    assert views.page_body(where, Filters(), page=2, size=20)["from"] == 20


def test_page_body_sends_only_role_safe_fields():
    source = views.page_body(names("p"), Filters())["_source"]
    assert "text_masked" in source["includes"] and "text" not in source["includes"]
    assert {"text", "raw", "personal.phones"} <= set(source["excludes"])


def test_page_body_refuses_bad_parameters_every_time():
    for _ in range(2):
        with pytest.raises(InvalidInput, match="Page size"):
            views.page_body(names("p"), Filters(), size=0)


@pytest.mark.parametrize("build", [stats.overview_body, stats.grid_body])
def test_stats_bodies_are_pure_counts_of_requests_by_default(build):
    body = build(Filters(district=["江岸区"]))
    assert body["size"] == 0
    assert {"terms": {"kind": ["request"]}} in body["query"]["bool"]["filter"]
    assert {"terms": {"district": ["江岸区"]}} in body["query"]["bool"]["filter"]


@pytest.fixture
def stocked(backlog):
    load(
        backlog.client,
        backlog.names,
        jsonl(
            post(1, urgency="normal", text="江岸区 需要买菜 生活物资", needs=["food"]),
            post(
                2,
                urgency="critical",
                text="江岸区 老人呼吸困难 血氧80 急需床位",
                needs=["bed"],
                posted_at="2020-02-05T09:00:00+08:00",
            ),
            post(
                3,
                urgency="critical",
                text="江岸区 孕妇临产 急需就医",
                needs=["urgent_care"],
                posted_at="2020-02-04T09:00:00+08:00",
            ),
            post(
                4,
                urgency="high",
                text="武昌区 发烧四天 需要检测",
                needs=["testing"],
                district="武昌区",
            ),
            post(
                5,
                urgency="normal",
                text="江岸区 转发：老人呼吸困难 急需床位",
                needs=["bed"],
                cluster="c-fixture:2",
            ),
        ),
    )
    backlog.refresh()
    return backlog


def _ids(result):
    return [h["id"] for h in result.hits]


def test_default_order_is_urgency_then_longest_waiting(stocked):
    result = run_search(stocked.client, stocked.names, Filters(), collapse=False)
    assert _ids(result)[:3] == ["fixture:3", "fixture:2", "fixture:4"]
    assert result.total == 5
    # The writer's dedup card is not sent to readers, with personal data or without.
    for personal in (True, False):
        hits = run_search(stocked.client, stocked.names, Filters(), personal=personal).hits
        assert hits and not any("dedup_card" in h for h in hits)


def test_collapse_gives_one_row_per_cluster_ranked_by_its_most_urgent_member(stocked):
    result = run_search(stocked.client, stocked.names, Filters())
    # The cluster of 2 (critical) and 5 (normal, posted earlier) shows its canonical post,
    # ranked as critical: a critical post is never hidden in a cluster.
    assert _ids(result) == ["fixture:3", "fixture:5", "fixture:4", "fixture:1"]
    row = result.hits[1]
    assert (row["cluster_size"], row["is_canonical"], row["cluster_urgency_rank"]) == (2, True, 3)
    assert result.total == 5 and result.clusters == 4


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(district=["武昌区"]), ["fixture:4"]),
        (Filters(needs=["food"]), ["fixture:1"]),
        (Filters(urgency=["critical"]), ["fixture:2", "fixture:3"]),
        (Filters(text="买菜"), ["fixture:1"]),
        (Filters(text="床位", district=["江岸区"]), ["fixture:2", "fixture:5"]),
        (Filters(status=["resolved"]), []),
        (Filters(text='"unbalanced (quote'), []),
    ],
)
def test_filters_narrow_the_backlog(stocked, filters, expected):
    result = run_search(stocked.client, stocked.names, filters, collapse=False)
    assert sorted(_ids(result)) == expected


def test_facets_count_each_filter_value(stocked):
    result = run_search(stocked.client, stocked.names, Filters(), collapse=False)
    assert dict(result.facets["district"]) == {"江岸区": 4, "武昌区": 1}
    assert dict(result.facets["urgency"])["critical"] == 2
    assert dict(result.facets["status"]) == {"new": 5}
