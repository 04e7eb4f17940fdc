"""APScheduler wiring for the nightly run, and nothing else.

A cron job at SCHEDULE_TIME in SCHEDULE_TIMEZONE and, in crisis mode, an interval job every
SCHEDULE_INTERVAL_MINUTES both call `ingest.jobs.scheduled_run`. Jobs live in a SQLite job
store, so a restart keeps their next run times; a run missed while the scheduler was down
starts late within SCHEDULE_MISFIRE_GRACE seconds (once, however many were missed) and is
logged as missed after that. One instance of a job at a time.
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobEvent,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from ingest.jobs import JOB_FUNC, stop_running
from qiuzhu import settings
from qiuzhu.errors import ConfigError

log = logging.getLogger(__name__)

NIGHTLY, CRISIS = "nightly", "crisis"


@dataclass(frozen=True)
class JobInfo:
    """A scheduled job as `qiuzhu schedule --list` shows it."""

    id: str
    name: str
    trigger: str
    next_run_time: datetime | None


def jobstore_path() -> Path:
    """Return the SQLite file of the job store."""
    configured: str = settings.get("SCHEDULE_JOBSTORE")
    return Path(configured) if configured else settings.var_dir("scheduler", "jobs.sqlite")


def wanted_triggers() -> dict[str, BaseTrigger]:
    """Return the trigger of each job the settings ask for, by job id."""
    zone = settings.get("SCHEDULE_TIMEZONE")
    hour, _, minute = str(settings.get("SCHEDULE_TIME")).partition(":")
    try:
        triggers: dict[str, BaseTrigger] = {
            NIGHTLY: CronTrigger(hour=int(hour), minute=int(minute or 0), timezone=zone)
        }
    except (ValueError, LookupError) as exc:
        raise ConfigError(
            f"QIUZHU_SCHEDULE_TIME / QIUZHU_SCHEDULE_TIMEZONE are not a valid time of day "
            f"(HH:MM) and time zone: {exc}."
        ) from None
    minutes: float = settings.get("SCHEDULE_INTERVAL_MINUTES")
    if minutes > 0:
        triggers[CRISIS] = IntervalTrigger(seconds=round(minutes * 60, 3), timezone=zone)
    return triggers


def build_scheduler() -> BackgroundScheduler:
    """Return an unstarted scheduler with the job store, defaults and listeners."""
    path = jobstore_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{path}")},
        executors={"default": ThreadPoolExecutor(max_workers=2)},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": settings.get("SCHEDULE_MISFIRE_GRACE"),
        },
        timezone=settings.get("SCHEDULE_TIMEZONE"),
    )
    scheduler.add_listener(_on_event, EVENT_JOB_MISSED | EVENT_JOB_ERROR | EVENT_JOB_MAX_INSTANCES)
    return scheduler


def _on_event(event: JobEvent) -> None:
    if event.code == EVENT_JOB_MISSED:
        log.warning(
            "The %s run due at %s was missed (scheduler down or busy longer than "
            "SCHEDULE_MISFIRE_GRACE); the next one runs as scheduled",
            event.job_id,
            getattr(event, "scheduled_run_time", "?"),
        )
    elif event.code == EVENT_JOB_MAX_INSTANCES and isinstance(event, JobSubmissionEvent):
        log.warning("The %s run is still going; the one due now is skipped", event.job_id)
    elif event.code == EVENT_JOB_ERROR and isinstance(event, JobExecutionEvent):
        log.error("The %s job failed: %r", event.job_id, event.exception)


def _same(old: BaseTrigger, new: BaseTrigger) -> bool:
    if type(old) is not type(new) or str(old.timezone) != str(new.timezone):
        return False
    if isinstance(old, IntervalTrigger) and isinstance(new, IntervalTrigger):
        return old.interval == new.interval
    return str(old) == str(new)


def sync_jobs(scheduler: BackgroundScheduler) -> list[str]:
    """Make the stored jobs match the settings; a job left unchanged keeps its next run time.

    Returns the ids of the jobs added or replaced.
    """
    changed = []
    wanted = wanted_triggers()
    for job_id, trigger in wanted.items():
        job = scheduler.get_job(job_id)
        if job is not None and job.func_ref == JOB_FUNC and _same(job.trigger, trigger):
            continue
        scheduler.add_job(
            JOB_FUNC,
            trigger,
            id=job_id,
            name=f"{job_id} ingest run",
            kwargs={"kind": job_id},
            replace_existing=True,
        )
        changed.append(job_id)
    for job in scheduler.get_jobs():
        if job.id not in wanted:
            log.info("Removing the %s job: the settings no longer ask for it", job.id)
            job.remove()
    return changed


def list_jobs() -> list[JobInfo]:
    """Return the jobs in the job store with their next run times (the store is not changed)."""
    scheduler = build_scheduler()
    scheduler.start(paused=True)
    try:
        return [
            JobInfo(job.id, job.name, str(job.trigger), job.next_run_time)
            for job in scheduler.get_jobs()
        ]
    finally:
        scheduler.shutdown(wait=False)


def run(stop: threading.Event | None = None) -> None:
    """Run the scheduler in the foreground until SIGTERM or SIGINT (or STOP is set)."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, _frame: stop.set())
    scheduler = build_scheduler()
    scheduler.start(paused=True)
    changed = sync_jobs(scheduler)
    if changed:
        log.info("Scheduled from the settings: %s", ", ".join(changed))
    for job in scheduler.get_jobs():
        log.info("Job %s (%s): next run at %s", job.id, job.trigger, job.next_run_time)
    log.info("Scheduler running; job store %s", jobstore_path())
    scheduler.resume()
    try:
        while not stop.wait(1.0):
            pass
    finally:
        log.info("Stopping the scheduler")
        scheduler.pause()
        stopped = stop_running()
        scheduler.shutdown(wait=True)
        log.info(
            "Scheduler stopped%s", f" (stopped {stopped} run(s) in progress)" if stopped else ""
        )


def describe(info: JobInfo) -> dict[str, Any]:
    """Return INFO as plain values (for JSON output)."""
    return {
        "id": info.id,
        "name": info.name,
        "trigger": info.trigger,
        "next_run_time": info.next_run_time.isoformat() if info.next_run_time else None,
    }
