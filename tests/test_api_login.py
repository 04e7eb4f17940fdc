"""The login: failures throttled per user and per address; sessions end with the password."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from helpers_api import PASSWORD, shared_backlog

from api import auth
from api.app import create_app
from index import logins, users


@pytest.fixture(scope="module")
def backlog(es_client):
    yield from shared_backlog(es_client, "login")


@pytest.fixture(scope="module")
def app(backlog, es_urls):
    return create_app(es_urls=es_urls.split(","), prefix=backlog.prefix, secret=b"test-secret")


def _client(app, address="10.0.0.1"):
    return TestClient(app, client=(address, 50000), follow_redirects=False)


def _login(client, name, password):
    return client.post("/login", data={"name": name, "password": password})


def _user(backlog, name, role="dispatcher"):
    users.add_user(backlog.client, backlog.names, name, role, PASSWORD, replace=True)
    return name


def test_guessing_one_users_password_is_throttled(app, backlog, monkeypatch):
    monkeypatch.setenv("QIUZHU_API_LOGIN_FAILURES", "5")
    name = _user(backlog, "guessed")
    with _client(app, "10.0.1.1") as client:
        for attempt in range(5):
            response = _login(client, name, f"wrong-{attempt}")
            assert response.status_code == 401, attempt
        # The sixth attempt waits, right password or not: it is not even checked.
        refused = _login(client, name, PASSWORD)
        assert refused.status_code == 429
        assert 25 <= int(refused.headers["retry-after"]) <= 30
        assert "Too many failed logins" in refused.text
    # From another address too: the count is the user's.
    with _client(app, "10.0.1.2") as other:
        assert _login(other, name, PASSWORD).status_code == 429
    # Another user is not held up by it.
    with _client(app, "10.0.1.1") as client:
        assert _login(client, _user(backlog, "bystander"), PASSWORD).status_code == 303


def test_each_further_failure_doubles_the_wait_up_to_the_window(backlog):
    limits = logins.Limits(user=3, address=100, window=600)
    start = datetime(2020, 2, 5, 8, tzinfo=UTC)
    waits = []
    for n in range(8):
        moment = start + timedelta(seconds=n)
        logins.record_failure(backlog.client, backlog.names, "doubled", "10.0.2.1", limits, moment)
        waits.append(logins.wait_seconds(backlog.client, backlog.names, "doubled", "x", moment))
    assert waits == [0, 0, 30, 60, 120, 240, 480, 600]
    later = start + timedelta(seconds=7 + 601)
    assert logins.wait_seconds(backlog.client, backlog.names, "doubled", "x", later) == 0
    # After the window the count starts again from nothing.
    logins.record_failure(backlog.client, backlog.names, "doubled", "10.0.2.1", limits, later)
    assert logins.wait_seconds(backlog.client, backlog.names, "doubled", "x", later) == 0


def test_guessing_many_users_from_one_address_is_throttled(app, backlog, monkeypatch):
    monkeypatch.setenv("QIUZHU_API_LOGIN_ADDRESS_FAILURES", "20")
    name = _user(backlog, "neighbour")
    with _client(app, "10.0.3.1") as client:
        for n in range(20):
            assert _login(client, f"nobody-{n}", "password-guess").status_code == 401
        assert _login(client, name, PASSWORD).status_code == 429
    with _client(app, "10.0.3.2") as other:
        assert _login(other, name, PASSWORD).status_code == 303


def test_a_successful_login_clears_the_users_count(app, backlog, monkeypatch):
    monkeypatch.setenv("QIUZHU_API_LOGIN_FAILURES", "3")
    name = _user(backlog, "forgetful")
    with _client(app, "10.0.4.1") as client:
        for _ in range(2):
            assert _login(client, name, "typo").status_code == 401
        assert _login(client, name, PASSWORD).status_code == 303
        for _ in range(2):
            assert _login(client, name, "typo").status_code == 401
        assert _login(client, name, PASSWORD).status_code == 303


def test_the_throttle_store_holds_no_name_or_address(app, backlog):
    with _client(app, "10.0.5.1") as client:
        _login(client, "private-name", "wrong")
    backlog.refresh()
    raw = str(backlog.client.search(index=backlog.names.logins, size=100)["hits"]["hits"])
    assert "private-name" not in raw and "10.0.5.1" not in raw


def test_a_new_password_ends_every_session(app, backlog, monkeypatch):
    monkeypatch.setattr(auth, "_CACHE_SECONDS", 0.0)
    name = _user(backlog, "rotated")
    with _client(app, "10.0.6.1") as first, _client(app, "10.0.6.2") as second:
        for client in (first, second):
            assert _login(client, name, PASSWORD).status_code == 303
            assert client.get("/api/me").status_code == 200
        users.add_user(
            backlog.client, backlog.names, name, "dispatcher", "new-pass-1", replace=True
        )
        for client in (first, second):
            response = client.get("/api/me")
            assert response.status_code == 401
            assert "password was changed" in response.json()["error"]
        assert _login(first, name, "new-pass-1").status_code == 303
        assert first.get("/api/me").status_code == 200


def test_removing_a_user_ends_its_sessions_and_tokens(app, backlog, monkeypatch):
    monkeypatch.setattr(auth, "_CACHE_SECONDS", 0.0)
    name = _user(backlog, "leaver")
    token = users.create_token(backlog.client, backlog.names, name)
    with _client(app, "10.0.7.1") as client:
        assert _login(client, name, PASSWORD).status_code == 303
        bearer = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/requests", headers=bearer).status_code == 200
        assert users.remove_user(backlog.client, backlog.names, name) == 1
        assert client.get("/api/me").status_code == 401
        assert client.get("/api/requests", headers=bearer).status_code == 401
        assert _login(client, name, PASSWORD).status_code == 401


def test_removing_an_unknown_user_is_a_clear_error(backlog):
    from qiuzhu.errors import NotFound

    with pytest.raises(NotFound, match="No user is called 'ghost'"):
        users.remove_user(backlog.client, backlog.names, "ghost")
