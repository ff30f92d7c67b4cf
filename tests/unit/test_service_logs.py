"""The long-running processes' logs: a job due every minute or more often whose run outlasts
its interval (a busy dispatch round) does not write APScheduler's "skipped" warning at every
tick; a daily job's skipped run, and APScheduler's other warnings, still show."""

from __future__ import annotations

import io
import logging
import logging.config
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from unittest.mock import patch

import pytest
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobEvent
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError
from uvicorn.logging import DefaultFormatter

from api.observability import mask_phone_numbers_in_logs
from delivery.scheduler import build_scheduler, schedule_every
from pipelines.logs import (
    LOG_FORMAT,
    SKIPPED_RUN,
    OneLinePerRecord,
    RepeatedJobStoreErrors,
    log_service_lines,
    server_log_config,
    service_log_config,
)

# as APScheduler words it, with the job as its argument
SKIPPED_WARNING = 'Execution of job "%s" skipped: maximum number of running instances reached (%d)'


@pytest.fixture
def service_logging() -> Iterator[None]:
    loggers = [
        logging.getLogger(name)
        for name in ("apscheduler", "apscheduler.scheduler", "httpx", "oauthlib")
    ]
    kept = [(logger, logger.level, list(logger.filters)) for logger in loggers]
    log_service_lines()
    yield
    for logger, level, filters in kept:
        logger.setLevel(level)
        logger.filters[:] = filters


def test_a_job_busy_past_its_interval_does_not_log_each_skipped_run(
    service_logging: None, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    scheduler = build_scheduler(create_engine(f"sqlite:///{tmp_path / 'jobs.db'}"))
    busy, release, skipped = threading.Event(), threading.Event(), threading.Event()

    def round_of_work() -> None:
        busy.set()
        release.wait(30)

    def on_skip(event: JobEvent) -> None:
        skipped.set()

    scheduler.add_listener(on_skip, EVENT_JOB_MAX_INSTANCES)
    scheduler.start(paused=True)
    schedule_every(scheduler, "busy", round_of_work, timedelta(seconds=0.05))
    scheduler.resume()
    try:
        assert busy.wait(30)
        assert skipped.wait(30)  # APScheduler skipped a run of the busy job
    finally:
        release.set()
        scheduler.shutdown(wait=True)

    assert [record for record in caplog.records if SKIPPED_RUN in record.getMessage()] == []


def test_a_daily_jobs_skipped_run_still_shows(
    service_logging: None, caplog: pytest.LogCaptureFixture
) -> None:
    nightly = SimpleNamespace(name="batch.nightly_score", trigger=CronTrigger(hour=2))

    logging.getLogger("apscheduler.scheduler").warning(SKIPPED_WARNING, nightly, 1)

    assert len([record for record in caplog.records if SKIPPED_RUN in record.getMessage()]) == 1


def test_apschedulers_other_warnings_still_show(
    service_logging: None, caplog: pytest.LogCaptureFixture
) -> None:
    logging.getLogger("apscheduler.scheduler").warning(
        "Error getting due jobs from job store %r: %s", "default", "the store is down"
    )

    assert [record.getMessage() for record in caplog.records] == [
        "Error getting due jobs from job store 'default': the store is down"
    ]


def job_store_down() -> OperationalError:
    """What APScheduler's SQLAlchemy job store raises at its look for due jobs, the store down."""
    return OperationalError(
        "SELECT apscheduler_jobs.id FROM apscheduler_jobs "
        "WHERE apscheduler_jobs.next_run_time <= %(next_run_time_1)s",
        {"next_run_time_1": 1780390800.5},
        Exception("connection failed: connection refused\n\tIs the server running?"),
    )


STORE_DOWN_FIRST_LINE = (
    "OperationalError: (builtins.Exception) connection failed: connection refused"
)


def test_apschedulers_job_store_error_is_told_once_in_one_line_while_the_store_is_down(
    service_logging: None, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(6):  # a minute of looks for due jobs, one every 10 s
        logging.getLogger("apscheduler.scheduler").warning(
            "Error getting due jobs from job store %r: %s", "default", job_store_down()
        )

    assert [record.getMessage() for record in caplog.records] == [
        f"Error getting due jobs from job store 'default': {STORE_DOWN_FIRST_LINE}"
    ]


def job_store_errors_told(at: Sequence[float]) -> list[str]:
    """What the quietening filter lets through of APScheduler's job-store error at each of
    the seconds `at`."""
    seconds = iter(at)
    quietened = RepeatedJobStoreErrors(timedelta(minutes=1), lambda: next(seconds))
    told = []
    for _ in at:
        record = logging.LogRecord(
            "apscheduler.scheduler",
            logging.WARNING,
            __file__,
            1,
            "Error getting due jobs from job store %r: %s",
            ("default", job_store_down()),
            None,
        )
        if quietened.filter(record):
            told.append(record.getMessage())
    return told


def test_apschedulers_repeated_job_store_error_is_counted_in_a_line_a_minute() -> None:
    assert job_store_errors_told(range(0, 130, 10)) == [
        f"Error getting due jobs from job store 'default': {STORE_DOWN_FIRST_LINE}",
        "Error getting due jobs from job store 'default' 6 more times the same way, last: "
        f"{STORE_DOWN_FIRST_LINE}",
        "Error getting due jobs from job store 'default' 6 more times the same way, last: "
        f"{STORE_DOWN_FIRST_LINE}",
    ]


def test_apschedulers_job_store_error_after_an_hour_without_one_is_told_afresh() -> None:
    # a 40 s outage, and another an hour later: not "5 more times", pinned on the second
    assert (
        job_store_errors_told([0, 10, 20, 30, 40, 3_600])
        == [f"Error getting due jobs from job store 'default': {STORE_DOWN_FIRST_LINE}"] * 2
    )


@pytest.mark.parametrize("config", ["service_log_config", "server_log_config"])
def test_the_worker_and_the_api_drop_the_same_skipped_runs(config: str) -> None:
    # a process of its own: the configuration replaces the process's handlers
    logs = subprocess.run(
        [sys.executable, "-c", CONFIGURED_THEN_WARNED.format(config=config), SKIPPED_WARNING],
        capture_output=True,
        text=True,
        check=True,
    ).stderr

    assert "notify.dispatch" not in logs
    assert "batch.nightly_score" in logs
    assert "the store is down" in logs


CONFIGURED_THEN_WARNED = """
import logging.config
import sys
from types import SimpleNamespace
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from pipelines.logs import {config}
logging.config.dictConfig({config}())
scheduler = logging.getLogger("apscheduler.scheduler")
dispatch = SimpleNamespace(name="notify.dispatch", trigger=IntervalTrigger(seconds=0.2))
nightly = SimpleNamespace(name="batch.nightly_score", trigger=CronTrigger(hour=2))
for job in (dispatch, nightly):
    scheduler.warning(sys.argv[1], job, 1)
scheduler.warning("Error getting due jobs from job store 'default': the store is down")
"""


def test_whether_a_refused_calls_key_was_a_clients_is_not_logged(
    service_logging: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # as the service logs its own lines

    logging.getLogger("oauthlib.oauth1.rfc5849.endpoints.signature_only").info(
        "Valid client: %s", False
    )

    assert "Valid client" not in caplog.text


def written(record: logging.LogRecord, formatter: logging.Formatter | None = None) -> str:
    """What a handler of the service's configuration writes of `record`: its filter, then a
    formatter (the service's, or uvicorn's own)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter or logging.Formatter(LOG_FORMAT))
    handler.addFilter(OneLinePerRecord())
    handler.handle(record)
    return stream.getvalue().rstrip("\n")


def failure(message: str) -> logging.LogRecord:
    try:
        raise ValueError(message)
    except ValueError:
        return logging.LogRecord(
            "api.errors", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )


def test_a_message_is_written_on_its_one_line_whatever_a_caller_put_in_it() -> None:
    path = "/v1/notifications/x\x1b[2K\x1b[1Gforged\u202etxt.exe\r\n2026-11-29 CRITICAL forged"
    record = logging.LogRecord(
        "api.errors", logging.ERROR, __file__, 1, "failed on GET %s", (path,), None
    )

    line = written(record)

    assert "\n" not in line and line.isprintable()
    assert line.endswith(
        "failed on GET /v1/notifications/x\\x1b[2K\\x1b[1Gforged\\u202etxt.exe\\r\\n"
        "2026-11-29 CRITICAL forged"
    )


def test_a_traceback_keeps_its_lines() -> None:
    assert "Traceback (most recent call last):\n" in written(failure("boom"))


@pytest.mark.parametrize(
    "formatter",
    [None, DefaultFormatter("%(levelprefix)s %(message)s", use_colors=False)],
    ids=["service", "uvicorn"],
)
def test_an_exceptions_message_starts_no_line_of_the_log(
    formatter: logging.Formatter | None,
) -> None:
    record = failure("caller text\n1999-01-01 06:00:00,000 INFO api forged \x1b[2J\u202e")

    lines = written(record, formatter).split("\n")

    assert not any(line.startswith("1999-01-01") for line in lines)
    assert all(line.isprintable() for line in lines)
    assert "  1999-01-01 06:00:00,000 INFO api forged \\x1b[2J\\u202e" in lines


def test_every_handler_of_the_server_but_the_access_log_writes_one_line_a_record() -> None:
    handlers = server_log_config()["handlers"]

    one_line = {
        name for name, handler in handlers.items() if "one_line" in handler.get("filters", [])
    }
    assert one_line == set(handlers) - {"access"}
    assert handlers["access"]["filters"] == ["masked_arguments"]


def test_a_number_beside_a_control_is_masked_before_the_control_is_written_out() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(OneLinePerRecord())
    logger = logging.getLogger("tests.masking")
    logger.addHandler(handler)
    try:
        with patch.object(logging.getLogger(), "handlers", [handler]):
            mask_phone_numbers_in_logs()  # as `serve` does, on the handlers set up
        logger.error("failed on GET %s", "/v1/notifications/\x1b4155550100")
    finally:
        logger.removeHandler(handler)

    assert "4155550100" not in stream.getvalue()
    assert "\\x1b+4155*** * 00" in stream.getvalue()


def test_a_number_is_masked_in_the_message_and_the_traceback_alike() -> None:
    # the worker's handler: the one filter, no masking of the API's besides
    record = failure("the gateway answered 500 'cannot reach +14155550100'")
    record.msg, record.args = (
        "forgot %d entries in %s for %s",
        (10234567, "history/20260601", "+79234567823"),
    )

    line = written(record)

    assert "4155550100" not in line and "79234567823" not in line
    assert "for +792* *** ** 23" in line and "cannot reach +141* *** ** 00" in line
    # a count, a date: bare digits, as likely no phone's, stay as they were
    assert "forgot 10234567 entries in history/20260601" in line


def test_the_apis_tracebacks_mask_a_number_written_without_its_plus() -> None:
    record = failure("no holder of 79234567823 in the snapshot")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(OneLinePerRecord(bare_digits=True))  # as server_log_config sets it

    handler.handle(record)

    assert "79234567823" not in stream.getvalue()
    assert "no holder of +792* *** ** 23" in stream.getvalue()
    assert server_log_config()["filters"]["one_line"]["bare_digits"] is True


def test_alembics_plugin_lines_are_quiet_and_its_migrations_still_told() -> None:
    loggers = service_log_config()["loggers"]

    assert loggers["alembic.runtime.plugins"]["level"] == "WARNING"
    assert "alembic.runtime.migration" not in loggers and loggers[""]["level"] == "INFO"
