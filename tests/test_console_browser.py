"""The console end to end in a real headless Chromium against a real server and backlog."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import uvicorn
from helpers_api import PASSWORD, XSS, add_users, stock
from helpers_backlog import jsonl
from helpers_demo import free_port
from playwright.sync_api import expect

from api.app import create_app
from index.load import load

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "reports" / "screenshots"


@pytest.fixture
def server(backlog):
    stock(backlog)
    add_users(backlog)
    port = free_port()
    config = uvicorn.Config(
        create_app(secret=b"browser"), host="127.0.0.1", port=port, log_level="warning"
    )
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
        page = context.new_page()
        page.dialogs = []  # type: ignore[attr-defined]
        page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
        yield page
        context.close()
        browser.close()


def _login(page, server, name):
    page.goto(f"{server}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_dispatcher_searches_filters_opens_a_cluster_assigns_and_resolves(server, page):
    _login(page, server, "disp")
    page.wait_for_selector("#rows .row")
    assert page.locator("#rows .row").count() == 6
    # The critical cluster comes first and says it has three posts from two sources.
    first = page.locator("#rows .row").first
    assert "危重" in first.inner_text() and "3 条重复" in first.inner_text()

    page.fill("#q", "买菜")
    page.click("#search-form button")
    expect(page.locator("#rows .row")).to_have_count(1)
    page.click("#clear")
    expect(page.locator("#rows .row")).to_have_count(6)

    page.select_option("#district", "武昌区")
    expect(page.locator("#rows .row")).to_have_count(2)
    page.check("#facets input[data-param=need][value=food]")
    expect(page.locator("#rows .row")).to_have_count(1)
    assert "独居老人" in page.locator("#rows .row").first.inner_text()
    page.click("#clear")
    expect(page.locator("#rows .row")).to_have_count(6)

    # Expand the critical cluster: every member with its time and link.
    page.locator("#rows .row").first.locator(".cluster-size").click()
    members = page.locator("#rows .row").first.locator(".members .member")
    members.first.wait_for()
    assert members.count() == 3
    assert members.first.locator("a").get_attribute("href") == "https://douban.example/2"
    page.screenshot(path=str(SCREENSHOTS / "dispatcher.png"), full_page=False)

    # Open the transport request, assign it to a team and a volunteer, then resolve it.
    page.locator("#rows .row", has_text="透析").click()
    page.wait_for_selector("#workflow")
    assert page.locator("#suggestion").count() == 0  # no outcome update on this request
    page.select_option("#wf-team", "transport")
    page.fill("#wf-assignee", "江汉车队")
    page.fill("#wf-note", "已联系司机")
    page.click("#workflow button[type=submit]")
    expect(page.locator("#history")).to_contain_text("江汉车队")
    assert page.locator("#wf-status option[value=resolved]").count() == 1
    page.select_option("#wf-status", "resolved")
    page.click("#workflow button[type=submit]")
    expect(page.locator("#history")).to_contain_text("已解决")
    history = page.inner_text("#history")
    assert "已分派" in history and "已联系司机" in history
    page.screenshot(path=str(SCREENSHOTS / "dispatcher-detail.png"), full_page=False)

    # A post whose full text could not be fetched carries the mark, in its row and detail.
    marked = page.locator("#rows .row", has_text="奶粉")
    assert marked.locator(".tag.truncated").inner_text() == "全文未取到"
    assert page.locator("#rows .tag.truncated").count() == 1
    marked.click()
    page.wait_for_selector("#truncated-note")
    assert "全文未能取到" in page.inner_text("#truncated-note")
    page.locator("#rows .row", has_text="透析").click()
    expect(page.locator("#detail-text")).to_contain_text("透析")
    assert page.locator("#truncated-note").count() == 0

    # The critical request shows the outcome update and suggests closing it.
    page.locator("#rows .row").first.click()
    page.wait_for_selector("#suggestion")
    assert "已收治" in page.inner_text("#suggestion")
    assert page.dialogs == []


def test_dispatcher_works_the_overdue_queue(server, page):
    # Every invented request was posted in 2020: all six clusters wait past their target.
    _login(page, server, "disp")
    page.wait_for_selector("#rows .row")
    queue = page.locator("#overdue")
    expect(queue).to_have_text("超时 6（危急 1）")
    assert "has-critical" in (queue.get_attribute("class") or "")
    first = page.locator("#rows .row").first
    assert "超时" in first.locator(".clock").inner_text()
    queue.click()
    expect(queue).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#rows .row .clock-overdue")).to_have_count(6)
    # Taking one on stops its clock: it leaves the queue, late.
    page.locator("#rows .row", has_text="透析").click()
    page.wait_for_selector("#workflow")
    page.select_option("#wf-status", "assigned")
    page.click("#workflow button[type=submit]")
    expect(page.locator("#history")).to_contain_text("已分派")
    page.click("#search-form button")
    expect(queue).to_have_text("超时 5（危急 1）")
    expect(page.locator("#rows .row")).to_have_count(5)
    queue.click()
    expect(queue).to_have_attribute("aria-pressed", "false")
    answered = page.locator("#rows .row", has_text="透析").locator(".clock")
    expect(answered).to_contain_text("后响应（超时）")
    page.screenshot(path=str(SCREENSHOTS / "dispatcher-overdue.png"), full_page=False)
    assert page.dialogs == []


def test_dispatcher_detaches_a_wrongly_linked_post_from_its_cluster(server, page):
    _login(page, server, "disp")
    page.wait_for_selector("#rows .row")
    # The critical cluster of three posts: take its last member out.
    page.locator("#rows .row").first.click()
    page.wait_for_selector(".detail-members .member")
    members = page.locator(".detail-members .member")
    assert members.count() == 3
    leaving = members.nth(2).locator(".detach").get_attribute("data-request")
    members.nth(2).locator(".detach").click()
    expect(page.locator(".detail-members .member")).to_have_count(2)
    assert leaving not in page.inner_text(".detail-members")
    expect(page.locator("#rows .row").first).to_contain_text("2 条重复")
    # The detached post stands alone, and its history says who took it out.
    page.fill("#q", "")
    detached = page.evaluate(
        "async (id) => (await (await fetch(`/api/requests/${encodeURIComponent(id)}`,"
        " {credentials: 'same-origin'})).json())",
        leaving,
    )
    assert detached["cluster_size"] == 1
    assert [e["action"] for e in detached["history"]][-1] == "detach"
    assert page.dialogs == []


def test_dispatcher_links_an_offer_to_a_request_and_analysts_see_it_counted(server, page, backlog):
    # An invented offer of cars in 江汉区, where a dialysis patient needs transport.
    offer = {
        "id": "o1",
        "source": "weibo",
        "url": "https://weibo.example/o1",
        "kind": "offer",
        "text": "江汉区 出租车司机可提供2辆车免费接送透析病人",
        "needs": ["transport"],
        "province": "湖北省",
        "city": "武汉市",
        "district": "江汉区",
        "posted_at": "2020-02-06T09:00:00+08:00",
        "offer": {"capacity": 2, "unit": "辆"},
    }
    load(backlog.client, backlog.names, jsonl(offer))
    backlog.refresh()
    _login(page, server, "disp")
    row = page.locator("#rows .row", has_text="透析病人没有车")
    expect(row.locator(".offers-near")).to_have_text("可用帮助 1")
    row.click()
    page.wait_for_selector("#match-list .match")
    match = page.locator("#match-list .match").first
    expect(match).to_contain_text("可提供 2辆，已关联 0")
    match.locator(".link-offer").click()
    expect(page.locator("#linked .match")).to_have_count(1)
    expect(page.locator("#history")).to_contain_text("关联了 weibo:o1")
    expect(page.locator("#history")).to_contain_text("已分派")
    linked = page.evaluate(
        "async () => (await (await fetch('/api/requests/weibo:o1',"
        " {credentials: 'same-origin'})).json())"
    )
    assert linked["offer_used"] == 1 and linked["offer_used_up"] is False
    assert len(linked["links"]) == 1
    page.screenshot(path=str(SCREENSHOTS / "dispatcher-offer-linked.png"), full_page=False)
    # The analysts' table: the request is answered, the offer still has a car left.
    page.context.clear_cookies()
    _login(page, server, "ana")
    table = page.locator("#supply-table")
    expect(table).to_contain_text("交通出行")
    cells = table.locator("tr", has_text="交通出行").first.locator("td").all_inner_texts()
    assert cells == ["江汉区", "交通出行", "0", "1", "-1"]
    assert page.dialogs == []


def test_dispatcher_corrects_needs_urgency_and_place_and_it_is_kept(server, page, backlog):
    _login(page, server, "disp")
    page.locator("#rows .row", has_text="透析病人没有车").click()
    page.wait_for_selector("#correction")
    page.select_option("#co-urgency", "critical")
    page.check("#co-need-urgent_care")
    page.select_option("#co-district", "江岸区")
    page.click("#correction button[type=submit]")
    expect(page.locator("#correction")).to_contain_text("已人工修正：需求、地点、紧急程度")
    history = page.locator("#history")
    expect(history).to_contain_text("修正紧急程度：一般 → 危重")
    expect(history).to_contain_text("修正区：江汉区 → 江岸区")
    # The list shows it as corrected at once, first among the critical ones.
    row = page.locator("#rows .row", has_text="透析病人没有车")
    expect(row.locator(".badge")).to_have_text("危重")
    page.screenshot(path=str(SCREENSHOTS / "dispatcher-correction.png"), full_page=False)
    # Kept as a training example, and re-ingestion does not undo it.
    from helpers_api import stock

    stock(backlog)
    page.reload()
    page.locator("#rows .row", has_text="透析病人没有车").click()
    expect(page.locator("#correction")).to_contain_text("已人工修正")
    assert page.locator("#co-urgency").input_value() == "critical"
    assert page.dialogs == []


def test_crawled_markup_renders_as_inert_text(server, page):
    _login(page, server, "disp")
    page.fill("#q", "核酸")
    page.click("#search-form button")
    expect(page.locator("#rows .row")).to_have_count(1)
    row = page.locator("#rows .row").first
    assert XSS in row.inner_text()
    row.click()
    page.wait_for_selector("#detail-text")
    assert XSS in page.inner_text("#detail-text")
    page.click("#reveal")
    page.wait_for_selector("#contact .full")
    assert XSS in page.inner_text("#contact .full")
    page.wait_for_timeout(300)
    assert page.dialogs == []
    assert page.locator("main script, main img").count() == 0
    assert page.locator("img[src=x]").count() == 0


def test_analyst_sees_charts_tables_and_no_contact_data(server, page):
    _login(page, server, "ana")
    assert page.url.endswith("/analyst")
    page.wait_for_selector("#heatmap svg rect[data-value]")
    cells = page.locator("#heatmap svg rect[data-value]")
    assert cells.count() > 0
    page.wait_for_selector("#daily svg path.line")
    page.wait_for_selector("#communities tbody tr")
    assert "中南二路社区" in page.inner_text("#communities")
    # Answered within target: nobody answered the 2020 requests, all of them are late.
    expect(page.locator("#clock-table")).to_contain_text("江岸区")
    expect(page.locator("#cards")).to_contain_text("按时响应")
    assert "0.0%" in page.inner_text("#clock-table")
    assert page.locator("#clock-export").get_attribute("href").startswith("/api/stats/clocks.csv")
    body = page.content()
    assert "13812345678" not in body and "王建国" not in body
    page.screenshot(path=str(SCREENSHOTS / "analyst.png"), full_page=True)
    # An analyst who types the dispatchers' address is sent back to their own page.
    page.goto(f"{server}/")
    assert page.url.endswith("/analyst")


def test_admin_sees_the_runs_empty_state_and_users(server, page):
    _login(page, server, "root")
    page.goto(f"{server}/admin")
    page.wait_for_selector("#users tbody tr")
    assert "还没有采集运行记录" in page.inner_text("#runs")
    assert "ana" in page.inner_text("#users")


def test_admin_compares_a_candidate_model_promotes_it_and_restores(
    tmp_path, monkeypatch, server, page
):
    import shutil

    from classify import model as model_module
    from classify import registry

    monkeypatch.setenv("QIUZHU_VAR_DIR", str(tmp_path / "var"))
    registry.folder().mkdir(parents=True)
    shutil.copy(model_module.SHIPPED, registry.folder() / "model-0123456789ab.zip")
    _login(page, server, "root")
    page.goto(f"{server}/admin")
    page.wait_for_selector("#model-table tbody tr")
    expect(page.locator("#model-current")).to_contain_text("当前模型：shipped")
    candidate = page.locator("#model-table tr[data-model='model-0123456789ab.zip']")
    # Its frozen-test figures stand beside the current model's.
    assert candidate.locator("td").nth(5).inner_text() != "—"
    expect(page.locator("#drift")).to_contain_text("还没有修正")
    expect(page.locator("#teaching-table tr[data-need='food']")).to_contain_text("生活物资")
    candidate.locator(".promote").click()
    expect(page.locator("#model-current")).to_contain_text("model-0123456789ab.zip")
    assert registry.chosen() == registry.folder() / "model-0123456789ab.zip"
    page.click("#model-restore")
    expect(page.locator("#model-current")).to_contain_text("当前模型：shipped")
    page.screenshot(path=str(SCREENSHOTS / "admin-models.png"), full_page=True)
    assert page.dialogs == []
