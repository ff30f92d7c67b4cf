"""`ownership notifications forget`: the notifications' retention by hand (the worker runs it
every hour), or a dry run of it that says what it would forget; `show` and `erase`, one
number's (pipelines.number_records_cli)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

from ownership.notifications import ACTION_AGE_DAYS_MAX
from pipelines.cli import UsageError, _whole_number
from pipelines.entry import stopped
from pipelines.settings import (
    MIN_NOTIFICATION_RETENTION_DAYS,
    RETENTION_OFF,
    TEN_YEARS_DAYS,
    Settings,
)

if TYPE_CHECKING:
    from delivery.forgetting import Forgotten, StopAtOnce


def retention_days_argument(text: str) -> int:
    """Days of retention: no fewer than the setting may be, for the same reason."""
    return _whole_number(
        text,
        least=MIN_NOTIFICATION_RETENTION_DAYS,
        most=TEN_YEARS_DAYS,
        least_is=f": a client may be allowed user actions {ACTION_AGE_DAYS_MAX} days old, and a "
        "repeated request whose notification was forgotten sooner would be sent again",
    )


# a batch is one transaction, which holds what it deletes (SQLite: the whole store) until done
MOST_IN_A_BATCH = 10_000


def _batch_size(text: str) -> int:
    return _whole_number(text, least=1, most=MOST_IN_A_BATCH)


def add_notifications_commands(commands: Any) -> None:
    from pipelines.number_records_cli import add_number_records_commands

    notifications = commands.add_parser(
        "notifications",
        help="the notifications kept in the store: forget those past the retention; show or "
        "erase one number's",
        description="The notifications kept in the store.",
    )
    actions = notifications.add_subparsers(dest="action", required=True, metavar="ACTION")
    forget = actions.add_parser(
        "forget",
        help="forget the notifications whose outcome is older than the retention",
        description=(
            "Forget the notifications whose outcome (delivered, read, SMS delivered or failed, "
            "failed, expired without fallback) is older than the retention, with their status "
            "history and SMS codes, in batches, as `ownership worker` does every hour. Kept "
            "whatever their age: notifications under way, those a webhook of which waits to "
            "be sent, the billing ledger, the re-verification results and the overlay. Prints "
            "how many it forgot; stopped by Ctrl-C, it ends the batch in hand and says what "
            "it forgot (the batches done stay done)."
        ),
    )
    forget.add_argument(
        "--older-than-days",
        type=retention_days_argument,
        default=None,
        metavar="N",
        help=(
            "forget those whose outcome is older than N days, "
            f"{MIN_NOTIFICATION_RETENTION_DAYS} to {TEN_YEARS_DAYS} "
            "(default: OWNERSHIP_NOTIFICATION_RETENTION_DAYS; needed when that is 0, off)"
        ),
    )
    forget.add_argument(
        "--dry-run",
        action="store_true",
        help="count what would be forgotten, and forget nothing",
    )
    forget.add_argument(
        "--batch-size",
        type=_batch_size,
        default=None,
        metavar="N",
        help=(
            f"notifications a transaction forgets, 1 to {MOST_IN_A_BATCH:,} (default 500, as the "
            "worker's): smaller batches hold SQLite's write lock for less each"
        ),
    )
    forget.set_defaults(run=cmd_notifications_forget)
    add_number_records_commands(actions)


def cmd_notifications_forget(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import timedelta

    from sqlalchemy.exc import DatabaseError

    from delivery.clock import build_clock
    from delivery.forgetting import (
        BATCH_SIZE,
        ForgettingInterrupted,
        StopAtOnce,
        forget_notifications_before,
    )
    from pipelines.serving_cli import recorded_store, store_failed

    days = args.older_than_days or settings.notification_retention_days
    if days == RETENTION_OFF:
        raise UsageError(
            "the retention is off (OWNERSHIP_NOTIFICATION_RETENTION_DAYS=0): say how old the "
            "notifications to forget are, with --older-than-days N"
        )
    engine = recorded_store(settings, "the notifications a service recorded")
    stopping, at_once = threading.Event(), StopAtOnce()
    with _stopped_by_ctrl_c(stopping, at_once):
        try:
            # the notify path's clock: the demo's runs faster than the wall clock
            before = build_clock(settings).now() - timedelta(days=days)
            done = forget_notifications_before(
                engine,
                before,
                batch_size=args.batch_size or BATCH_SIZE,
                dry_run=args.dry_run,
                stopping=stopping,
                at_once=at_once,
            )
        except ForgettingInterrupted as interrupted:  # a second Ctrl-C: the batch in hand undone
            done = interrupted.done
            prefix = "stopped at once: " if done.stopped_early else ""
        except DatabaseError as error:
            raise store_failed(settings, error) from error
        else:
            prefix = "stopped: " if done.stopped_early else ""
        finally:
            engine.dispose()  # once the run ended, a Ctrl-C waits: what it forgot is said
        said = _said(done, days, args.dry_run, prefix)
        if not prefix:
            print(said)
            return 0
        print(f"{said}; {_unfinished(args.dry_run)}")
        return stopped()[1]  # by a Ctrl-C, or a SIGTERM that came as one


def _unfinished(dry_run: bool) -> str:
    return "counted only so far" if dry_run else "run it again to go on"


def _said(done: Forgotten, days: int, dry_run: bool, prefix: str = "") -> str:
    verb = "would forget" if dry_run else "forgot"
    line = (
        f"{prefix}{verb} {_count(done.notifications, 'notification')} whose outcome is over "
        f"{days} days "
        f"old ({_count(done.history, 'history entry', 'history entries')}, "
        f"{_count(done.codes, 'SMS code')})"
    )
    if done.kept_for_webhooks:
        waiting = _count(done.kept_for_webhooks, "other")
        line += f"; {waiting} kept while a webhook of theirs waits to be sent"
    return line


@contextmanager
def _stopped_by_ctrl_c(stopping: threading.Event, at_once: StopAtOnce) -> Iterator[None]:
    """A first Ctrl-C sets `stopping`: the batch in hand ends, and what was done is said. A
    second stops at once (`at_once`: the batch in hand is rolled back, one committing is
    counted first, and once the run has ended nothing stops the saying)."""

    def stop(signum: int, frame: FrameType | None) -> None:
        if at_once.ended:
            return  # what the run did is being said
        if stopping.is_set():
            at_once.press()
            return
        stopping.set()
        print("stopping after the batch in hand (Ctrl-C again: at once)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number:,} {one if number == 1 else many or one + 's'}"
