"""Analysts' counts and the streamed CSV export through the API."""

from __future__ import annotations

import csv
import io

import pytest
from helpers_api import NAME, PHONE, POSTS, app_client, shared_backlog, token_headers

from index import export
from index.search import Filters
from index.workflow import Actor, change


@pytest.fixture(scope="module")
def backlog(es_client):
    yield from shared_backlog(es_client, "stats")


@pytest.fixture(scope="module")
def client(backlog, es_urls):
    yield from app_client(backlog, es_urls)


@pytest.fixture(scope="module")
def ana(backlog):
    return token_headers(backlog, "ana")


def test_overview_counts_requests_not_reposts_and_the_unlocated_share(client, ana):
    body = client.get("/api/stats/overview", headers=ana).json()
    # Seven posts are requests (the update is not); c-a holds two of them.
    assert (body["posts"], body["requests"], body["unlocated"]) == (7, 6, 1)
    assert body["unlocated_share"] == round(1 / 6, 4)


def test_grid_counts_district_by_need_by_day(client, ana):
    body = client.get("/api/stats/grid", headers=ana).json()
    cells = {(c["district"], c["need"]): c["requests"] for c in body["cells"]}
    assert cells[("江岸区", "bed")] == 1 and cells[("武昌区", "food")] == 1
    assert cells[("（未定位）", "testing")] == 1
    assert sum(d["requests"] for d in body["daily"]) >= 6
    assert {"district", "need", "day", "requests", "posts"} <= set(body["rows"][0])


def test_grid_follows_the_filters(client, ana):
    body = client.get("/api/stats/grid?district=武昌区", headers=ana).json()
    assert {c["district"] for c in body["cells"]} == {"武昌区"}


def test_backlog_age_buckets_open_requests_as_of_a_time(client, ana):
    body = client.get("/api/stats/age?as_of=2020-02-08T00:00:00%2B08:00", headers=ana).json()
    assert body["open"] == 6 and sum(b["requests"] for b in body["buckets"]) == 6
    assert body["longest_wait_hours"] == 65.0  # douban:2, posted 2020-02-05 07:00


def test_resolution_time_comes_from_the_first_resolved_event(client, backlog, ana):
    actor = Actor("disp", "dispatcher")
    change(backlog.client, backlog.names, "weibo:6", actor, status="assigned")
    change(backlog.client, backlog.names, "weibo:6", actor, status="resolved")
    body = client.get("/api/stats/resolution", headers=ana).json()
    assert body["resolved"] == 1 and body["median_hours"] > 24 * 365


def test_communities_list_food_and_supplies_needs(client, ana):
    rows = client.get("/api/stats/communities", headers=ana).json()["communities"]
    by_name = {r["community"]: r for r in rows}
    assert by_name["中南二路社区"]["needs"] == {"food": 1, "supplies": 1}
    assert by_name["中南二路社区"]["street"] == "中南路街道"
    assert by_name["易家社区"]["needs"] == {"food": 1}
    assert "百步亭社区" not in by_name  # a bed request is not a supplies need


def _csv(response):
    text = response.content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_export_streams_every_post_of_the_view_masked(client, ana):
    response = client.get("/api/export.csv", headers=ana)
    assert response.headers["content-type"].startswith("text/csv")
    rows = _csv(response)
    assert len(rows) == len(POSTS)
    assert "phones" not in rows[0] and "url" not in rows[0]
    assert PHONE not in response.text and NAME not in response.text


def test_export_follows_the_filters(client, ana):
    rows = _csv(client.get("/api/export.csv?district=武昌区&need=food", headers=ana))
    assert [r["id"] for r in rows] == ["weibo:4"] and rows[0]["needs"] == "food"


def test_dispatchers_export_contacts_only_on_purpose_and_it_is_recorded(client, backlog):
    headers = token_headers(backlog, "disp")
    masked = client.get("/api/export.csv", headers=headers)
    assert PHONE not in masked.text
    full = client.get("/api/export.csv?contacts=true&district=江岸区", headers=headers)
    rows = _csv(full)
    assert {r["names"] for r in rows} == {NAME} and PHONE in full.text
    backlog.refresh()
    recorded = backlog.client.count(
        index=backlog.names.events, query={"term": {"action": "export_contacts"}}
    )["count"]
    assert recorded == 1


def test_export_pages_through_more_rows_than_one_page(backlog, monkeypatch):
    monkeypatch.setattr(export, "PAGE", 3)
    lines = list(export.rows(backlog.client, backlog.names, Filters(), contacts=False, links=False))
    assert len(lines) == 1 + len(POSTS)
    assert len({line.split(",")[0] for line in lines[1:]}) == len(POSTS)


def test_export_neutralises_spreadsheet_formulas():
    assert export.cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert export.cell(["a", "b"]) == "a|b"


def test_stats_refuse_bad_parameters(client, ana):
    response = client.get("/api/stats/grid?need=unicorns", headers=ana)
    assert response.status_code == 400 and "Unknown need" in response.json()["error"]
    response = client.get("/api/stats/age?as_of=soon", headers=ana)
    assert response.status_code == 400 and "as_of" in response.json()["error"]


def test_admins_see_an_empty_runs_list_when_no_run_was_recorded(client, backlog):
    body = client.get("/api/admin/runs", headers=token_headers(backlog, "root")).json()
    assert body == {"runs": []}


def test_admins_see_recorded_runs(client, backlog):
    backlog.client.index(
        index=backlog.names.runs,
        document={
            "run_id": "r1",
            "status": "ok",
            "started_at": "2020-02-08T01:00:00Z",
            "totals": {"items": 12},
        },
        refresh=True,
    )
    body = client.get("/api/admin/runs", headers=token_headers(backlog, "root")).json()
    assert body["runs"][0]["totals"] == {"items": 12}
    users = client.get("/api/admin/users", headers=token_headers(backlog, "root")).json()
    assert {u["name"] for u in users["users"]} >= {"disp", "ana", "root"}
    assert "password_hash" not in str(users)
