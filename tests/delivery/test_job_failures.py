"""A job that fails run after run (the store is down) writes its traceback once, then a line a
minute that counts the runs that failed the same way, and a line when it works again; another
failure is told at once; the job keeps running at its times."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.exc import OperationalError

from delivery import scheduler
from delivery.scheduler import TASKS, JobFailures, run_task

JOB = "notify.dispatch"


class Tick:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


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
            f"scheduled job {JOB} failed 300 more times the same way: OperationalError: "
            "(builtins.Exception) gone",
            False,
        ),
    ]


def test_a_job_that_works_again_says_so_once(tick: Tick, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "delivery.scheduler")
    TASKS[JOB] = store_down
    for _ in range(3):
        run_task(JOB)
    TASKS[JOB] = lambda: None
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
