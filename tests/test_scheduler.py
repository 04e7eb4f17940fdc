"""The scheduler: jobs from the settings, kept in the SQLite job store, fired for real."""

import signal
import subprocess
import sys
from datetime import timedelta

import pytest
from fixtures_crawl import demo_server_fixture  # noqa: F401
from test_ingest_reliability import ingest_env, run_records, wait_for

from qiuzhu.errors import ConfigError
from qiuzhu.settings import ROOT


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("QIUZHU_SCHEDULE_JOBSTORE", str(tmp_path / "jobs.sqlite"))
    return tmp_path / "jobs.sqlite"


def test_the_nightly_job_defaults_to_two_in_the_morning_in_shanghai(store):
    import scheduler

    triggers = scheduler.wanted_triggers()
    assert list(triggers) == ["nightly"]  # crisis mode is off by default
    nightly = triggers["nightly"]
    assert str(nightly.timezone) == "Asia/Shanghai"
    assert str(nightly) == "cron[hour='2', minute='0']"


def test_a_bad_schedule_time_is_a_clear_error(store, monkeypatch):
    import scheduler

    monkeypatch.setenv("QIUZHU_SCHEDULE_TIME", "two o'clock")
    with pytest.raises(ConfigError, match="QIUZHU_SCHEDULE_TIME"):
        scheduler.wanted_triggers()


def test_sync_keeps_an_unchanged_job_and_replaces_a_changed_one(store, monkeypatch):
    import scheduler

    monkeypatch.setenv("QIUZHU_SCHEDULE_INTERVAL_MINUTES", "15")
    sched = scheduler.build_scheduler()
    sched.start(paused=True)
    try:
        assert sorted(scheduler.sync_jobs(sched)) == ["crisis", "nightly"]
        job = sched.get_job("crisis")
        assert job.trigger.interval == timedelta(minutes=15)
        assert job.coalesce is True and job.max_instances == 1
        assert job.misfire_grace_time == 3600
        planned = job.next_run_time
        assert scheduler.sync_jobs(sched) == []
        assert sched.get_job("crisis").next_run_time == planned
        monkeypatch.setenv("QIUZHU_SCHEDULE_INTERVAL_MINUTES", "0")
        scheduler.sync_jobs(sched)
        assert [j.id for j in sched.get_jobs()] == ["nightly"]
    finally:
        sched.shutdown(wait=False)


def _schedule(env, log_path, *args):
    with open(log_path, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cli", "schedule", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _crisis_runs(backlog):
    records = run_records(backlog.client, backlog.names)
    return [r for r in records if r["trigger"] == "schedule-crisis" and r["status"] != "running"]


@pytest.mark.slow
def test_the_scheduler_fires_and_keeps_its_jobs_across_a_restart(backlog, demo_server, tmp_path):
    env = ingest_env(
        demo_server.url,
        tmp_path / "var",
        QIUZHU_SCHEDULE_INTERVAL_MINUTES="0.05",
        QIUZHU_INGEST_SOURCES="feed-news-demo",
    )
    first = _schedule(env, tmp_path / "first.log")
    try:
        wait_for(lambda: len(_crisis_runs(backlog)) >= 1, 120, "a scheduled run")
    finally:
        first.send_signal(signal.SIGTERM)
        code = first.wait(timeout=90)
    log = (tmp_path / "first.log").read_text()
    assert code == 0, log[-3000:]
    assert "Scheduler stopped" in log and "Traceback" not in log
    assert backlog.count() == 5

    listing = subprocess.run(
        [sys.executable, "-m", "cli", "schedule", "--list"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listing.returncode == 0, listing.stderr
    lines = dict(line.split("\t", 1) for line in listing.stdout.splitlines())
    assert set(lines) == {"crisis", "nightly"}
    assert "interval[0:00:03]" in lines["crisis"] and "next run 20" in lines["crisis"]
    assert "cron[hour='2', minute='0']" in lines["nightly"]
    assert "02:00:00+08:00" in lines["nightly"]

    fired = len(_crisis_runs(backlog))
    second = _schedule(env, tmp_path / "second.log")
    try:
        wait_for(lambda: len(_crisis_runs(backlog)) > fired, 120, "a run after the restart")
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=90) == 0
    restarted = (tmp_path / "second.log").read_text()
    # The jobs came from the store: nothing had to be added again.
    assert "Scheduled from the settings" not in restarted
    assert "Job crisis" in restarted and backlog.count() == 5
