"""Invented backlog and users for the API and console tests (no real person's data)."""

from __future__ import annotations

from typing import Any

from helpers_backlog import jsonl

from index.load import load

PASSWORD = "correct horse battery"
USERS = {"disp": "dispatcher", "disp2": "dispatcher", "ana": "analyst", "root": "admin"}
PHONE = "13812345678"
NAME = "王建国"
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _post(n: int, **extra: Any) -> dict[str, Any]:
    base = {
        "id": str(n),
        "source": "weibo",
        "url": f"https://weibo.example/{n}",
        "kind": "request",
        "urgency": "normal",
        "province": "湖北省",
        "city": "武汉市",
        "posted_at": f"2020-02-{5 + n % 3:02d}T{8 + n % 10:02d}:00:00+08:00",
    }
    base.update(extra)
    return base


POSTS = [
    _post(
        1,
        text=f"江岸区后湖街道百步亭社区 {NAME} 68岁 发烧7天 呼吸困难 电话{PHONE} 求床位",
        needs=["bed"],
        urgency="critical",
        urgency_cues=["呼吸困难"],
        district="江岸区",
        district_code="420102",
        street="后湖街道",
        street_code="420102011",
        community="百步亭社区",
        names=[NAME],
        phones=["138****5678"],
        template={"age": "68", "description": "发烧7天，呼吸困难", "address": "百步亭花园"},
        cluster="c-a",
    ),
    _post(
        2,
        source="douban",
        url="https://douban.example/2",
        text=f"转发：{NAME} 呼吸困难 求床位 联系 {PHONE}",
        needs=["bed"],
        urgency="high",
        district="江岸区",
        names=[NAME],
        cluster="c-a",
        posted_at="2020-02-05T07:00:00+08:00",
    ),
    _post(
        3,
        text=f"更新：{NAME} 已经住院了，谢谢大家",
        kind="update",
        outcome="admitted",
        needs=["bed"],
        district="江岸区",
        names=[NAME],
        cluster="c-a",
        posted_at="2020-02-07T20:00:00+08:00",
    ),
    _post(
        4,
        text="武昌区中南路街道 独居老人家里没有菜了 需要买菜 米面油",
        needs=["food"],
        urgency="high",
        district="武昌区",
        street="中南路街道",
        community="中南二路社区",
    ),
    _post(
        5,
        text="武昌区 社区卫生站缺口罩和防护服",
        needs=["supplies"],
        district="武昌区",
        street="中南路街道",
        community="中南二路社区",
    ),
    _post(6, text="江汉区 透析病人没有车去医院 急需交通", needs=["transport"], district="江汉区"),
    _post(7, text=f"有人知道哪里能做核酸吗 {XSS}", needs=["testing"], source="forum"),
    _post(
        8,
        # The source's full text could not be fetched: the console marks it.
        truncated=True,
        text="硚口区 宝宝奶粉快没了 求助",
        needs=["food"],
        district="硚口区",
        community="易家社区",
    ),
]


def stock(backlog: Any) -> None:
    """Load the invented posts into BACKLOG, keeping their clusters."""
    load(backlog.client, backlog.names, jsonl(*POSTS))
    from index import clusters

    clusters.refresh(backlog.client, backlog.names, {p.get("cluster") or "" for p in POSTS})
    backlog.refresh()


def add_users(backlog: Any) -> None:
    """Create one user per entry of USERS, all with PASSWORD."""
    from index import users

    for name, role in USERS.items():
        users.add_user(backlog.client, backlog.names, name, role, PASSWORD, replace=True)


def login(client: Any, name: str) -> str:
    """Log CLIENT (a TestClient or httpx client) in as NAME; return its CSRF token."""
    response = client.post(
        "/login", data={"name": name, "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return str(client.get("/api/me").json()["csrf"])


class Shared:
    """A stocked backlog shared by the read-only tests of one module."""

    def __init__(self, client: Any, prefix: str) -> None:
        from index.mapping import names

        self.client = client
        self.prefix = prefix
        self.names = names(prefix)

    def refresh(self) -> None:
        self.client.indices.refresh(index=f"{self.prefix}-*")


def shared_backlog(es_client: Any, label: str) -> Any:
    """Yield a stocked backlog with users under a fresh prefix, and drop it afterwards."""
    import uuid

    from index.admin import drop, ensure
    from index.users import ensure_index

    shared = Shared(es_client, f"qiuzhu-test-{label}-{uuid.uuid4().hex[:8]}")
    ensure(es_client, shared.names)
    ensure_index(es_client, shared.names)
    try:
        stock(shared)
        add_users(shared)
        yield shared
    finally:
        drop(es_client, shared.names)


def stock_posts(
    backlog: Any, posts: list[dict[str, Any]], clusters: set[str] | frozenset[str] = frozenset()
) -> Any:
    """Load POSTS into BACKLOG (refreshing CLUSTERS' summaries), publish, add the users."""
    load(backlog.client, backlog.names, jsonl(*posts))
    if clusters:
        from index import clusters as summaries

        summaries.refresh(backlog.client, backlog.names, set(clusters))
    backlog.client.indices.refresh(index=f"{backlog.prefix}-*")
    add_users(backlog)
    return backlog


def api_client() -> Any:
    """Return an in-process client of a fresh app (use it as a context manager)."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    return TestClient(create_app(secret=b"s"))


def token_headers(backlog: Any, name: str) -> dict[str, str]:
    """Return the Authorization header of a fresh API token for user NAME."""
    from index import users

    return {"Authorization": f"Bearer {users.create_token(backlog.client, backlog.names, name)}"}


def app_client(backlog: Any, es_urls: str) -> Any:
    """Yield an in-process client of an app serving BACKLOG."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    app = create_app(es_urls=es_urls.split(","), prefix=backlog.prefix, secret=b"test-secret")
    with TestClient(app) as client:
        yield client
