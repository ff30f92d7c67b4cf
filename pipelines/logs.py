"""How the long-running processes (`ownership serve`, `worker`, `demo`) log: the service's own
lines (the nightly run's outcome, a job's failure) on stderr at INFO with time, level and
logger, beside uvicorn's own lines, which keep uvicorn's format."""

from __future__ import annotations

import copy
import logging.config
import re
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from time import monotonic
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from rich.markup import escape

from ownership.numbers import mask

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# what APScheduler says of a run it skipped because the job's last run has not ended
SKIPPED_RUN = "maximum number of running instances reached"
# what APScheduler says at each look for due jobs while the store is down, every 10 s
JOB_STORE_ERROR = "Error getting due jobs from job store"
# the kinds of failure followed for one source at most: past them, its streaks are forgotten
KINDS_KEPT = 100
# A kind of failure that has not come again for this long has ended, for a source that never
# says it works again (APScheduler's job store, a request's store): its next failure is told as
# the first of a new outage. Far longer than any retry's interval (a minute at most), so that a
# job or a loop failing at each of its runs is counted, not told afresh at each; a job of every
# hour or day that fails at each run is told at each, its traceback once an hour or a day.
ENDED_AFTER = timedelta(minutes=10)
# How recent a failure keeps a run of them going, whatever worked meanwhile.
STILL_FAILING = timedelta(seconds=10)


def first_line(error: BaseException | str) -> str:
    """The failure's class and the first line of its message (a database error's SQL and
    parameters follow on lines of their own), at most 200 characters."""
    if isinstance(error, str):
        return error.strip().split("\n", 1)[0][:200]
    try:
        lines = str(error).strip().splitlines()
    except Exception:  # an error whose message cannot be made
        lines = ["(no message)"]
    return f"{type(error).__name__}: {lines[0] if lines else ''}"[:200]


# what changes from one failure to the next of one kind: numbers, hexadecimal ids
_VARYING = re.compile(r"[0-9a-fA-F]*[0-9][0-9a-fA-F]*")


def failure_kind(error: BaseException | str) -> str:
    """The error's class and the first line of its message, without its numbers and ids, so
    that a store refusing connections and a full disk, both an OperationalError, are told
    apart, and one error whose message names each time another notification is one kind."""
    return _VARYING.sub("#", first_line(error))


@dataclass
class _Streak:
    """One kind of failure, again and again."""

    told_at: float
    untold: int = 0
    failures: int = 1
    # when it last failed: a kind that has not failed for `ENDED_AFTER` ended (the store came
    # back and went down again later), and its next failure is told as a first again
    failed_at: float = 0.0


@dataclass(frozen=True)
class Telling:
    """What to tell of a failure just seen: the first of its kind, in full (its traceback), or
    the `untold` failures of its kind since it was last told, in one line."""

    first: bool
    untold: int = 0


class FailureStreaks:
    """Which failures to tell when the same ones come again and again (the store down for a
    while), so that a log says what happened without a line for each: the first of each kind
    of a source, in full; more of that kind only counted, and told once `quiet` has passed
    since that kind was last told; and when the source works again, how many failed. A kind
    is `failure_kind`. Each user words its own lines: the jobs (`delivery.scheduler`), the
    simulators' events, the API's store errors, APScheduler's job store errors."""

    def __init__(
        self,
        quiet: timedelta = timedelta(minutes=1),
        clock: Callable[[], float] = monotonic,
        ended_after: timedelta = ENDED_AFTER,
    ) -> None:
        self.quiet = quiet.total_seconds()
        self.clock = clock
        self.ended_after = ended_after.total_seconds()
        self._streaks: dict[str, dict[str, _Streak]] = {}
        self._lock = threading.Lock()

    def failed(self, source: str, error: BaseException | str) -> Telling | None:
        """What to tell of this failure of `source`; None: nothing yet, it is counted."""
        now = self.clock()
        kind = failure_kind(error)
        with self._lock:
            streaks = self._streaks.setdefault(source, {})
            streak = streaks.get(kind)
            if streak is None or now - streak.failed_at >= self.ended_after:
                if streak is None and len(streaks) >= KINDS_KEPT:
                    streaks.clear()
                # a kind quiet that long is a new outage, told afresh; the failures since the
                # source last worked still count towards `ended`
                earlier = streak.failures if streak is not None else 0
                streaks[kind] = _Streak(now, failures=earlier + 1, failed_at=now)
                return Telling(first=True)
            streak.failed_at = now
            streak.failures += 1
            streak.untold += 1
            if now - streak.told_at < self.quiet:
                return None
            untold, streak.untold, streak.told_at = streak.untold, 0, now
            return Telling(first=False, untold=untold)

    def ended(self, source: str, unless_within: timedelta = STILL_FAILING) -> int:
        """`source` works again: how many times it failed since it last worked (0: it had not,
        or it failed within `unless_within`: a success beside failures, a job that works at
        one run and fails at the next, or a request whose authentication reached the store and
        whose own query failed, ends no run of them, which would tell each failure afresh)."""
        now = self.clock()
        with self._lock:
            streaks = self._streaks.get(source, {})
            if any(
                now - streak.failed_at < unless_within.total_seconds()
                for streak in streaks.values()
            ):
                return 0
            streaks = self._streaks.pop(source, {})
        return sum(streak.failures for streak in streaks.values())


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


class RepeatedJobStoreErrors(logging.Filter):
    """Quietens APScheduler's error at each look for due jobs while the store is down (every
    10 s, with the SQL of its query and a link): the first of each kind is told, in its first
    line; more of the same kind are counted and told in one line once a minute. APScheduler
    says nothing when the store is back; the jobs' own lines do."""

    def __init__(
        self, quiet: timedelta = timedelta(minutes=1), clock: Callable[[], float] = monotonic
    ) -> None:
        super().__init__()
        self.streaks = FailureStreaks(quiet, clock)

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not str(record.msg).startswith(JOB_STORE_ERROR) or not isinstance(args, tuple):
            return True
        if len(args) != 2 or not isinstance(error := args[1], BaseException | str):
            return True
        store = args[0]
        telling = self.streaks.failed(f"job store {store!r}", error)
        if telling is None:
            return False
        if telling.first:
            record.msg, record.args = f"{JOB_STORE_ERROR} %r: %s", (store, first_line(error))
        else:
            record.msg = f"{JOB_STORE_ERROR} %r %d more times the same way, last: %s"
            record.args = (store, telling.untold, first_line(error))
        return True


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


def shown(text: str) -> str:
    """`text` as a Rich console is to show it, literally: its brackets not read as markup, and
    what a terminal would act on (line breaks, escapes, bidi controls) written out. For names
    and messages that may hold what a feed or a setting put there (a folder named with a line
    break would otherwise print a line of its own)."""
    return escape(printable(text))


def url_shown(url: str) -> str:
    """`url` as a log line may show it: its scheme, host, port and path, without the user and
    password it may carry or its query and fragment, where a receiver's token usually rides
    (`https://shop.example/hooks?…`)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    rest = "…" if parts.query or parts.fragment else ""
    return printable(urlunsplit((parts.scheme, host, parts.path, rest, "")))


# a number as the service writes one, E.164 with its `+`; a bare run of digits is as likely a
# count, a date or a provider's id, which masked would read as a number's and tell nothing
E164_LIKE = re.compile(r"\+[1-9]\d{7,14}\b")
# with or without its `+`: the API's lines (`bare_digits`), where a caller's text may
# write a number bare
PHONE_LIKE = re.compile(r"\+?\b[1-9]\d{7,14}\b")


def _masked(found: re.Match[str]) -> str:
    return mask("+" + found.group(0).lstrip("+"))


def masked_numbers(text: str, pattern: re.Pattern[str] = E164_LIKE) -> str:
    """`text` with every number `pattern` finds (E.164, by default) in its masked form."""
    return pattern.sub(_masked, text)


class OneLinePerRecord(logging.Filter):
    """A record's message on its one line, whatever a caller, a client's endpoint or a gateway
    put in it (a path a request named, a reply quoted), its E.164 numbers masked (the API's,
    `bare_digits`, any run of digits a number could be; a reply quoted from outside has its
    numbers masked where it is quoted) and then its escapes
    and controls written out, so that none can forge lines of the log or rewrite the terminal
    and no number shows whole; its traceback on lines of its own, each but the first indented
    and masked and written out likewise, so that an exception's message starts no line either.
    A filter on every handler, the service's and uvicorn's alike, in the API and the worker,
    so that whichever formats the record first writes it so (a formatter keeps the traceback's
    text on the record for the next)."""

    def __init__(self, bare_digits: bool = False) -> None:
        super().__init__()
        # the API's lines: a caller's text may write a number without its `+`
        self.bare_digits = bare_digits
        self.numbers = PHONE_LIKE if bare_digits else E164_LIKE

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit: logging reports that itself
            return True
        # masked first: `\x1b4155550100` written out would hide the number from the pattern
        shown = printable(masked_numbers(message, self.numbers))
        if shown != message:
            record.msg, record.args = shown, None
        if record.exc_info and record.exc_text is None:
            record.exc_text = self._indented_traceback(record.exc_info)
        return True

    def _indented_traceback(self, exc_info: Any) -> str:
        written = "".join(traceback.format_exception(*exc_info)).rstrip("\n")
        first, *rest = masked_numbers(written, self.numbers).split("\n")
        return "\n".join([printable(first), *("  " + printable(line) for line in rest)])


# a `+` as a URL writes it (uvicorn's access log quotes the path), before a number
ENCODED_PLUS = re.compile(r"%2[Bb](?=[1-9]\d{7,14}\b)")


class MaskedArguments(logging.Filter):
    """uvicorn's access log, whose formatter reads the record's arguments (client, method,
    path, version, status) where `OneLinePerRecord` would put the whole message in their
    place: each argument has its numbers masked (a caller's path may name one, with its `+`,
    written `%2B` there, or not) and its controls written out, in place."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                printable(masked_numbers(ENCODED_PLUS.sub("+", value), PHONE_LIKE))
                if isinstance(value, str)
                else value
                for value in record.args
            )
        return True


def service_log_config() -> dict[str, Any]:
    """A `logging.config.dictConfig` configuration for the service's own loggers."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"service": {"format": LOG_FORMAT}},
        "filters": {
            "one_line": {"()": OneLinePerRecord},
            "overlapping_runs": {"()": OverlappingRunSkipped},
            "job_store_errors": {"()": RepeatedJobStoreErrors},
        },
        "handlers": {
            "service": {
                "class": "logging.StreamHandler",
                "formatter": "service",
                "filters": ["one_line"],
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "": {"handlers": ["service"], "level": "INFO"},
            # APScheduler tells of every run of every job at INFO, several times a second: it
            # would bury the jobs' own lines; its warnings and errors still show
            "apscheduler": {"level": "WARNING"},
            "apscheduler.scheduler": {"filters": ["overlapping_runs", "job_store_errors"]},
            # httpx tells of every request at INFO: each webhook and gateway call
            "httpx": {"level": "WARNING"},
            # oauthlib tells at INFO whether a refused call's consumer key was a client's: the
            # caller is told nothing of it, nor should a reader of the log be, call by call
            "oauthlib": {"level": "WARNING"},
            # Alembic names each plugin it sets up at INFO, seven lines a process at every
            # start; its migrations' lines (alembic.runtime.migration) still show
            "alembic.runtime.plugins": {"level": "WARNING"},
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
    config["filters"]["one_line"] = {"()": OneLinePerRecord, "bare_digits": True}
    config["filters"]["masked_arguments"] = {"()": MaskedArguments}
    for name, handler in config["handlers"].items():  # uvicorn's own lines too: its error
        # log writes the traceback of an unhandled error again, as Starlette raises it on; its
        # access log (which `serve` turns off) has its arguments masked, which its formatter reads
        mine = "masked_arguments" if name == "access" else "one_line"
        handler["filters"] = sorted({*handler.get("filters", []), mine})
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
        for quietening in (OverlappingRunSkipped, RepeatedJobStoreErrors):
            if not any(isinstance(kept, quietening) for kept in scheduler.filters):
                scheduler.addFilter(quietening())
        return
    logging.config.dictConfig(service_log_config())
