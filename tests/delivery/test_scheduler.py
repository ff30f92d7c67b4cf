"""APScheduler with its jobs in the store: they run, they outlive the process, and the webhook
dispatch runs as one of them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine, inspect, table

from delivery.clock import VirtualClock
from delivery.scheduler import (
    CATCH_UP,
    JOBS_TABLE,
    NOTIFY_FORGET,
    TASKS,
    WEBHOOK_DISPATCH,
    WEBHOOK_FORGET,
    build_scheduler,
    run_task,
    schedule_daily,
    schedule_every,
    schedule_notification_forgetting,
    schedule_webhook_dispatch,
    schedule_webhook_forgetting,
)
from delivery.webhooks import SendResult
from delivery.webhooks.bootstrap import build_webhook_dispatcher
from delivery.webhooks.fakes import RecordingWebhookSender, SentWebhook
from pipelines.settings import load_settings
from store.database import make_engine
from store.secrets import SecretCipher
from tests.api.service import VERIFIED_FRESH
from tests.delivery.conftest import Notifier
from tests.delivery.webhook_helpers import (
    START,
    delivery_row,
    dispatcher,
    enqueue_status,
    register_shop,
)

TICK = "test.tick"
OFTEN = timedelta(seconds=0.05)


@pytest.fixture
def scheduler(engine: Engine) -> Iterator[BackgroundScheduler]:
    """A scheduler on the test's database; its stored jobs are removed afterwards, also when
    the test shut it down itself (the jobs' table is the scheduler's, not among those the
    `engine` fixture empties, and a job left there is found by the next test's scheduler)."""
    scheduler = build_scheduler(engine)
    yield scheduler
    if scheduler.running:
        scheduler.shutdown(wait=True)
    if inspect(engine).has_table(JOBS_TABLE):  # made when a scheduler first starts
        with engine.begin() as connection:
            connection.execute(table(JOBS_TABLE).delete())
    TASKS.clear()


def wait_for(condition: threading.Event, seconds: float = 5.0) -> None:
    assert condition.wait(seconds), "the scheduled job did not run"


def test_a_job_runs_on_its_interval(scheduler: BackgroundScheduler) -> None:
    runs: list[float] = []
    third_run = threading.Event()

    def tick() -> None:
        runs.append(time.monotonic())
        if len(runs) == 3:
            third_run.set()

    schedule_every(scheduler, TICK, tick, OFTEN)
    scheduler.start()

    wait_for(third_run)


def test_a_scheduler_woken_after_its_shutdown_hands_no_job_to_its_stopped_executors(
    scheduler: BackgroundScheduler, caplog: pytest.LogCaptureFixture
) -> None:
    schedule_every(scheduler, TICK, lambda: None, OFTEN)
    scheduler.start()
    scheduler.shutdown(wait=True)

    # its thread may wake once more after the shutdown, as a job due every moment makes it
    assert scheduler._process_jobs() is None
    assert "Error submitting job" not in caplog.text


def test_jobs_are_kept_in_the_store_and_found_by_a_restarted_process(
    database_url: str, scheduler: BackgroundScheduler
) -> None:
    schedule_every(scheduler, TICK, lambda: None, timedelta(minutes=10))
    scheduler.start(paused=True)
    scheduler.shutdown()

    restarted_engine = make_engine(database_url)
    restarted = build_scheduler(restarted_engine)
    try:
        restarted.start(paused=True)
        (job,) = restarted.get_jobs()
        assert (job.id, job.args, job.func_ref) == (TICK, (TICK,), "delivery.scheduler:run_task")
        assert job.trigger.interval == timedelta(minutes=10)
        # a restarted process registers its tasks again; the stored job is replaced, not doubled
        schedule_every(restarted, TICK, lambda: None, timedelta(minutes=5))
        assert [j.id for j in restarted.get_jobs()] == [TICK]
        restarted.remove_all_jobs()
    finally:
        restarted.shutdown()
        restarted_engine.dispose()


def test_a_restarted_process_keeps_a_stored_jobs_next_run(
    database_url: str, scheduler: BackgroundScheduler
) -> None:
    # restarted more often than hourly, an hourly job must still run: its next run is kept
    scheduler.start(paused=True)
    schedule_every(scheduler, TICK, lambda: None, timedelta(hours=1))
    (stored,) = scheduler.get_jobs()
    scheduler.shutdown()

    restarted_engine = make_engine(database_url)
    restarted = build_scheduler(restarted_engine)
    try:
        restarted.start(paused=True)
        schedule_every(restarted, TICK, lambda: None, timedelta(hours=1))
        (job,) = restarted.get_jobs()
        assert job.next_run_time == stored.next_run_time
        restarted.remove_all_jobs()
    finally:
        restarted.shutdown()
        restarted_engine.dispose()


def test_a_stored_job_without_a_task_in_this_process_is_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    run_task("gone.away")

    assert "'gone.away' has no task in this process" in caplog.text


def test_the_webhook_dispatch_runs_as_a_scheduled_job(
    engine: Engine, cipher: SecretCipher, scheduler: BackgroundScheduler
) -> None:
    shop = register_shop(engine, cipher)
    clock = VirtualClock(START)
    event_id = enqueue_status(engine, shop.key, START)
    sent = threading.Event()

    def answer(_webhook: SentWebhook) -> SendResult:
        sent.set()
        return SendResult(200)

    sender = RecordingWebhookSender(answer)

    schedule_webhook_dispatch(scheduler, dispatcher(engine, cipher, sender, clock), every=OFTEN)
    scheduler.start()
    wait_for(sent)
    deadline = time.monotonic() + 5  # the run that sent it records the outcome next
    while delivery_row(engine, event_id).state != "delivered":
        assert time.monotonic() < deadline, "the delivery was not recorded"
        time.sleep(0.01)

    assert [job.id for job in scheduler.get_jobs()] == [WEBHOOK_DISPATCH]


def test_the_dispatcher_built_from_settings_gives_up_after_the_configured_window(
    engine: Engine, cipher: SecretCipher
) -> None:
    # a minute: attempts at 0, about 5 s and about 35 s, jitter or not; the next after 2 min
    settings = load_settings(webhook_retry_hours=1 / 60, webhook_concurrency=2)
    shop = register_shop(engine, cipher)
    clock = VirtualClock(START)
    event_id = enqueue_status(engine, shop.key, START)
    sender = RecordingWebhookSender(lambda _sent: SendResult(500))
    built = build_webhook_dispatcher(settings, engine, cipher, clock, sender)

    while delivery_row(engine, event_id).state == "pending":
        clock.set(max(clock.now(), delivery_row(engine, event_id).next_attempt_at))
        built.dispatch_due()

    assert len(sender.sent) == 3
    assert delivery_row(engine, event_id).state == "given_up"


def test_the_webhook_jobs_are_one_line_each(
    engine: Engine, cipher: SecretCipher, scheduler: BackgroundScheduler
) -> None:
    one = dispatcher(engine, cipher, RecordingWebhookSender(), VirtualClock(START))

    schedule_webhook_dispatch(scheduler, one)
    schedule_webhook_forgetting(scheduler, one, keep=timedelta(days=7))
    scheduler.start(paused=True)

    jobs = {job.id: job.trigger.interval for job in scheduler.get_jobs()}
    assert jobs == {WEBHOOK_DISPATCH: timedelta(seconds=1), WEBHOOK_FORGET: timedelta(hours=1)}
    assert set(TASKS) == {WEBHOOK_DISPATCH, WEBHOOK_FORGET}


def test_the_notifications_retention_is_a_job_of_every_hour_on_the_services_clock(
    notifier: Notifier, scheduler: BackgroundScheduler
) -> None:
    sent = notifier.notify(VERIFIED_FRESH)
    notifier.service.delivered(sent, notifier.clock.now())
    schedule_notification_forgetting(scheduler, notifier.service, keep=timedelta(days=400))
    scheduler.start(paused=True)
    assert {job.id: job.trigger.interval for job in scheduler.get_jobs()} == {
        NOTIFY_FORGET: timedelta(hours=1)
    }

    run_task(NOTIFY_FORGET)
    assert notifier.service.notification(notifier.client_key, sent) is not None
    notifier.clock.advance(timedelta(days=401))
    run_task(NOTIFY_FORGET)

    assert notifier.service.notification(notifier.client_key, sent) is None


NIGHTLY = "test.nightly"


def an_hour_ago() -> tuple[datetime, clock_time]:
    now = datetime.now(UTC)
    return now, (now - timedelta(hours=1)).time().replace(second=0, microsecond=0)


def test_a_daily_run_killed_before_it_ended_runs_once_when_the_process_is_back(
    scheduler: BackgroundScheduler,
) -> None:
    # APScheduler moved the job on to tomorrow as the run began; the task's own record shows
    # that it never ended (the last scores were published two days ago)
    now, due = an_hour_ago()
    ran = threading.Event()
    scheduler.start(paused=True)
    schedule_daily(scheduler, NIGHTLY, ran.set, due, last_done=lambda: now - timedelta(days=2))
    scheduler.resume()

    wait_for(ran)
    (job,) = scheduler.get_jobs()  # the catch-up was one run; the daily job stays
    assert job.id == NIGHTLY and job.next_run_time > now


def test_a_daily_run_that_ended_is_not_run_again_at_a_restart(
    scheduler: BackgroundScheduler,
) -> None:
    now, due = an_hour_ago()
    scheduler.start(paused=True)
    schedule_daily(scheduler, NIGHTLY, lambda: None, due, last_done=lambda: now)

    assert [job.id for job in scheduler.get_jobs()] == [NIGHTLY]


def test_a_daily_run_missed_by_more_than_its_grace_waits_for_the_next_day(
    scheduler: BackgroundScheduler,
) -> None:
    now, due = an_hour_ago()
    scheduler.start(paused=True)
    schedule_daily(
        scheduler,
        NIGHTLY,
        lambda: None,
        due,
        late_by=timedelta(minutes=30),
        last_done=lambda: now - timedelta(days=2),
    )

    assert [job.id for job in scheduler.get_jobs()] == [NIGHTLY]
    assert scheduler.get_job(NIGHTLY + CATCH_UP) is None
