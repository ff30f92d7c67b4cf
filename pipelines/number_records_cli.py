"""`ownership notifications show|erase PHONE`: what the store holds about one number, shown or
erased on its holder's request (`delivery.number_records` says what goes and what stays)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pipelines.cli import UsageError
from pipelines.notifications_cli import _count
from pipelines.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from delivery.number_records import Erased


def add_number_records_commands(actions: Any) -> None:
    show = actions.add_parser(
        "show",
        help="print as JSON what the store holds about one number (a right of access)",
        description=(
            "Print as JSON what the store holds about one number: its notifications (client, "
            "text, status and status history; not the client's callback URL, the client's own), "
            "its re-verification answers and its live overlay. The batch's files (the history, "
            "the scores) are not read."
        ),
    )
    show.add_argument("phone", help="the number, E.164 (+79234567823)")
    show.set_defaults(run=cmd_notifications_show)
    erase = actions.add_parser(
        "erase",
        help="erase what the store holds about one number (a right to erasure)",
        description=(
            "Erase the number's notifications that have their outcome, with their status "
            "history, SMS codes and the webhook events sent about them. Kept, and said: "
            "notifications under way and those a webhook of which waits to be sent (run it "
            "again once they end), those whose request the client could still repeat "
            "(erased, a repeat would be sent again), the number's re-verification answers (a "
            "No keeps messages away from the previous holder's account) and the billing ledger "
            "(no number in it). The batch's history and scores are yours to edit: the next "
            "scoring run reads what the history holds."
        ),
    )
    erase.add_argument("phone", help="the number, E.164 (+79234567823)")
    erase.add_argument(
        "--dry-run", action="store_true", help="count what would be erased, and erase nothing"
    )
    erase.set_defaults(run=cmd_notifications_erase)


def cmd_notifications_show(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.exc import DatabaseError

    from delivery.number_records import held_about
    from pipelines.serving_cli import store_failed

    phone = _number(args.phone, settings)
    with _store(settings) as engine:
        try:
            held = held_about(engine, phone)
        except DatabaseError as error:
            raise store_failed(settings, error) from error
    # as written, not \u-escaped: texts are mostly Cyrillic
    print(json.dumps(held, indent=2, ensure_ascii=False, default=_moment))
    return 0


def cmd_notifications_erase(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.exc import DatabaseError

    from delivery.clock import build_clock
    from delivery.number_records import erase_number
    from ownership.numbers import mask
    from pipelines.serving_cli import store_failed

    phone = _number(args.phone, settings)
    with _store(settings) as engine:
        try:
            # the notify path's clock: the demo's runs faster than the wall clock
            now = build_clock(settings).now()
            erased = erase_number(engine, phone, now, dry_run=args.dry_run)
        except DatabaseError as error:
            raise store_failed(settings, error) from error
    print(_said(erased, mask(phone), args.dry_run))
    return 0


def _said(erased: Erased, masked: str, dry_run: bool) -> str:
    verb = "would erase" if dry_run else "erased"
    line = (
        f"{verb} {_count(erased.notifications, 'notification')} of {masked} "
        f"({_count(erased.history, 'history entry', 'history entries')}, "
        f"{_count(erased.codes, 'SMS code')}, {_count(erased.webhook_events, 'webhook event')})"
    )
    kept = erased.kept_under_way + erased.kept_for_webhooks
    if kept:
        line += (
            f"; {_count(kept, 'notification')} kept, under way or with a webhook waiting: "
            "run it again once they end"
        )
    if erased.kept_repeatable:
        line += (
            f"; {_count(erased.kept_repeatable, 'notification')} kept while its client could "
            "still repeat its request (erased, it would be sent again): run it again later"
        )
    if erased.answers_kept:
        line += (
            f"; {_count(erased.answers_kept, 're-verification answer')} kept: a No keeps "
            "messages away from the previous holder's account"
        )
    return line


def _number(text: str, settings: Settings) -> str:
    """E.164, or as the holder may write it in OWNERSHIP_DEFAULT_REGION (8 923 456-78-23)."""
    from ownership.numbers import InvalidNumberError, NumberProblem, parse_number, parse_sent_number

    try:
        return parse_sent_number(text).e164
    except InvalidNumberError as error:
        if settings.default_region is not None and error.problem is not NumberProblem.NOT_TEXT:
            try:
                return parse_number(text, settings.default_region).e164
            except InvalidNumberError:
                pass
        hint = (
            ""
            if settings.default_region
            else ": write it as E.164 (+7…), or set OWNERSHIP_DEFAULT_REGION"
        )
        raise UsageError(f"{error}{hint}") from error


@contextmanager
def _store(settings: Settings) -> Iterator[Engine]:
    from pipelines.serving_cli import recorded_store

    engine = recorded_store(settings, "the notifications a service recorded")
    try:
        yield engine
    finally:
        engine.dispose()


def _moment(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(f"{type(value).__name__} is not JSON")
