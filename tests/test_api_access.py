"""Access to the API: health, login sessions, CSRF, tokens, roles, security headers."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from helpers_api import PASSWORD, USERS, login, shared_backlog, token_headers

from api import auth
from api.app import create_app
from index import users


@pytest.fixture(scope="module")
def backlog(es_client):
    yield from shared_backlog(es_client, "access")


@pytest.fixture(scope="module")
def app(backlog, es_urls):
    return create_app(es_urls=es_urls.split(","), prefix=backlog.prefix, secret=b"test-secret")


@pytest.fixture
def client(app):
    with TestClient(app) as client:
        yield client


def test_health_needs_no_login_and_reports_elasticsearch(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["elasticsearch"] in ("green", "yellow")


def test_health_reports_elasticsearch_down_as_503():
    app = create_app(es_urls=["http://127.0.0.1:9"], secret=b"s")
    with TestClient(app) as client:
        response = client.get("/health")
    assert response.status_code == 503
    assert "did not answer at http://127.0.0.1:9" in response.json()["error"]


def test_api_with_elasticsearch_down_is_503_with_a_clear_message():
    app = create_app(es_urls=["http://127.0.0.1:9"], secret=b"s")
    with TestClient(app) as client:
        response = client.get("/api/requests", headers={"Authorization": "Bearer qz_x"})
    assert response.status_code == 503
    assert "qiuzhu es start" in response.json()["error"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/requests",
        "/api/requests/weibo:1",
        "/api/stats/grid",
        "/api/export.csv",
        "/api/places",
        "/api/admin/runs",
        "/api/clusters/c-a",
    ],
)
def test_every_api_route_refuses_anonymous_callers(client, path):
    response = client.get(path)
    assert response.status_code == 401
    assert "Log in" in response.json()["error"]


def test_console_pages_send_anonymous_visitors_to_login(client):
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_login_with_a_wrong_password_is_refused(client):
    response = client.post("/login", data={"name": "disp", "password": "nope-nope"})
    assert response.status_code == 401
    assert "qiuzhu_session" not in response.cookies


def test_login_sets_a_strict_httponly_session_cookie(client):
    response = client.post(
        "/login", data={"name": "disp", "password": PASSWORD}, follow_redirects=False
    )
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/api/me").json()["role"] == "dispatcher"


def test_login_from_another_origin_is_refused(client):
    response = client.post(
        "/login",
        data={"name": "disp", "password": PASSWORD},
        headers={"Origin": "http://evil.example"},
    )
    assert response.status_code == 403


def test_state_changes_with_a_session_need_the_csrf_token(client):
    csrf = login(client, "disp")
    detail = client.get("/api/requests/weibo:4").json()
    body = {"version": detail["version"], "status": "triaged"}
    refused = client.post("/api/requests/weibo:4/workflow", json=body)
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]
    accepted = client.post(
        "/api/requests/weibo:4/workflow", json=body, headers={"X-CSRF-Token": csrf}
    )
    assert accepted.status_code == 200 and accepted.json()["status"] == "triaged"


def test_a_forged_session_cookie_is_refused(client):
    client.cookies.set("qiuzhu_session", "eyJ1Ijoicm9vdCJ9.deadbeef")
    assert client.get("/api/me").status_code == 401


def test_api_tokens_authenticate_scripts_and_bad_tokens_do_not(client, backlog):
    token = users.create_token(backlog.client, backlog.names, "ana")
    ok = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert ok.json() == {"name": "ana", "role": "analyst", "sees_contacts": False, "csrf": None}
    bad = client.get("/api/me", headers={"Authorization": f"Bearer {token}x"})
    assert bad.status_code == 401 and "token" in bad.json()["error"]
    stored = backlog.client.search(index=backlog.names.users, query={"term": {"kind": "token"}})
    assert token not in str(stored) and "$argon2" not in str(stored)


def test_passwords_are_stored_hashed(backlog, app):
    doc = backlog.client.get(index=backlog.names.users, id="user:disp")["_source"]
    assert doc["password_hash"].startswith("$argon2id$") and PASSWORD not in str(doc)


def test_a_changed_role_takes_effect_once_the_cached_check_expires(client, backlog, monkeypatch):
    monkeypatch.setattr(auth, "_CACHE_SECONDS", 0.5)
    users.add_user(backlog.client, backlog.names, "turncoat", "dispatcher", PASSWORD, replace=True)
    headers = token_headers(backlog, "turncoat")
    assert client.get("/api/me", headers=headers).json()["role"] == "dispatcher"
    users.add_user(backlog.client, backlog.names, "turncoat", "analyst", PASSWORD, replace=True)
    time.sleep(0.6)
    assert client.get("/api/me", headers=headers).json()["role"] == "analyst"
    bad = client.get("/api/me", headers={"Authorization": headers["Authorization"] + "x"})
    assert bad.status_code == 401
    # A refused token is cached too, and still refused from the cache.
    bad = client.get("/api/me", headers={"Authorization": headers["Authorization"] + "x"})
    assert bad.status_code == 401


def test_a_token_created_in_the_console_works_once_shown(client):
    csrf = login(client, "root")
    made = client.post("/api/tokens", json={"label": "nightly"}, headers={"X-CSRF-Token": csrf})
    token = made.json()["token"]
    client.cookies.clear()
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()["name"] == (
        "root"
    )


@pytest.mark.parametrize(
    ("user", "method", "path", "body"),
    [
        ("ana", "post", "/api/requests/weibo:4/workflow", {"version": "0:1", "status": "triaged"}),
        ("ana", "post", "/api/requests/weibo:1/contact", None),
        ("ana", "post", "/api/clusters/merge", {"first": "c-a", "second": "c-weibo:4"}),
        ("ana", "post", "/api/merges/x/undo", None),
        ("ana", "get", "/api/admin/runs", None),
        ("disp", "get", "/api/admin/users", None),
        ("ana", "get", "/api/export.csv?contacts=true", None),
    ],
)
def test_roles_are_refused_what_they_may_not_do(client, backlog, user, method, path, body):
    token = users.create_token(backlog.client, backlog.names, user)
    headers = {"Authorization": f"Bearer {token}"}
    response = getattr(client, method)(path, headers=headers, **({"json": body} if body else {}))
    assert response.status_code == 403
    assert "role" in response.json()["error"]


def test_every_role_can_log_in_and_reaches_its_home(client):
    homes = {"dispatcher": "/", "admin": "/", "analyst": "/analyst"}
    for name, role in USERS.items():
        client.cookies.clear()
        response = client.post(
            "/login", data={"name": name, "password": PASSWORD}, follow_redirects=False
        )
        assert response.headers["location"] == homes[role]


def test_responses_carry_a_strict_content_security_policy(client):
    login(client, "disp")
    for path in ("/login", "/", "/api/me"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert headers["x-content-type-options"] == "nosniff"
