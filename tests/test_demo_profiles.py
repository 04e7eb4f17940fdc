"""`qiuzhu demo --profile`: each crisis's demo crawls its own invented sources into its own
backlog, with that crisis's places, urgency and teams (real Elasticsearch, real processes)."""

import pytest
import yaml
from helpers_demo import demo_env, run_demo

from qiuzhu.settings import ROOT

pytestmark = pytest.mark.slow

CASES = {
    # profile: (province, the post that must be critical, its team, a phrase of its text)
    "henan-2021-flood": ("河南省", "rescue", "抢险救援组", "水位还在上涨"),
    "shanghai-2022-lockdown": ("上海市", "medical", "就医配药组", "五天没透析"),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def demo(request, es_urls, es_client, tmp_path_factory):
    from index.admin import drop
    from index.mapping import names

    profile = request.param
    var = tmp_path_factory.mktemp(f"demo-{profile}")
    env, prefix = demo_env(es_urls, var)
    for name in ("QIUZHU_PROFILE", "QIUZHU_GAZETTEER_PROVINCES", "QIUZHU_API_CITY_CODE"):
        env.pop(name, None)
    proc = run_demo(env, "demo", "--profile", profile, "--no-serve")
    es_client.indices.refresh(index=names(prefix).requests)
    hits = es_client.search(index=names(prefix).requests, size=200)["hits"]["hits"]
    yield profile, proc, [h["_source"] for h in hits], var
    drop(es_client, names(prefix))


def test_the_demo_places_its_requests_in_the_crisis_province(demo):
    profile, _, docs, _ = demo
    province = CASES[profile][0]
    placed = [d["province"] for d in docs if d.get("province")]
    assert len(placed) >= len(docs) // 2
    assert set(placed) == {province}


def test_the_demo_rates_the_life_threatening_request_critical_and_routes_it(demo):
    profile, proc, docs, _ = demo
    _, team, label, phrase = CASES[profile]
    [doc] = [d for d in docs if phrase in d["text"] and not d.get("repost_of")][:1]
    assert doc["urgency"] == "critical" and doc["team"] == team
    from qiuzhu import profiles

    assert profiles.load(profile).teams[team] == label
    assert f"Crisis profile {profile}" in proc.stdout


def test_the_demo_output_and_logs_name_nobody(demo):
    profile, proc, _, var = demo
    posts = yaml.safe_load((ROOT / "demo" / profile / "posts.yaml").read_text(encoding="utf-8"))
    texts = [proc.stdout, proc.stderr]
    texts += [p.read_text(encoding="utf-8") for p in (var / "ingest").rglob("*.log")]
    assert len(texts) > 2
    for text in texts:
        assert not [name for name in posts["persons"] if name in text]
        assert "138-0000-" not in text


def test_the_sheets_detail_columns_reach_the_text(demo):
    profile, _, docs, _ = demo
    column = {"henan-2021-flood": "被困人数", "shanghai-2022-lockdown": "份数"}[profile]
    rows = [d for d in docs if d["source"].endswith(("sheet-demo", "orders-demo"))]
    assert rows and all(f"【{column}】" in d["text"] for d in rows if d["text"])


def test_a_relay_joins_the_request_it_reposts(demo):
    _, _, docs, _ = demo
    by_source_id = {d["source_id"]: d for d in docs}
    relays = [d for d in docs if d.get("repost_of") in by_source_id]
    assert relays
    for relay in relays:
        assert relay["cluster"] == by_source_id[relay["repost_of"]]["cluster"]
