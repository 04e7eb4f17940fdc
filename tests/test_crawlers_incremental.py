"""A second crawl emits only what is new or changed, and reads less (high-water mark)."""

import pytest
from fixtures_crawl import demo_server_fixture, run_crawl  # noqa: F401

pytestmark = pytest.mark.slow

SOURCES = [
    "weibo-topic-demo",
    "board-demo",
    "forum-gbk-demo",
    "feed-volunteers-demo",
    "sheet-volunteers-csv-demo",
]


def test_second_run_emits_only_new_and_changed_items(demo_server, tmp_path):
    demo_server.site.round = 1
    first = run_crawl(demo_server, tmp_path, *SOURCES)
    assert first.returncode == 0, first.log[-2000:]
    assert len(first.items) > 40

    demo_server.site.round = 2
    second = run_crawl(demo_server, tmp_path, *SOURCES)
    assert second.returncode == 0, second.log[-2000:]
    assert {i["id"] for i in second.items} == {
        # new posts
        "weibo-topic-demo:4468000000000126",
        "weibo-topic-demo:4468000000000127",
        "board-demo:9011",
        "forum-gbk-demo:3013",
        "feed-volunteers-demo:rss-007",
        "sheet-volunteers-csv-demo:V-008",
        # changed: answered since, and deleted at the source since
        "board-demo:9005",
        "forum-gbk-demo:3020",
    }
    assert second.by_id["board-demo:9005"]["reply_state"] == "已回复"
    assert second.by_id["forum-gbk-demo:3020"]["deleted"] is True
    assert "已住院" in second.by_id["weibo-topic-demo:4468000000000126"]["text"]
    # Paging stops once past the mark less the overlap window.
    assert second.reports["weibo-topic-demo"]["pages"] < first.reports["weibo-topic-demo"]["pages"]
    assert second.reports["board-demo"]["pages"] < first.reports["board-demo"]["pages"]

    third = run_crawl(demo_server, tmp_path, *SOURCES)
    assert third.returncode == 0
    assert third.items == []
    demo_server.site.round = 1
