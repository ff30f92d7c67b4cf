"""`ownership clients …`: register and list the API's clients, show how their webhooks fare,
reseal their secrets (DESIGN §9); disable, enable and rotate-secret are in clients_access_cli,
set-policy and show-policy in client_policy_cli."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pipelines.cli import WHOLE_NUMBER, UsageError, text_argument
from pipelines.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

# the store's modules (SQLAlchemy, Alembic) are imported by the commands that use them, so
# every other command starts without them

# how long a renewed webhook secret's predecessor also signs, by default and at most, for the
# help and the argument's check: store.clients' WEBHOOK_SECRET_OVERLAP and …_MAX, in hours
OVERLAP_HOURS = 24
OVERLAP_HOURS_MAX = 30 * 24


def overlap_hours_argument(text: str) -> float:
    """Hours from 0 (the old webhook secret stops at once) to OVERLAP_HOURS_MAX."""
    try:
        hours = float(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of hours (e.g. 24)") from error
    if not math.isfinite(hours) or hours < 0:
        raise argparse.ArgumentTypeError(f"{text} is not a number of hours of 0 or more")
    if hours > OVERLAP_HOURS_MAX:
        raise argparse.ArgumentTypeError(
            f"{text} is above {OVERLAP_HOURS_MAX} hours ({OVERLAP_HOURS_MAX // 24} days), "
            "the longest overlap"
        )
    return hours


def add_clients_commands(commands: Any) -> None:
    clients = commands.add_parser(
        "clients",
        help=(
            "register, list, disable and enable the API's clients, rotate their secrets, set "
            "their policies, and show their webhooks"
        ),
        description=(
            "Register and list the API's clients (OAuth 1.0a consumers), disable and enable "
            "them, rotate their secrets, give them their own notify policy or action age, and "
            "show how their webhooks fare."
        ),
    )
    actions = clients.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = actions.add_parser(
        "add",
        help="register a client and print its key and secret",
        description=(
            "Register a client and print its key and secret as JSON. The secret is shown once."
        ),
    )
    add.add_argument("name", type=text_argument, help="the client's name, unique")
    add.add_argument(
        "--allow-ip",
        action="append",
        required=True,
        metavar="CIDR",
        type=text_argument,
        help="a network the client may call from, e.g. 203.0.113.0/24 (repeatable)",
    )
    add.add_argument(
        "--webhook-url",
        metavar="URL",
        type=text_argument,
        help="where the client's webhooks go unless a notification names its callback_url",
    )
    add.add_argument(
        "--max-action-age-days",
        metavar="DAYS",
        type=_days,
        help="how old a user action its notifications may answer, 1 to 365 (default: 3)",
    )
    add.set_defaults(run=cmd_clients_add)

    action_age = actions.add_parser(
        "set-action-age",
        help="set how old a user action a client's notifications may answer",
        description=(
            "Set how old a user action a client's notifications may answer (DESIGN §7: 3 days "
            "unless the client is allowed more). The API's workers apply it within 30 s. A "
            "request whose notification `notifications erase` removed under a shorter one may "
            "be sent again once it is raised."
        ),
    )
    action_age.add_argument("name", type=text_argument, help="the client's name")
    action_age.add_argument(
        "days", type=_days_or_default, help="1 to 365, or `default` for the service's 3"
    )
    action_age.set_defaults(run=cmd_clients_set_action_age)

    set_webhook = actions.add_parser(
        "set-webhook",
        help="set or clear a client's default webhook URL",
        description=(
            "Set a client's default webhook URL (or clear it with --clear) and print it as JSON. "
            "A client without a webhook secret, or one asked to --renew-secret, is given a new "
            "one, printed once; --renew-secret without a URL keeps the URL as it is. Setting a "
            "URL, the same one again included, forgets the waits recorded for the client's "
            "endpoints (one found down, or that asked by Retry-After to be left alone); events "
            "already put off keep their time."
        ),
    )
    set_webhook.add_argument("name", type=text_argument, help="the client's name")
    set_webhook.add_argument("url", nargs="?", type=text_argument, help="an absolute http(s) URL")
    set_webhook.add_argument("--clear", action="store_true", help="remove the default URL")
    set_webhook.add_argument(
        "--renew-secret",
        action="store_true",
        help=(
            "issue a new webhook secret; the one it replaces also signs every webhook for "
            "--overlap hours, so the client can deploy the new one meanwhile. Only one previous "
            "secret is kept: during an overlap a renewal is refused, as it would stop the oldest "
            "secret at once, unless --end-previous"
        ),
    )
    set_webhook.add_argument(
        "--end-previous",
        action="store_true",
        help=(
            "with --renew-secret: renew even while the secret before the last renewal still "
            "signs, which stops that one at once"
        ),
    )
    set_webhook.add_argument(
        "--overlap",
        type=overlap_hours_argument,
        metavar="HOURS",
        help=(
            f"with --renew-secret: how long the old secret also signs, 0 to "
            f"{OVERLAP_HOURS_MAX} hours (default {OVERLAP_HOURS}; 0: it stops at once)"
        ),
    )
    set_webhook.set_defaults(run=cmd_clients_set_webhook)

    from pipelines.clients_access_cli import add_access_commands  # it imports from here

    add_access_commands(actions)
    from pipelines.client_policy_cli import add_policy_commands  # it imports from here

    add_policy_commands(actions)

    reseal = actions.add_parser(
        "reseal",
        help="seal every client's secrets under the newest secret key",
        description=(
            "Seal every client's secrets under the first key of OWNERSHIP_SECRET_KEY (newest "
            "first). To rotate the key: put the new key before the old one, run this, then drop "
            "the old one. Prints how many clients were resealed, as JSON."
        ),
    )
    reseal.set_defaults(run=cmd_clients_reseal)

    listing = actions.add_parser(
        "list",
        help="list the clients as JSON, without secrets",
        description=(
            "List the clients as JSON, without secrets. How their webhooks fare: "
            "`ownership clients webhooks`."
        ),
    )
    listing.set_defaults(run=cmd_clients_list)

    webhooks = actions.add_parser(
        "webhooks",
        help="show each client's webhook waits and backlog, as JSON",
        description=(
            "Show the clients' webhooks as JSON (with NAME, only that client's): the moment they "
            "are judged at (now) and, for each client (clients), its name, key, whether it is "
            "disabled, where its webhooks go (webhook_url); the waits recorded for its endpoints "
            "that have not ended (waits), one per endpoint that did not answer or answered 429 "
            "or 503, each with url, until, asked_until (the end of the part the endpoint asked "
            "for by Retry-After; null if none), reason (the failure that started it) and holds "
            "(how many of its pending events go to that URL now, and so wait for it: 0 for a URL "
            "its events no longer go to); and its events not yet delivered or given up "
            "(backlog): how many (pending), how many of them a dispatcher has yet to claim (due; "
            "the others wait for a retry, a wait or an attempt in flight), and the earliest next "
            "attempt (next_attempt_at). Times are UTC on the dispatchers' clock, to the second: "
            "now rounded down, the others up. now is read from this command's own clock: where "
            "the workers run a faster one (the demo's), give this command their "
            "OWNERSHIP_CLOCK_SPEED, OWNERSHIP_CLOCK_ANCHOR and OWNERSHIP_CLOCK_START. A wait "
            "ends by itself at its until; to lift a client's waits sooner, once its endpoint is "
            "fixed: `ownership clients set-webhook NAME URL`. That lifts the waits only: the "
            "events they already put off keep their next attempt (backlog.next_attempt_at shows "
            "the earliest)."
        ),
    )
    webhooks.add_argument(
        "name",
        nargs="?",
        metavar="NAME",
        type=text_argument,
        help="the client's name (default: every client)",
    )
    webhooks.set_defaults(run=cmd_clients_webhooks)


def cmd_clients_add(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.serving_cli import open_cipher
    from store.clients import ClientRegistrationError, register_client
    from store.secrets import SecretKeyError

    with _store(settings) as sessions:
        try:
            cipher = open_cipher(settings)
            with sessions.begin() as session:
                issued = register_client(
                    session,
                    args.name,
                    args.allow_ip,
                    cipher,
                    webhook_url=args.webhook_url,
                    max_action_age_days=args.max_action_age_days,
                )
        except (ClientRegistrationError, SecretKeyError) as error:
            raise UsageError(str(error)) from error
    print(
        json.dumps(
            {"key": issued.key, "secret": issued.secret, "webhook_secret": issued.webhook_secret}
        )
    )
    return 0


def cmd_clients_set_webhook(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.serving_cli import open_cipher
    from store.clients import (
        WEBHOOK_SECRET_OVERLAP,
        ClientRegistrationError,
        renew_webhook_secret,
        set_webhook_url,
        webhook_url_named,
    )
    from store.secrets import SecretKeyError

    if args.url is not None and args.clear:
        raise UsageError("give a URL or --clear, not both")
    keep_url = args.url is None and not args.clear
    if keep_url and not args.renew_secret:
        raise UsageError("give a URL, --clear, or --renew-secret")
    if (args.overlap is not None or args.end_previous) and not args.renew_secret:
        raise UsageError("--overlap and --end-previous go with --renew-secret")
    overlap = WEBHOOK_SECRET_OVERLAP if args.overlap is None else timedelta(hours=args.overlap)
    answer: dict[str, str | None] = {"name": args.name, "webhook_url": args.url}
    with _store(settings) as sessions:
        try:
            with sessions.begin() as session:
                if keep_url:  # --renew-secret alone
                    answer["webhook_url"] = webhook_url_named(session, args.name)
                    has_secret = True
                else:
                    has_secret = set_webhook_url(session, args.name, args.url)
                if args.renew_secret or not has_secret:
                    cipher = open_cipher(settings)
                    renewed = renew_webhook_secret(
                        session, args.name, cipher, overlap=overlap, end_previous=args.end_previous
                    )
                    answer["webhook_secret"] = renewed.secret
                    answer["previous_secret_signs_until"] = _utc_text(renewed.previous_signs_until)
        except (ClientRegistrationError, SecretKeyError) as error:
            raise UsageError(str(error)) from error
    print(json.dumps(answer))
    return 0


def cmd_clients_set_action_age(args: argparse.Namespace, settings: Settings) -> int:
    from store.clients import ClientRegistrationError, set_max_action_age

    with _store(settings) as sessions:
        try:
            with sessions.begin() as session:
                set_max_action_age(session, args.name, args.days)
        except ClientRegistrationError as error:
            raise UsageError(str(error)) from error
    print(json.dumps({"name": args.name, "max_action_age_days": args.days}))
    return 0


def _days(text: str) -> int:
    # ASCII digits only, as every whole-number option (pipelines.cli._whole_number); the bounds
    # are the store's (parse_action_age_days), said in its words
    if not WHOLE_NUMBER.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days")
    return int(text)


def _days_or_default(text: str) -> int | None:
    if text == "default":
        return None
    if not WHOLE_NUMBER.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days or `default`")
    return int(text)


def cmd_clients_reseal(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.serving_cli import open_cipher
    from store.clients import ClientRegistrationError, reseal_secrets
    from store.secrets import SecretKeyError

    with _store(settings) as sessions:
        try:
            cipher = open_cipher(settings)
            with sessions.begin() as session:
                resealed = reseal_secrets(session, cipher)
        except (ClientRegistrationError, SecretKeyError) as error:
            raise UsageError(str(error)) from error
    print(json.dumps({"resealed": resealed}))
    return 0


def cmd_clients_list(args: argparse.Namespace, settings: Settings) -> int:
    from store.clients import list_clients

    with _store(settings) as sessions, sessions() as session:
        clients = list_clients(session)
    answer = [
        {
            "name": client.name,
            "key": client.key,
            "allowed_cidrs": list(client.allowed_cidrs),
            "created_at": client.created_at.isoformat(),
            "disabled": client.disabled,
            "webhook_url": client.webhook_url,
            "max_action_age_days": client.max_action_age_days,
            "previous_secret_accepted_until": _utc_text(client.previous_secret_until),
            "own_policy": client.own_policy,
        }
        for client in clients
    ]
    print(json.dumps(answer, indent=2))
    return 0


def cmd_clients_webhooks(args: argparse.Namespace, settings: Settings) -> int:
    from delivery.clock import build_clock
    from store.client_webhooks import clients_webhooks
    from store.clients import ClientRegistrationError

    # the dispatchers' time, which their waits and attempts are in (a demo's runs faster), at
    # a whole second: the times shown, rounded up to one, then say what was judged (a wait
    # shown ends after `now`, a due event's next attempt is not after it)
    now = build_clock(settings).now().replace(microsecond=0)
    if settings.clock_speed != 1 and settings.clock_anchor is None:
        # on stderr, so that the JSON on stdout stays one document a script can read
        print(_unanchored_clock_note(settings.clock_speed), file=sys.stderr)
    with _store(settings) as sessions, sessions() as session:
        try:
            clients = clients_webhooks(session, now, args.name)
        except ClientRegistrationError as error:
            raise UsageError(str(error)) from error
    shown = [
        {
            "name": client.name,
            "key": client.key,
            "webhook_url": client.webhook_url,
            "disabled": client.disabled,
            "waits": [
                {
                    "url": live.url,
                    "until": _utc_text_up(live.wait.until),
                    "asked_until": _utc_text_up(live.wait.asked_until),
                    "reason": live.wait.reason,
                    "holds": live.holds,
                }
                for live in client.waits
            ],
            "backlog": {
                "pending": client.backlog.pending,
                "due": client.backlog.due,
                "next_attempt_at": _utc_text_up(client.backlog.next_attempt_at),
            },
        }
        for client in clients
    ]
    print(json.dumps({"now": _utc_text(now), "clients": shown}, indent=2))
    return 0


def _unanchored_clock_note(speed: float) -> str:
    """Why `now` may not be the workers' time: a clock sped up without an anchor starts at the
    real time when its process does, so each process's reads otherwise."""
    return (
        f'"now" is this command\'s own clock (OWNERSHIP_CLOCK_SPEED={speed:g} without '
        "OWNERSHIP_CLOCK_ANCHOR starts at the real time when the command does), not a worker's: "
        "for a worker's, give OWNERSHIP_CLOCK_ANCHOR and OWNERSHIP_CLOCK_START as the worker "
        "has them (for a worker started without an anchor: the real moment it started, UTC)"
    )


def _utc_text(moment: datetime | None) -> str | None:
    """`2026-11-28T12:00:00Z`, or None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _utc_text_up(moment: datetime | None) -> str | None:
    """`_utc_text`, up to the next second: a wait or a next attempt shown never ends sooner."""
    if moment is not None and moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return _utc_text(moment)


@contextmanager
def _store(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """The store at `settings.database_url`, migrated to the newest revision."""
    from sqlalchemy import make_url
    from sqlalchemy.exc import DatabaseError, OperationalError

    from store.database import make_engine, session_factory, upgrade

    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    try:
        upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
    except DatabaseError as error:
        # the driver's first line: psycopg's goes on with a hint on a line of its own
        reason = str(error.orig).strip().splitlines()[0] if str(error.orig).strip() else error
        raise UsageError(f"cannot open the store at {shown}: {reason}") from error
    try:
        yield session_factory(engine)
    except OperationalError as error:
        raise UsageError(f"the store at {shown} failed: {error.orig}") from error
    finally:
        engine.dispose()
