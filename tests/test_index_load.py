"""Loading analysed requests: idempotence, malformed lines, workflow kept, spool and replay."""

from __future__ import annotations

import io
import json

import pytest
from helpers_backlog import jsonl, post

from index import workflow
from index.backlog import replay
from index.bulk import Spool
from index.client import make_client
from index.load import load


def test_load_twice_keeps_one_document_per_request(backlog):
    posts = [post(n) for n in range(30)]
    first = load(backlog.client, backlog.names, jsonl(*posts))
    second = load(backlog.client, backlog.names, jsonl(*posts))
    assert first.bulk.created == 30
    assert second.bulk.created == 0
    assert second.bulk.updated + second.bulk.unchanged == 30
    assert backlog.count() == 30
    assert backlog.ids() == sorted(f"fixture:{n}" for n in range(30))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json at all", "not JSON"),
        ('{"id": "9", "source": "fixture"}', "no text"),
        ('{"source": "fixture", "text": "有内容"}', "no id"),
        ('{"id": "9", "text": "有内容", "kind": "gossip"}', "kind 'gossip'"),
        ('{"id": "9", "text": "有内容", "urgency": "soon"}', "urgency 'soon'"),
        ("[1, 2, 3]", "JSON object"),
    ],
)
def test_load_reports_malformed_line_by_number_and_loads_the_rest(backlog, line, message):
    stream = io.StringIO(
        json.dumps(post(1), ensure_ascii=False)
        + "\n"
        + line
        + "\n"
        + json.dumps(post(2), ensure_ascii=False)
        + "\n"
    )
    report = load(backlog.client, backlog.names, stream)
    assert [number for number, _ in report.bad_lines] == [2]
    assert message in report.bad_lines[0][1]
    assert backlog.count() == 2


def test_reingest_keeps_dispatcher_status_team_and_notes(backlog):
    load(backlog.client, backlog.names, jsonl(post(1)))
    actor = workflow.Actor("disp1", "dispatcher")
    workflow.change(
        backlog.client,
        backlog.names,
        "fixture:1",
        actor,
        status="triaged",
        team="living",
        note="已电话联系家属",
    )
    workflow.change(backlog.client, backlog.names, "fixture:1", actor, assignee="team-7")
    changed = post(1, text="测试求助1（更新）：老人仍在发烧 需要床位", urgency="critical")
    load(backlog.client, backlog.names, jsonl(changed))
    doc, _ = workflow.get_request(backlog.client, backlog.names, "fixture:1")
    assert doc["text"].startswith("测试求助1（更新）")
    assert doc["urgency"] == "critical"
    assert (doc["status"], doc["team"], doc["assignee"], doc["notes_count"]) == (
        "assigned",
        "living",
        "team-7",
        1,
    )
    notes = [
        e["note"]
        for e in workflow.history(backlog.client, backlog.names, "fixture:1")
        if e["action"] == "note"
    ]
    assert notes == ["已电话联系家属"]


def test_new_request_gets_default_team_from_its_need(backlog):
    load(backlog.client, backlog.names, jsonl(post(1, needs=["food"]), post(2, needs=["mental"])))
    assert workflow.get_request(backlog.client, backlog.names, "fixture:1")[0]["team"] == "living"
    assert workflow.get_request(backlog.client, backlog.names, "fixture:2")[0]["team"] == "mental"


def test_a_flood_request_goes_to_the_rescue_team_whatever_else_it_needs(backlog):
    posts = [
        post(1, needs=["food", "rescue"]),
        post(2, needs=["shelter"]),
        post(3, needs=["volunteers"]),
    ]
    load(backlog.client, backlog.names, jsonl(*posts))
    teams = [
        workflow.get_request(backlog.client, backlog.names, f"fixture:{n}")[0]["team"]
        for n in (1, 2, 3)
    ]
    assert teams == ["rescue", "shelter", "volunteers"]


def test_unreachable_elasticsearch_spools_and_replay_indexes_exactly_once(backlog):
    down = make_client(["http://127.0.0.1:9"], max_retries=0, request_timeout=2)
    spool = Spool(backlog.spool_dir)
    posts = [post(n) for n in range(12)]
    report = load(backlog.client, backlog.names, jsonl(*posts[:2]), spool)
    assert report.bulk.created == 2
    from index.backlog import write_posts

    lost = write_posts(down, backlog.names, posts, spool)
    assert lost.spooled == 12 and lost.written == 0 and lost.unreachable
    assert spool.pending() == 12
    mode = oct(next(iter(spool.files())).stat().st_mode & 0o777)
    assert mode == "0o600"  # the spool holds personal data
    assert backlog.count() == 2
    again = replay(backlog.client, backlog.names, spool)
    assert again.written == 12 and again.spooled == 0
    assert spool.pending() == 0
    assert backlog.ids() == sorted(f"fixture:{n}" for n in range(12))
    # A second replay finds nothing, and the backlog is unchanged.
    assert replay(backlog.client, backlog.names, spool).written == 0
    assert backlog.count() == 12


def test_replay_keeps_a_torn_spool_line_for_a_person(backlog):
    spool = Spool(backlog.spool_dir)
    from index.bulk import update_action
    from index.documents import crawled_part

    spool.append([(update_action(backlog.names.requests, crawled_part(post(5))), "test")])
    path = spool.files()[0]
    with path.open("a") as fh:
        fh.write('{"action": {"_op_ty')
    report = replay(backlog.client, backlog.names, spool)
    assert report.written == 1
    assert backlog.ids() == ["fixture:5"]
    assert path.with_suffix(".corrupt").read_text().startswith('{"action"')


def test_a_post_deleted_at_its_source_stays_in_the_backlog_marked_deleted(backlog):
    from index.backlog import mark_deleted

    load(backlog.client, backlog.names, jsonl(post(1), post(2)))
    report = mark_deleted(
        backlog.client, backlog.names, ["fixture:1", "fixture:404"], Spool(backlog.spool_dir)
    )
    assert (report.updated, report.missing, report.spooled) == (1, 1, 0)
    doc, _ = workflow.get_request(backlog.client, backlog.names, "fixture:1")
    assert doc["deleted"] is True and doc["text"].startswith("测试求助1")
    assert workflow.get_request(backlog.client, backlog.names, "fixture:2")[0]["deleted"] is False
    assert backlog.count() == 2


def test_deletion_marks_wait_in_the_spool_while_elasticsearch_is_down(backlog):
    from index.backlog import mark_deleted

    load(backlog.client, backlog.names, jsonl(post(1)))
    spool = Spool(backlog.spool_dir)
    down = make_client(["http://127.0.0.1:9"], max_retries=0, request_timeout=2)
    assert mark_deleted(down, backlog.names, ["fixture:1"], spool).spooled == 1
    assert replay(backlog.client, backlog.names, spool).updated == 1
    assert workflow.get_request(backlog.client, backlog.names, "fixture:1")[0]["deleted"] is True


def test_a_failing_input_raises_after_the_batches_read_before_it_are_written(backlog):
    from index.backlog import write_docs
    from index.documents import crawled_part

    def docs():
        for n in range(7):
            yield crawled_part(post(n))
        raise OSError("the input broke")

    with pytest.raises(OSError, match="the input broke"):
        write_docs(backlog.client, backlog.names, docs(), batch_size=3)
    # Two whole batches were read before the error; the partial third is the caller's to redo.
    assert backlog.count() == 6
