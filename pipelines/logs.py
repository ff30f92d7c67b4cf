"""How the long-running processes (`ownership serve`, `worker`, `demo`) log: the service's own
lines (the nightly run's outcome, a job's failure) on stderr at INFO with time, level and
logger, beside uvicorn's own lines, which keep uvicorn's format."""

from __future__ import annotations

import copy
import logging.config
from datetime import timedelta
from typing import Any

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# what APScheduler says of a run it skipped because the job's last run has not ended
SKIPPED_RUN = "maximum number of running instances reached"


class OverlappingRunSkipped(logging.Filter):
    """Drops APScheduler's warning that a run of a job due every minute or more often was
    skipped because its last one has not ended: such a job runs one at a time on purpose
    (`max_instances=1`), and a dispatch round that outlasts its 0.2 s interval would write it
    five times a second while the service is busy. A daily job's skipped run (a scoring run
    longer than a day) is still told."""

    def filter(self, record: logging.LogRecord) -> bool:
        if SKIPPED_RUN not in str(record.msg) or not record.args:
            return True
        job = record.args[0] if isinstance(record.args, tuple) else None
        interval = getattr(getattr(job, "trigger", None), "interval", None)
        return not (isinstance(interval, timedelta) and interval <= timedelta(minutes=1))


def printable(text: str) -> str:
    """`text` with every character a line of a log cannot show as itself (line breaks, a
    terminal's escapes, bidi controls) written out as its Python escape: `\\n`, `\\x1b`,
    `\\u202e`."""
    if text.isprintable():
        return text
    return "".join(
        part if part.isprintable() else part.encode("unicode_escape").decode("ascii")
        for part in text
    )


class OneLinePerRecord(logging.Formatter):
    """The service's lines: a record's message is written on its one line, whatever a caller,
    a client's endpoint or a gateway put in it (a path a request named, a reply quoted), so
    that none can forge lines of the log or rewrite the terminal; a traceback keeps its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = printable(record.message)
        return super().formatMessage(record)


def service_log_config() -> dict[str, Any]:
    """A `logging.config.dictConfig` configuration for the service's own loggers."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"service": {"()": OneLinePerRecord, "format": LOG_FORMAT}},
        "filters": {"overlapping_runs": {"()": OverlappingRunSkipped}},
        "handlers": {
            "service": {
                "class": "logging.StreamHandler",
                "formatter": "service",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "": {"handlers": ["service"], "level": "INFO"},
            # APScheduler tells of every run of every job at INFO, several times a second: it
            # would bury the jobs' own lines; its warnings and errors still show
            "apscheduler": {"level": "WARNING"},
            "apscheduler.scheduler": {"filters": ["overlapping_runs"]},
            # httpx tells of every request at INFO: each webhook and gateway call
            "httpx": {"level": "WARNING"},
            # oauthlib tells at INFO whether a refused call's consumer key was a client's: the
            # caller is told nothing of it, nor should a reader of the log be, call by call
            "oauthlib": {"level": "WARNING"},
        },
    }


def server_log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with the service's loggers added: uvicorn's own loggers
    do not reach the root logger, so no line is written twice."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    ours = service_log_config()
    for section in ("formatters", "filters", "handlers", "loggers"):
        config.setdefault(section, {}).update(ours[section])
    return config


def log_service_lines() -> None:
    """Set up the service's logging in a process that runs no uvicorn (`ownership worker`).
    A process whose logging is set up already (one that embeds the command, the tests'
    capture) keeps its handlers, as `logging.basicConfig` would leave them; only the chatty
    libraries are quietened."""
    if logging.getLogger().handlers:
        for name, settings in service_log_config()["loggers"].items():
            if name and "level" in settings:
                logging.getLogger(name).setLevel(settings["level"])
        scheduler = logging.getLogger("apscheduler.scheduler")
        if not any(isinstance(kept, OverlappingRunSkipped) for kept in scheduler.filters):
            scheduler.addFilter(OverlappingRunSkipped())
        return
    logging.config.dictConfig(service_log_config())
