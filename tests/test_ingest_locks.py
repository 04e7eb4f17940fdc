"""Source locks in the real Elasticsearch: create-if-absent, expiry, takeover, compare-and-set."""

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest

from index import locks as store
from ingest.locks import Owner, SourcesLocked, release_all, renew_all, take, take_all


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_source_is_locked_once_and_the_refusal_names_the_holder(backlog):
    first, second = Owner.current("run-a"), Owner.current("run-b")
    assert take_all(backlog.client, backlog.names, ["b", "a"], first, 60) == ["a", "b"]
    with pytest.raises(SourcesLocked) as caught:
        take_all(backlog.client, backlog.names, ["c", "a"], second, 60)
    message = caught.value.message
    assert "a is held by run run-a" in message and f"pid {os.getpid()}" in message
    assert "until" in message and caught.value.exit_code == 5
    # All or none: the refused run did not keep "c".
    assert store.read(backlog.client, backlog.names, "c") is None
    assert take_all(backlog.client, backlog.names, ["c"], second, 60) == ["c"]


def test_release_frees_only_the_owners_locks(backlog):
    first, second = Owner.current("run-a"), Owner.current("run-b")
    take_all(backlog.client, backlog.names, ["a"], first, 60)
    assert release_all(backlog.client, backlog.names, ["a"], second) == []
    assert release_all(backlog.client, backlog.names, ["a"], first) == ["a"]
    assert take(backlog.client, backlog.names, "a", second, 60) is None


def test_an_expired_lock_is_taken_over(backlog):
    gone = Owner("another-host", 4242, "run-old")
    assert take(backlog.client, backlog.names, "a", gone, 60) is None
    holder = take(backlog.client, backlog.names, "a", Owner.current("run-new"), 60)
    assert holder is not None and holder.run_id == "run-old"  # still valid
    stored = store.read(backlog.client, backlog.names, "a")
    expired = {**stored.doc, "expires_at": (datetime.now(UTC) - timedelta(seconds=1)).isoformat()}
    assert store.replace(backlog.client, backlog.names, "a", stored, expired)
    assert take(backlog.client, backlog.names, "a", Owner.current("run-new"), 60) is None
    now = store.read(backlog.client, backlog.names, "a").doc
    assert now["run_id"] == "run-new" and now["taken_over"] is True


def test_the_lock_of_a_dead_process_on_this_host_is_taken_over_at_once(backlog):
    crashed = Owner(Owner.current("x").host, _dead_pid(), "run-crashed")
    take(backlog.client, backlog.names, "a", crashed, 3600)
    assert take(backlog.client, backlog.names, "a", Owner.current("run-next"), 60) is None
    assert store.read(backlog.client, backlog.names, "a").doc["run_id"] == "run-next"


def test_of_two_takers_of_one_version_only_one_wins(backlog):
    take(backlog.client, backlog.names, "a", Owner("elsewhere", 1, "run-old"), 60)
    stored = store.read(backlog.client, backlog.names, "a")
    results = []

    def racer(name):
        doc = {**stored.doc, "owner": name, "run_id": name}
        results.append(store.replace(backlog.client, backlog.names, "a", stored, doc))

    threads = [threading.Thread(target=racer, args=(f"run-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]


def test_renewal_pushes_expiry_and_reports_a_lost_lock(backlog):
    owner = Owner.current("run-a")
    take(backlog.client, backlog.names, "a", owner, 5)
    before = store.read(backlog.client, backlog.names, "a").doc["expires_at"]
    assert renew_all(backlog.client, backlog.names, ["a"], owner, 600) == []
    after = store.read(backlog.client, backlog.names, "a").doc["expires_at"]
    assert after > before
    assert renew_all(backlog.client, backlog.names, ["a", "zz"], Owner.current("other"), 60) == [
        "a",
        "zz",
    ]
