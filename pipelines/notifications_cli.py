"""`ownership notifications forget`: the notifications' retention by hand (the worker runs it
every hour), or a dry run of it that says what it would forget."""

from __future__ import annotations

import argparse
from typing import Any

from ownership.notifications import ACTION_AGE_DAYS_MAX
from pipelines.cli import _whole_number
from pipelines.settings import MIN_NOTIFICATION_RETENTION_DAYS, TEN_YEARS_DAYS, Settings


def retention_days_argument(text: str) -> int:
    """Days of retention: no fewer than the setting may be, for the same reason."""
    return _whole_number(
        text,
        least=MIN_NOTIFICATION_RETENTION_DAYS,
        most=TEN_YEARS_DAYS,
        least_is=f": a client may be allowed user actions {ACTION_AGE_DAYS_MAX} days old, and a "
        "repeated request whose notification was forgotten sooner would be sent again",
    )


def add_notifications_commands(commands: Any) -> None:
    notifications = commands.add_parser(
        "notifications",
        help="the notifications kept in the store: forget those past the retention",
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
            "how many it forgot; stopped (Ctrl-C), the batches done stay done."
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
            "(default: OWNERSHIP_NOTIFICATION_RETENTION_DAYS)"
        ),
    )
    forget.add_argument(
        "--dry-run",
        action="store_true",
        help="count what would be forgotten, and forget nothing",
    )
    forget.set_defaults(run=cmd_notifications_forget)


def cmd_notifications_forget(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import timedelta

    from sqlalchemy.exc import DatabaseError

    from delivery.forgetting import forget_notifications_before
    from delivery.runtime import build_clock
    from pipelines.serving_cli import store_failed, store_unreachable
    from store.database import make_engine, upgrade

    days = args.older_than_days or settings.notification_retention_days
    try:
        upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
    except DatabaseError as error:  # the store cannot be reached, read or migrated
        raise store_unreachable(settings, error) from error
    try:
        # the notify path's clock: the demo's runs faster than the wall clock
        before = build_clock(settings).now() - timedelta(days=days)
        done = forget_notifications_before(engine, before, dry_run=args.dry_run)
    except DatabaseError as error:
        raise store_failed(settings, error) from error
    finally:
        engine.dispose()
    verb = "would forget" if args.dry_run else "forgot"
    line = (
        f"{verb} {_count(done.notifications, 'notification')} whose outcome is over {days} days "
        f"old ({_count(done.history, 'history entry', 'history entries')}, "
        f"{_count(done.codes, 'SMS code')})"
    )
    if done.kept_for_webhooks:
        waiting = _count(done.kept_for_webhooks, "other")
        line += f"; {waiting} kept while a webhook of theirs waits to be sent"
    print(line)
    return 0


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number:,} {one if number == 1 else many or one + 's'}"
