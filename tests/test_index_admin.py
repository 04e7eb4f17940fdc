"""Index creation, the strict mapping, the alias and migrations."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError
from helpers_backlog import jsonl, post

from index import admin
from index.load import load
from index.mapping import REQUEST_MAPPING, mapping_digest


def test_ensure_creates_versioned_index_behind_alias_with_strict_mapping(backlog):
    names = backlog.names
    aliases = backlog.client.indices.get_alias(name=names.requests)
    assert list(aliases) == [names.requests_version(1)]
    mapping = backlog.client.indices.get_mapping(index=names.requests_version(1))
    body = mapping[names.requests_version(1)]["mappings"]
    assert body["dynamic"] == "strict"
    assert body["_meta"]["qiuzhu_mapping"] == mapping_digest(REQUEST_MAPPING)
    assert body["properties"]["text_seg"]["analyzer"] == "whitespace"
    assert backlog.client.indices.exists(index=names.events)
    # A second ensure changes nothing.
    assert admin.ensure(backlog.client, names) == names.requests_version(1)


def _refresh_interval(backlog):
    index = backlog.names.requests_version(1)
    found = backlog.client.indices.get_settings(index=index, name="index.refresh_interval")
    return found[index]["settings"]["index"]["refresh_interval"]


def test_the_backlog_publishes_on_its_own_at_the_set_interval_only(backlog, monkeypatch):
    assert _refresh_interval(backlog) == "30s"
    # A backlog made with Elasticsearch's default (1s) gets the setting at the next ensure,
    # without a migration (it is a dynamic setting).
    backlog.client.indices.put_settings(
        index=backlog.names.requests, settings={"index": {"refresh_interval": "1s"}}
    )
    monkeypatch.setenv("QIUZHU_INDEX_REFRESH_INTERVAL", "45s")
    admin.ensure(backlog.client, backlog.names)
    assert _refresh_interval(backlog) == "45s"
    # The side indices keep Elasticsearch's default: events are written with wait_for.
    events = backlog.client.indices.get_settings(index=backlog.names.events)
    assert "refresh_interval" not in events[backlog.names.events]["settings"]["index"]


def test_strict_mapping_refuses_unknown_fields(backlog):
    with pytest.raises(BadRequestError, match="strict_dynamic_mapping_exception"):
        backlog.client.index(index=backlog.names.requests, id="x", document={"surprise": 1})


def test_migrate_is_a_no_op_when_the_mapping_is_current(backlog):
    result = admin.migrate(backlog.client, backlog.names)
    assert result.skipped and result.new == backlog.names.requests_version(1)


def test_migrate_copies_every_document_and_swaps_the_alias(backlog):
    load(backlog.client, backlog.names, jsonl(*[post(n) for n in range(40)]))
    before = backlog.ids()
    result = admin.migrate(backlog.client, backlog.names, force=True)
    names = backlog.names
    assert (result.old, result.new, result.copied) == (
        names.requests_version(1),
        names.requests_version(2),
        40,
    )
    assert list(backlog.client.indices.get_alias(name=names.requests)) == [
        names.requests_version(2)
    ]
    assert backlog.ids() == before
    # The old index stays until removed on purpose.
    assert backlog.client.count(index=names.requests_version(1))["count"] == 40
    # Writes go to the new index through the alias.
    load(backlog.client, names, jsonl(post(99)))
    backlog.refresh()
    assert backlog.client.count(index=names.requests_version(2))["count"] == 41


def test_migrate_gives_documents_written_before_dedup_cards_their_card(backlog):
    import base64

    from classify.cards import from_card
    from index.bulk import Spool, create_action, write
    from index.documents import crawled_part

    load(backlog.client, backlog.names, jsonl(post(1)))
    older = crawled_part({**post(2), "dedup_keys": ["text:0123456789ab", "phone:abcdef012345"]})
    write(backlog.client, [create_action(backlog.names.requests, older)], Spool(backlog.spool_dir))
    # A version 1 card, as written before the episode facts: the copy makes it again.
    from classify.cards import _CARD_HEAD, _EPISODE

    current = base64.b64decode(
        backlog.client.get(index=backlog.names.requests, id="fixture:1")["_source"]["dedup_card"]
    )
    head = _CARD_HEAD.size
    first = b"\1" + current[1:head] + current[head + _EPISODE.size :]
    load(backlog.client, backlog.names, jsonl(post(3)))
    backlog.client.update(
        index=backlog.names.requests,
        id="fixture:3",
        doc={"dedup_card": base64.b64encode(first).decode()},
        refresh=True,
    )
    stored = backlog.client.get(index=backlog.names.requests, id="fixture:3")["_source"]
    assert base64.b64decode(stored["dedup_card"])[0] == 1
    before = backlog.client.get(index=backlog.names.requests, id="fixture:1")["_source"]
    result = admin.migrate(backlog.client, backlog.names, force=True)
    backlog.refresh()
    after = {
        rid: backlog.client.get(index=result.new, id=rid)["_source"]
        for rid in ("fixture:1", "fixture:2", "fixture:3")
    }
    assert base64.b64decode(after["fixture:3"]["dedup_card"])[0] == 2
    # A card already written is copied as it is; a missing one is made from the document.
    assert after["fixture:1"]["dedup_card"] == before["dedup_card"]
    card = from_card(base64.b64decode(after["fixture:2"]["dedup_card"]))
    assert sorted(card["dedup_keys"]) == sorted(older["dedup_keys"])
    assert card["_text_length"] == len(older["text"])


def test_migrate_finds_the_names_of_documents_masked_before_names_in_free_text(backlog):
    from index.bulk import Spool, create_action, write
    from index.documents import crawled_part

    text = "我妈妈刘桂芝发烧五天，电话13800001234，住7栋2单元302"
    # A document as older code wrote it: the raw text where the masked text belongs.
    older = crawled_part({**post(5), "text": text, "text_masked": text, "names": []})
    write(backlog.client, [create_action(backlog.names.requests, older)], Spool(backlog.spool_dir))
    backlog.refresh()
    result = admin.migrate(backlog.client, backlog.names, force=True)
    backlog.refresh()
    after = backlog.client.get(index=result.new, id="fixture:5")["_source"]
    assert after["text"] == text
    assert after["text_masked"] == "我妈妈刘**发烧五天，电话138********，住*栋*单元***"
    assert after["personal"]["names"] == ["刘桂芝"]


def test_documents_loaded_without_masked_text_are_masked_on_the_way_in():
    from index.documents import crawled_part

    doc = crawled_part({"id": "1", "source": "x", "text": "患者陈玉珍，61岁，电话13800001234"})
    assert doc["text_masked"] == "患者陈**，61岁，电话138********"
    assert doc["personal"]["names"] == ["陈玉珍"]


def test_migrate_notices_an_older_mapping(backlog, monkeypatch):
    changed = {
        **REQUEST_MAPPING,
        "properties": {**REQUEST_MAPPING["properties"], "extra_field": {"type": "keyword"}},
    }
    monkeypatch.setattr(admin, "REQUEST_MAPPING", changed)
    result = admin.migrate(backlog.client, backlog.names)
    assert not result.skipped and result.new == backlog.names.requests_version(2)
    props = backlog.client.indices.get_mapping(index=result.new)[result.new]["mappings"]
    assert "extra_field" in props["properties"]
