"""Corrections that teach: training with them, the admins' figures, and models that are
used only once an admin promotes them (and can be restored)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from helpers_api import api_client, stock_posts, token_headers
from test_classify_model import _config

from classify import model as model_module
from classify import registry, teaching
from classify.model import ModelError, load
from qiuzhu.errors import InvalidInput, NotFound

POSTS = [
    {
        "id": str(n),
        "source": "weibo",
        "url": f"https://weibo.example/{n}",
        "kind": "request",
        "text": text,
        "needs": ["bed"],
        "urgency": "normal",
        "posted_at": "2020-02-05T10:00:00+08:00",
    }
    for n, text in enumerate(
        [
            "我爸爸尿毒症，透析中断三天了，医院不收，求助",
            "外婆家里没有菜了，小区封了出不去，求帮忙买菜",
        ],
        start=1,
    )
]


@pytest.fixture
def var(tmp_path, monkeypatch):
    monkeypatch.setenv("QIUZHU_VAR_DIR", str(tmp_path / "var"))
    return tmp_path / "var"


def _candidate(name="model-0123456789ab.zip"):
    registry.folder().mkdir(parents=True, exist_ok=True)
    shutil.copy(model_module.SHIPPED, registry.folder() / name)
    return name


def test_a_candidate_is_used_only_once_promoted_and_the_previous_can_be_restored(var):
    assert registry.chosen() == model_module.SHIPPED
    name = _candidate()
    assert registry.chosen() == model_module.SHIPPED
    assert registry.candidates() == [name]
    registry.promote(name)
    assert registry.chosen() == registry.folder() / name
    assert model_module.model_path() == registry.folder() / name
    assert registry.names() == {"current": name, "previous": "shipped"}
    registry.restore()
    assert registry.chosen() == model_module.SHIPPED
    assert registry.names() == {"current": "shipped", "previous": name}


def test_unknown_or_damaged_candidates_are_refused_and_nothing_changes(var):
    with pytest.raises(NotFound):
        registry.promote("model-ffffffffffff.zip")
    with pytest.raises(NotFound):
        registry.promote("../../etc/passwd")
    registry.folder().mkdir(parents=True)
    (registry.folder() / "model-aaaaaaaaaaaa.zip").write_bytes(b"not a zip")
    with pytest.raises(ModelError):
        registry.promote("model-aaaaaaaaaaaa.zip")
    assert registry.chosen() == model_module.SHIPPED
    with pytest.raises(InvalidInput, match="nothing to restore"):
        registry.restore()


def test_corrections_become_examples_in_train_and_validation_never_test():
    labels = [
        {"request_id": f"weibo:{n}", "after": {"kind": "request", "needs": ["food"]}}
        for n in range(200)
    ]
    posts = {f"weibo:{n}": {"text": "求助"} for n in range(200)}
    found = teaching.examples(labels, posts)
    splits = {e.split for e in found}
    assert splits == {"train", "validation"}
    share = sum(e.split == "validation" for e in found) / len(found)
    assert 0.1 < share < 0.3
    assert teaching.split_of("weibo:7") == teaching.split_of("weibo:7")
    # A correction whose post left the backlog teaches nothing.
    assert len(teaching.examples(labels, {})) == 0


def test_drift_is_told_when_recent_corrections_disagree_more():
    model = load(model_module.SHIPPED)
    now = datetime.now(UTC)
    labels, posts = [], {}
    for n in range(24):
        recent = n >= 12
        rid = f"weibo:{n}"
        # Earlier: the model's own answer kept; recent: a need it does not say.
        needs = ["pets"] if recent else ["food"]
        labels.append(
            {
                "request_id": rid,
                "at": (now - timedelta(days=1 if recent else 30)).isoformat(),
                "before": {"needs": ["food"]},
                "after": {"kind": "request", "needs": needs, "urgency": "normal"},
            }
        )
        posts[rid] = {"text": "家里没有菜了，小区封了，求帮忙买菜，米面油都没有了"}
    found = teaching.examples(labels, posts)
    got = teaching.figures(model, found, labels, now)
    assert got["touched"] == {"food": 12, "pets": 12}
    assert got["disagreement"]["recent"] > got["disagreement"]["earlier"]
    assert got["drift"] is True
    assert set(got["needs_f1"]) >= {"food", "pets"}


def test_training_with_corrections_writes_a_candidate_the_admin_promotes(backlog, var, tmp_path):
    stocked = stock_posts(backlog, POSTS)
    headers = token_headers(stocked, "disp")
    with api_client() as client:
        version = client.get("/api/requests/weibo:1", headers=headers).json()["version"]
        response = client.post(
            "/api/requests/weibo:1/correction",
            json={"version": version, "needs": ["urgent_care"], "urgency": "critical"},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        admin = token_headers(stocked, "root")
        figures = client.get("/api/admin/teaching", headers=admin).json()
        assert figures["corrections"] == 1 and figures["scored"] == 1
        assert figures["touched"] == {"bed": 1, "urgent_care": 1}
        assert "urgent_care" in figures["needs_f1"]
        assert "invented" in figures["test_needs_f1"] and figures["model"] == "shipped"
        assert client.get("/api/admin/teaching", headers=headers).status_code == 403

        from qiuzhu.commands.nlp import train_command

        result = CliRunner().invoke(
            train_command, ["--config", str(_config(tmp_path)), "--with-corrections"]
        )
        assert result.exit_code == 0, result.output
        assert "1 of 1 corrections join the training data" in result.output
        (name,) = registry.candidates()
        assert load(registry.folder() / name).meta["corrections"] == 1
        # Nothing uses it yet; the admins' page shows it beside the current model.
        assert registry.chosen() == model_module.SHIPPED
        listed = client.get("/api/admin/models", headers=admin).json()
        assert listed["current"]["name"] == "shipped"
        assert [c["name"] for c in listed["candidates"]] == [name]
        assert "invented" in listed["candidates"][0]["test"]
        promoted = client.post("/api/admin/models/promote", json={"name": name}, headers=admin)
        assert promoted.status_code == 200 and promoted.json()["current"]["name"] == name
        assert registry.chosen() == registry.folder() / name
        back = client.post("/api/admin/models/restore", headers=admin)
        assert back.json()["current"]["name"] == "shipped"
        refused = client.post("/api/admin/models/promote", json={"name": name}, headers=headers)
        assert refused.status_code == 403


def test_operators_list_promote_and_restore_models_from_the_command_line(var):
    from qiuzhu.commands.nlp import models_group

    name = _candidate()
    runner = CliRunner()
    listed = runner.invoke(models_group, ["list"])
    assert listed.exit_code == 0, listed.output
    assert "* shipped" in listed.output and name in listed.output
    assert "invented 0." in listed.output
    assert runner.invoke(models_group, ["promote", name]).exit_code == 0
    assert registry.chosen() == registry.folder() / name
    assert f"* {name}" in runner.invoke(models_group, ["list"]).output
    assert runner.invoke(models_group, ["restore"]).exit_code == 0
    assert registry.chosen() == model_module.SHIPPED
    refused = runner.invoke(models_group, ["promote", "model-ffffffffffff.zip"])
    assert refused.exit_code != 0
