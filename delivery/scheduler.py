"""The process's periodic jobs on APScheduler (DESIGN §8), kept in the store so they survive a
restart: the webhook dispatch here; the notify dispatch, the TTL sweeper and the nightly
scoring run (`pipelines.nightly`) the same way, scheduled by `delivery.runtime`.

APScheduler's SQLAlchemy job store pickles each job, so a job names its work by reference: every
job runs `run_task(name)`, which looks the name up in this process's `TASKS`. The composition
root fills `TASKS` (through `schedule_every`) before it starts the scheduler. A stored job whose
task this process does not have is skipped with a warning, not failed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, time, timedelta
from functools import partial

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine

from delivery.webhooks.dispatcher import WebhookDispatcher

log = logging.getLogger(__name__)

JOBS_TABLE = "apscheduler_jobs"
WEBHOOK_DISPATCH = "webhooks.dispatch"
WEBHOOK_FORGET = "webhooks.forget_settled"
NIGHTLY_SCORE = "batch.nightly_score"

# name -> the work of the job of that name, in this process
TASKS: dict[str, Callable[[], object]] = {}


def run_task(name: str) -> None:
    """What every stored job calls: the task registered under `name`."""
    task = TASKS.get(name)
    if task is None:
        log.warning("scheduled job %r has no task in this process; skipped", name)
        return
    task()


def build_scheduler(engine: Engine, *, threads: int = 4) -> BackgroundScheduler:
    """A scheduler whose jobs are kept in the store's database (table `apscheduler_jobs`,
    created by APScheduler on start). Not started: add the jobs, then `start()`."""
    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)},
        executors={"default": ThreadPoolExecutor(threads)},
        # a job late by a few runs (a busy machine, a restart) runs once, not once per miss
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
        timezone=UTC,
    )


def schedule_every(
    scheduler: BackgroundScheduler, name: str, task: Callable[[], object], every: timedelta
) -> None:
    """Run `task` every `every` as the job `name`. A stored job of that name on the same
    interval keeps its next run: added again, it would be due `every` from each start, and a
    process restarted more often than that would never run it. On another interval it is
    replaced. Start the scheduler (paused) first, so that its stored jobs can be seen."""
    TASKS[name] = task
    stored = scheduler.get_job(name) if scheduler.running else None
    if stored is not None and getattr(stored.trigger, "interval", None) == every:
        return
    scheduler.add_job(
        run_task,
        "interval",
        args=[name],
        id=name,
        name=name,
        seconds=every.total_seconds(),
        coalesce=True,
        max_instances=1,
        replace_existing=True,
    )


def schedule_daily(
    scheduler: BackgroundScheduler,
    name: str,
    task: Callable[[], object],
    at: time,
    *,
    late_by: timedelta = timedelta(hours=6),
) -> None:
    """Run `task` every day at `at` (UTC) as the job `name`; a stored job at that time keeps
    its next run, as in `schedule_every`. A run missed by up to `late_by` (the process was
    down at that time) runs when the process is back, once."""
    TASKS[name] = task
    stored = scheduler.get_job(name) if scheduler.running else None
    trigger = CronTrigger(hour=at.hour, minute=at.minute, timezone=UTC)
    if stored is not None and str(stored.trigger) == str(trigger):
        return
    scheduler.add_job(
        run_task,
        trigger,
        args=[name],
        id=name,
        name=name,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=int(late_by.total_seconds()),
        replace_existing=True,
    )


def schedule_webhook_dispatch(
    scheduler: BackgroundScheduler,
    dispatcher: WebhookDispatcher,
    *,
    every: timedelta = timedelta(seconds=1),
    batch_size: int = 100,
) -> None:
    schedule_every(
        scheduler, WEBHOOK_DISPATCH, partial(dispatcher.dispatch_all_due, batch_size), every
    )


def schedule_webhook_forgetting(
    scheduler: BackgroundScheduler,
    dispatcher: WebhookDispatcher,
    *,
    keep: timedelta = timedelta(days=30),
    every: timedelta = timedelta(hours=1),
) -> None:
    """Delete settled webhook events once they are older than `keep`, so the outbox stays small."""
    schedule_every(scheduler, WEBHOOK_FORGET, partial(dispatcher.forget_settled, keep), every)
