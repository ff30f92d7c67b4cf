"""A job that fails run after run (the store is down) writes its traceback once, then a line a
minute that counts the runs that failed the same way, whatever their messages, and a line when
it works again; another kind of failure is told at once; the job keeps running at its times."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.exc import OperationalError

from delivery import scheduler
from delivery.scheduler import TASKS, JobFailures, run_task
from tests.ticks import Tick

JOB = "notify.dispatch"


@pytest.fixture
def tick(monkeypatch: pytest.MonkeyPatch) -> Iterator[Tick]:
    clock = Tick()
    monkeypatch.setattr(scheduler, "FAILURES", JobFailures(timedelta(minutes=1), clock))
    yield clock
    TASKS.pop(JOB, None)


def store_down() -> None:
    raise OperationalError("SELECT notifications.id FROM notifications", {}, Exception("gone"))


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, bool]]:
    """What was logged of the job: each line, and whether it carries a traceback."""
    return [
        (record.getMessage(), record.exc_info is not None)
        for record in caplog.records
        if record.name == "delivery.scheduler"
    ]


def test_a_job_failing_run_after_run_writes_its_traceback_once_then_a_count_a_minute(
    tick: Tick, caplog: pytest.LogCaptureFixture
) -> None:
    TASKS[JOB] = store_down
    for _ in range(300):  # a minute of runs, five a second
        run_task(JOB)
        tick.now += 0.2
    run_task(JOB)

    assert lines(caplog) == [
        (f"scheduled job {JOB} failed", True),
        (
            f"scheduled job {JOB} failed 300 more times the same way, last: OperationalError: "
            "(builtins.Exception) gone",
            False,
        ),
    ]


def test_failures_whose_messages_differ_each_run_are_counted_as_one_kind(
    tick: Tick, caplog: pytest.LogCaptureFixture
) -> None:
    runs = iter(range(1_000))

    def timed_out() -> None:
        raise TimeoutError(f"no answer for notification ntf_{next(runs)} within 5 s")

    TASKS[JOB] = timed_out
    for _ in range(300):
        run_task(JOB)
        tick.now += 0.2
    run_task(JOB)

    assert [traceback for _, traceback in lines(caplog)] == [True, False]
    assert lines(caplog)[1][0].endswith(
        "last: TimeoutError: no answer for notification ntf_300 within 5 s"
    )


def test_two_failures_taking_turns_are_each_told_once(
    tick: Tick, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise KeyError("phone")

    for run in range(100):
        TASKS[JOB] = store_down if run % 2 else broken
        run_task(JOB)

    assert lines(caplog) == [
        (f"scheduled job {JOB} failed", True),
        (f"scheduled job {JOB} failed", True),
    ]


def test_two_problems_of_one_class_are_told_apart(
    tick: Tick, caplog: pytest.LogCaptureFixture
) -> None:
    runs = iter(range(1_000))

    def store_in_trouble() -> None:
        run = next(runs)
        reason = "disk full: could not extend file" if run % 3 == 0 else "connection refused"
        raise OperationalError("SELECT 1", {}, Exception(reason))

    TASKS[JOB] = store_in_trouble
    for _ in range(90):
        run_task(JOB)

    assert [(message, traceback) for message, traceback in lines(caplog)] == [
        (f"scheduled job {JOB} failed", True),
        (f"scheduled job {JOB} failed", True),
    ]
    assert "disk full" in caplog.text and "connection refused" in caplog.text


def test_a_failure_whose_message_cannot_be_made_is_told_all_the_same(
    tick: Tick, caplog: pytest.LogCaptureFixture
) -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    def broken() -> None:
        raise Unprintable

    TASKS[JOB] = broken
    for _ in range(2):
        run_task(JOB)
        tick.now += 61

    assert lines(caplog)[-1] == (
        f"scheduled job {JOB} failed 1 more times the same way, last: Unprintable: (no message)",
        False,
    )


def test_a_job_that_works_again_says_so_once(tick: Tick, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "delivery.scheduler")
    TASKS[JOB] = store_down
    for _ in range(3):
        run_task(JOB)
    TASKS[JOB] = lambda: None
    tick.now += 10  # no failure for ten seconds: the run of them has ended
    run_task(JOB)
    run_task(JOB)

    assert [line for line, _ in lines(caplog)][-1:] == [
        f"scheduled job {JOB} works again after 3 failed runs"
    ]
    assert len(lines(caplog)) == 2


def test_another_failure_is_told_at_once_with_its_traceback(
    tick: Tick, caplog: pytest.LogCaptureFixture
) -> None:
    TASKS[JOB] = store_down
    run_task(JOB)

    def broken() -> None:
        raise KeyError("phone")

    TASKS[JOB] = broken
    run_task(JOB)

    assert lines(caplog) == [
        (f"scheduled job {JOB} failed", True),
        (f"scheduled job {JOB} failed", True),
    ]


def test_a_failing_job_raises_nothing_into_the_scheduler(
    tick: Tick, caplog: pytest.LogCaptureFixture
) -> None:
    TASKS[JOB] = store_down

    run_task(JOB)  # APScheduler would write its own traceback too

    assert caplog.records[0].levelno == logging.ERROR


@pytest.mark.parametrize(
    ("every", "tracebacks"),
    [(timedelta(minutes=1), 1), (timedelta(minutes=2), 1), (timedelta(hours=1), 24)],
    ids=["every-minute", "every-two-minutes", "every-hour"],
)
def test_a_job_failing_at_each_of_its_runs_is_counted_and_told_again_only_an_hour_apart(
    every: timedelta, tracebacks: int, tick: Tick, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "delivery.scheduler")
    TASKS[JOB] = store_down
    for _ in range(24):
        run_task(JOB)
        tick.now += every.total_seconds()
    TASKS[JOB] = lambda: None
    run_task(JOB)

    told = lines(caplog)
    assert sum(traced for _, traced in told) == tracebacks
    assert told[-1] == (f"scheduled job {JOB} works again after 24 failed runs", False)


def test_a_job_that_fails_at_every_other_run_writes_its_traceback_once(
    tick: Tick, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "delivery.scheduler")
    for run in range(10):  # two seconds of runs, five a second, every other one failing
        TASKS[JOB] = store_down if run % 2 == 0 else (lambda: None)
        run_task(JOB)
        tick.now += 0.2

    assert [traced for _, traced in lines(caplog)] == [True]
