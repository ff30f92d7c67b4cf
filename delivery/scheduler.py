"""The process's periodic jobs on APScheduler (DESIGN §8), kept in the store so they survive a
restart: the webhook dispatch and the retentions here; the notify dispatch, the TTL sweeper and
the nightly scoring run (`pipelines.nightly`) the same way, scheduled by `delivery.runtime`.

APScheduler's SQLAlchemy job store pickles each job, so a job names its work by reference: every
job runs `run_task(name)`, which looks the name up in this process's `TASKS`. The composition
root fills `TASKS` (through `schedule_every`) before it starts the scheduler. A stored job whose
task this process does not have is skipped with a warning, not failed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from functools import partial
from time import monotonic
from typing import TYPE_CHECKING

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine

from delivery.webhooks.dispatcher import WebhookDispatcher
from pipelines.logs import FailureStreaks, first_line

if TYPE_CHECKING:
    from delivery.forgetting import Forgetting

log = logging.getLogger(__name__)

JOBS_TABLE = "apscheduler_jobs"
WEBHOOK_DISPATCH = "webhooks.dispatch"
WEBHOOK_FORGET = "webhooks.forget_settled"
NOTIFY_FORGET = "notifications.forget_past_retention"
NIGHTLY_SCORE = "batch.nightly_score"
CATCH_UP = ".catch_up"  # after a daily job's name: its one run to make up for one not completed

# name -> the work of the job of that name, in this process
TASKS: dict[str, Callable[[], object]] = {}


class JobFailures:
    """How a job's failures are told (`FailureStreaks`): the first of each kind with its
    traceback; more of the same kind only counted, and told in one line, with the latest
    message, once `quiet` has passed since that kind was last told; the job's recovery in one
    line. A store that is down for a minute would otherwise write a traceback at every run of
    every job: the notify dispatch alone runs five times a second."""

    def __init__(
        self, quiet: timedelta = timedelta(minutes=1), clock: Callable[[], float] = monotonic
    ) -> None:
        self.streaks = FailureStreaks(quiet, clock)

    def failed(self, name: str, error: Exception) -> None:
        telling = self.streaks.failed(name, error)
        if telling is None:
            return
        if telling.first:
            log.error("scheduled job %s failed", name, exc_info=error)
        else:
            log.error(
                "scheduled job %s failed %d more times the same way, last: %s",
                name,
                telling.untold,
                first_line(error),
            )

    def succeeded(self, name: str) -> None:
        runs = self.streaks.ended(name)
        if runs:
            log.info("scheduled job %s works again after %d failed runs", name, runs)


FAILURES = JobFailures()


def run_task(name: str) -> None:
    """What every stored job calls: the task registered under `name`. Its failure is logged
    (`FAILURES`), and the job runs again at its next time."""
    task = TASKS.get(name)
    if task is None:
        log.warning("scheduled job %r has no task in this process; skipped", name)
        return
    try:
        task()
    except Exception as error:
        FAILURES.failed(name, error)
    else:
        FAILURES.succeeded(name)


class StoppingScheduler(BackgroundScheduler):  # type: ignore[misc]
    """APScheduler's background scheduler, which looks for due jobs no more once it is shut
    down. Its thread, woken once more after `shutdown` (a job due every 0.2 s), would hand a
    job to the executors it had just shut down, and log an error with a traceback as the
    process stops."""

    def _process_jobs(self) -> float | None:
        if self.state == STATE_STOPPED:
            return None
        wait: float | None = super()._process_jobs()
        return wait


def build_scheduler(engine: Engine, *, threads: int = 4) -> BackgroundScheduler:
    """A scheduler whose jobs are kept in the store's database (table `apscheduler_jobs`,
    created by APScheduler on start). Not started: add the jobs, then `start()`."""
    return StoppingScheduler(
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
    last_done: Callable[[], datetime | None] | None = None,
) -> None:
    """Run `task` every day at `at` (UTC) as the job `name`; a stored job at that time keeps
    its next run, as in `schedule_every`. A run missed by up to `late_by` (the process was
    down at that time) runs when the process is back, once. With `last_done` (when the task
    last completed, by its own record), so does a run that began but never ended: the process
    was killed during it, after APScheduler had moved the job on to the next day."""
    TASKS[name] = task
    stored = scheduler.get_job(name) if scheduler.running else None
    trigger = CronTrigger(hour=at.hour, minute=at.minute, timezone=UTC)
    if stored is None or str(stored.trigger) != str(trigger):
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
    if last_done is not None and scheduler.running:
        _catch_up(scheduler, name, at, late_by, last_done)


def unschedule(scheduler: BackgroundScheduler, name: str) -> None:
    """Remove the stored job `name` and its catch-up run, if any: a job no longer scheduled."""
    for job_id in (name, f"{name}{CATCH_UP}"):
        if scheduler.get_job(job_id) is not None:
            scheduler.remove_job(job_id)
            log.info("scheduled job %s removed: it is turned off, or no longer run", job_id)


def _catch_up(
    scheduler: BackgroundScheduler,
    name: str,
    at: time,
    late_by: timedelta,
    last_done: Callable[[], datetime | None],
) -> None:
    now = datetime.now(UTC)
    due = datetime.combine(now.date(), at, tzinfo=UTC)
    if due > now:
        due -= timedelta(days=1)
    job = scheduler.get_job(name)
    if now - due > late_by or job is None or job.next_run_time is None:
        return
    if job.next_run_time <= now:  # missed while the process was down: APScheduler runs it
        return
    done = last_done()
    if done is not None and done >= due:
        return
    # missed while no process ran it, or cut short: which, its own record does not say
    log.warning("the %s run due at %s has not completed; running it now", name, due)
    scheduler.add_job(
        run_task,
        "date",
        args=[name],
        id=f"{name}{CATCH_UP}",
        name=f"{name}{CATCH_UP}",
        run_date=now,
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


def schedule_notification_forgetting(
    scheduler: BackgroundScheduler,
    service: Forgetting,
    *,
    keep: timedelta,
    every: timedelta = timedelta(hours=1),
) -> None:
    """Forget the notifications whose outcome is older than `keep` (the retention), by the
    service's clock, in batches: the hour's new ones are a few batches."""
    schedule_every(scheduler, NOTIFY_FORGET, partial(service.forget_past_retention, keep), every)
