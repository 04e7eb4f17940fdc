"""Every spider kind against lists in any order that grow between crawls: nothing is missed.

Six crawls of the fixture site (tests/fixtures_orders.py) share one state folder:
A round 1 (a first crawl), B round 2 (8 new posts, 2 of them published late), C round 3
(6 more), D round 3 again (nothing new), E round 4 (one post published 40 hours late),
F round 4 a day later (the full re-reads are due).
"""

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fixtures_crawl import CrawlResult, run_crawl
from fixtures_orders import OrderServer, OrderSite, kind_of, write_registry

from crawlers.demo_site import start_demo_site
from crawlers.registry import load_sources
from crawlers.report import OUTCOMES

pytestmark = pytest.mark.slow

RUNS = (("A", 1), ("B", 2), ("C", 3), ("D", 3), ("E", 4), ("F", 4))
PAGED = ("weibo", "forum", "board")


@dataclass
class Crawls:
    site: OrderSite
    runs: dict[str, CrawlResult]
    sources: list[str]
    state: Path


def age_full_reads(state: Path, hours: float) -> None:
    """Make every source's last full re-read HOURS older, as if a day had passed."""
    for path in state.glob("*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("full_read_at"):
            when = datetime.fromisoformat(data["full_read_at"]) - timedelta(hours=hours)
            data["full_read_at"] = when.isoformat()
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


@pytest.fixture(scope="module", name="crawls")
def crawls_fixture(tmp_path_factory):
    folder = tmp_path_factory.mktemp("orders")
    registry = write_registry(folder)
    state = folder / "state"
    site = OrderSite()
    runs = {}
    with start_demo_site(site=site) as (url, _):
        server = OrderServer(url, site)
        for name, round_no in RUNS:
            if name == "F":
                age_full_reads(state, hours=25)
            site.round = round_no
            result = run_crawl(
                server, folder, "--registry", str(registry), "--state-dir", str(state)
            )
            assert result.returncode == 0, result.log[-3000:]
            runs[name] = result
    sources = list(load_sources(registry))
    return Crawls(site, runs, sources, state)


def expected_ids(crawls, source):
    return {item_id(crawls, source, p["number"]) for p in crawls.site.posts[kind_of(source)]}


def number_of(crawls, kind, number):
    return next(p["id"] for p in crawls.site.posts[kind] if p["number"] == number)


def item_id(crawls, source, number):
    post_id = number_of(crawls, kind_of(source), number)
    if source.startswith("atom"):
        return f"{source}:tag:demo.qiuzhu,2020:{post_id}"
    return f"{source}:{post_id}"


def test_every_post_is_crawled_exactly_once_over_the_runs(crawls):
    items = [item for name, _ in RUNS for item in crawls.runs[name].items]
    emitted = Counter(item["id"] for item in items)
    truncated_then_whole = {
        f"{s}:{number_of(crawls, 'weibo', 27)}" for s in crawls.sources if s.startswith("weibo")
    }
    for source in crawls.sources:
        mine = {i: n for i, n in emitted.items() if i.startswith(f"{source}:")}
        assert set(mine) == expected_ids(crawls, source), source
        twice = {i for i, n in mine.items() if n > 1}
        assert twice == (truncated_then_whole & set(mine)), source
    assert max(emitted.values()) == 2


def test_new_posts_add_up_to_every_post_of_every_source(crawls):
    for source in crawls.sources:
        new = sum(crawls.runs[name].reports[source]["posts"]["new"] for name, _ in RUNS)
        assert new == len(crawls.site.posts[kind_of(source)]) == 45, source


@pytest.mark.parametrize("run", [name for name, _ in RUNS])
def test_each_report_adds_up(crawls, run):
    for source, report in crawls.runs[run].reports.items():
        posts = report["posts"]
        assert report["finish_reason"] == "finished", source
        assert posts["pending"] == 0, (source, posts)
        assert posts["found"] == sum(posts[k] for k in OUTCOMES), (source, posts)
        assert report["items"] == posts["new"] + posts["changed"], (source, posts)
        assert report["dropped"].get("seen", 0) == posts["seen"]


@pytest.mark.parametrize(
    ("source", "counts", "pages"),
    [
        # Page 4 of 7 posts holds only posts older than the cutoff (mark 58 h less 24 h):
        # 3 list pages read; the post whose full text failed in A comes back whole.
        ("weibo-newest", {"found": 28, "new": 8, "changed": 1, "seen": 12, "old": 7}, 7),
        ("weibo-oldest", {"found": 38, "new": 8, "changed": 1, "seen": 12, "old": 17}, 9),
        # The thread that answered 500 in A is read on its retry: 9 new.
        ("forum-newest", {"found": 24, "new": 9, "changed": 0, "seen": 12, "old": 3}, 24),
        ("forum-oldest", {"found": 38, "new": 9, "changed": 0, "seen": 12, "old": 17}, 26),
        ("board-newest", {"found": 24, "new": 8, "changed": 0, "seen": 13, "old": 3}, 25),
        ("board-oldest", {"found": 38, "new": 8, "changed": 0, "seen": 13, "old": 17}, 29),
        ("rss-unordered", {"found": 38, "new": 8, "changed": 0, "seen": 13, "old": 17}, 1),
        ("sheet-oldest", {"found": 38, "new": 8, "changed": 0, "seen": 13, "old": 17}, 1),
    ],
)
def test_second_run_counts_exactly(crawls, source, counts, pages):
    report = crawls.runs["B"].reports[source]
    assert {k: report["posts"][k] for k in counts} == counts
    assert report["posts"]["failed"] == 0
    assert report["pages"] == pages


def test_newest_first_stops_paging_early_and_oldest_first_reads_to_the_end(crawls):
    second = crawls.runs["B"].reports
    for kind in PAGED:
        assert second[f"{kind}-newest"]["paging"]["stopped_early"] is True
        assert "stopped_early" not in second[f"{kind}-oldest"]["paging"]
        assert second[f"{kind}-newest"]["pages"] < second[f"{kind}-oldest"]["pages"]


def test_a_list_not_in_the_declared_order_costs_pages_never_posts(crawls):
    for name, _ in RUNS:
        reports = crawls.runs[name].reports
        for kind in PAGED:
            undeclared = reports[f"{kind}-undeclared"]
            assert "a post of" in undeclared["paging"]["out_of_order"]
            assert any("is not newest_first" in w for w in undeclared["warnings"])
            assert undeclared["posts"] == reports[f"{kind}-oldest"]["posts"], (name, kind)
    log = crawls.runs["B"].log
    assert "source forum-undeclared: its list is not newest_first" in log


def test_truncated_long_text_is_marked_and_fetched_again_next_run(crawls):
    post_id = f"weibo-newest:{number_of(crawls, 'weibo', 27)}"
    first, second = crawls.runs["A"].by_id[post_id], crawls.runs["B"].by_id[post_id]
    assert first["truncated"] is True and first["text"].endswith("全文")
    assert second["truncated"] is False and "水已经漫到楼梯口" in second["text"]
    assert crawls.runs["A"].reports["weibo-newest"]["posts"]["truncated"] == 1
    assert crawls.runs["A"].reports["weibo-newest"]["errors"] == {"http_500": 1}
    assert crawls.runs["B"].reports["weibo-newest"]["posts"]["truncated"] == 0
    whole = crawls.runs["A"].by_id[f"weibo-newest:{number_of(crawls, 'weibo', 21)}"]
    assert whole["truncated"] is False and "全文" not in whole["text"]


def test_a_post_whose_page_failed_is_retried_by_the_next_run(crawls):
    post_id = f"forum-oldest:{number_of(crawls, 'forum', 25)}"
    assert post_id not in crawls.runs["A"].by_id
    assert crawls.runs["A"].reports["forum-oldest"]["posts"]["failed"] == 1
    assert crawls.runs["B"].by_id[post_id]["text"]
    state = json.loads((crawls.state / "forum-oldest.json").read_text(encoding="utf-8"))
    assert state["retry"] == {}


def test_a_post_published_later_than_the_overlap_is_found_by_the_full_re_read(crawls):
    found = {}
    for source in crawls.sources:
        late = item_id(crawls, source, 44)  # round 4's, dated 40 h before the mark
        found[source] = next(n for n in ("E", "F") if late in crawls.runs[n].by_id)
    # A crawl that reads the page it is on (a whole feed or sheet, a list read to its end)
    # reads it at once: the seen-set does not know it. A newest-first list stops before
    # it; the full re-read due a day later finds it.
    assert found["rss-newest"] == found["sheet-newest"] == found["xlsx-unordered"] == "E"
    for kind in PAGED:
        assert found[f"{kind}-oldest"] == "E"
        assert found[f"{kind}-newest"] == "F"
        for order in ("newest", "oldest", "unordered"):
            assert crawls.runs["F"].reports[f"{kind}-{order}"]["paging"]["full_read"] is True
            assert "full_read" not in crawls.runs["E"].reports[f"{kind}-{order}"]["paging"]
    assert "(finished, full read)" in crawls.runs["F"].log


def test_a_crawl_that_finds_nothing_new_says_so(crawls):
    quiet = crawls.runs["D"].reports
    for source in crawls.sources:
        assert any("found nothing new" in w for w in quiet[source]["warnings"]), source
        assert not any(
            "found nothing new" in w for w in crawls.runs["C"].reports[source]["warnings"]
        )
    assert "source board-newest: read " in crawls.runs["D"].log


def test_message_board_takes_list_fields_under_detail_fields(crawls):
    items = crawls.runs["A"].of("board-newest")
    assert len(items) == 30
    for item in items:
        number = int(item["source_id"]) - 7001
        assert item["title"].endswith(f"（第{number}号）")  # only the list record has it
        assert item["reply_state"] == ("已回复" if number % 2 else "未回复")
        assert item["author"].startswith("互助志愿者")  # only the detail has it
        assert item["posted_at"].startswith("2021-07-2")


def test_message_board_pages_to_the_end_whatever_the_page_size(crawls):
    # board-repeat asks for 20 a page, the site serves 6 and answers every page past the
    # last with the last page again: paging ends there, after all 30 posts.
    first = crawls.runs["A"].reports
    assert first["board-repeat"]["posts"]["new"] == 30
    assert first["board-repeat"]["pages"] == 5 + 1 + 30  # five pages, the repeat, details
    assert first["board-newest"]["pages"] == 5 + 1 + 30  # five pages, an empty one, details


def test_no_pipeline_warnings_when_indexing_is_off(crawls):
    log = crawls.runs["A"].log
    assert "Disabled pipeline" not in log
    assert log.count("classifying and indexing off") == 1


def test_state_files_are_private_and_bounded(crawls):
    for path in crawls.state.glob("*.json"):
        assert path.stat().st_mode & 0o077 == 0, path
        data = json.loads(path.read_text(encoding="utf-8"))
        assert len(data["seen"]) <= 45
        assert set(data["posted"]) <= set(data["seen"])
