"""How the long-running processes (`ownership serve`, `worker`, `demo`) log: the service's own
lines (the nightly run's outcome, a job's failure) on stderr at INFO with time, level and
logger, beside uvicorn's own lines, which keep uvicorn's format."""

from __future__ import annotations

import copy
import logging.config
from typing import Any

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def service_log_config() -> dict[str, Any]:
    """A `logging.config.dictConfig` configuration for the service's own loggers."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"service": {"format": LOG_FORMAT}},
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
            # httpx tells of every request at INFO: each webhook and gateway call
            "httpx": {"level": "WARNING"},
        },
    }


def server_log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with the service's loggers added: uvicorn's own loggers
    do not reach the root logger, so no line is written twice."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    ours = service_log_config()
    for section in ("formatters", "handlers", "loggers"):
        config.setdefault(section, {}).update(ours[section])
    return config


def log_service_lines() -> None:
    """Set up the service's logging in a process that runs no uvicorn (`ownership worker`).
    A process whose logging is set up already (one that embeds the command, the tests'
    capture) keeps its handlers, as `logging.basicConfig` would leave them; only the chatty
    libraries are quietened."""
    if logging.getLogger().handlers:
        for name, level in service_log_config()["loggers"].items():
            if name:
                logging.getLogger(name).setLevel(level["level"])
        return
    logging.config.dictConfig(service_log_config())
