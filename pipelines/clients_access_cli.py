"""`ownership clients disable|enable|rotate-secret`: an operator revokes a client's access,
gives it back, or rotates its OAuth consumer secret (store.client_access)."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from typing import Any

from pipelines.cli import UsageError, text_argument
from pipelines.clients_cli import OVERLAP_HOURS_MAX, _store, _utc_text, overlap_hours_argument
from pipelines.settings import Settings

# how long a rotated consumer secret's predecessor also verifies, by default, for the help:
# store.client_access's SECRET_OVERLAP in hours (its …_MAX is OVERLAP_HOURS_MAX)
SECRET_OVERLAP_HOURS = 24
# what happens to what a disabled client sent before, said by `disable` and its help
ACCEPTED_GO_ON = (
    "its notifications already accepted are still delivered (or fall back to SMS) and billed, "
    "and their webhooks still sent"
)


def add_access_commands(actions: Any) -> None:
    disable = actions.add_parser(
        "disable",
        help="revoke a client: the API refuses its calls",
        description=(
            "Revoke a client: the API's workers refuse its calls within 30 s (each keeps a "
            "client's record that long), with the 401 an unknown key gets. A revoke stops new "
            f"calls only: {ACCEPTED_GO_ON}, so the client learns how they ended. "
            "`ownership clients enable NAME` gives its access back, key and secret unchanged."
        ),
    )
    disable.add_argument("name", type=text_argument, help="the client's name")
    disable.set_defaults(run=cmd_clients_disable)

    enable = actions.add_parser(
        "enable",
        help="give a disabled client its access back",
        description=(
            "Give a disabled client its access back, with its key and secret as they were: the "
            "API's workers take its calls again within 30 s."
        ),
    )
    enable.add_argument("name", type=text_argument, help="the client's name")
    enable.set_defaults(run=cmd_clients_enable)

    rotate = actions.add_parser(
        "rotate-secret",
        help="issue a client a new OAuth consumer secret and print it once",
        description=(
            "Issue a client a new OAuth consumer secret, its key unchanged, and print both as "
            "JSON; the secret is shown once. The API's workers accept the new secret within "
            "30 s (each keeps a client's record that long). The one it replaces still verifies "
            "the client's calls for --overlap-hours, so the client can deploy the new one "
            "meanwhile (previous_secret_accepted_until says until when; null: it stopped). Only "
            "one previous secret is kept: during an overlap a rotation is refused, as it would "
            "stop the oldest secret at once, unless --end-previous. For a secret that leaked, "
            "give --overlap-hours 0 (and --end-previous during an overlap): the old ones stop "
            "within 30 s."
        ),
    )
    rotate.add_argument("name", type=text_argument, help="the client's name")
    rotate.add_argument(
        "--overlap-hours",
        "--overlap",
        dest="overlap",
        type=overlap_hours_argument,
        metavar="HOURS",
        help=(
            f"how long the old secret also verifies the client's calls, 0 to "
            f"{OVERLAP_HOURS_MAX} hours (default {SECRET_OVERLAP_HOURS}; 0: it stops, on the "
            "API's workers within 30 s)"
        ),
    )
    rotate.add_argument(
        "--end-previous",
        action="store_true",
        help=(
            "rotate even while the secret before the last rotation is still accepted, which "
            "stops that one at once"
        ),
    )
    rotate.set_defaults(run=cmd_clients_rotate_secret)


def cmd_clients_disable(args: argparse.Namespace, settings: Settings) -> int:
    changed = _set_disabled(args.name, True, settings)
    state = "disabled" if changed else "was disabled already"
    print(
        f"client {args.name!r} {state}: the API's workers refuse its calls within 30 s; "
        f"{ACCEPTED_GO_ON}"
    )
    return 0


def cmd_clients_enable(args: argparse.Namespace, settings: Settings) -> int:
    changed = _set_disabled(args.name, False, settings)
    state = "enabled" if changed else "was enabled already"
    print(f"client {args.name!r} {state}: the API's workers take its calls within 30 s")
    return 0


def _set_disabled(name: str, disabled: bool, settings: Settings) -> bool:
    from store.client_access import set_disabled
    from store.clients import ClientRegistrationError

    with _store(settings) as sessions:
        try:
            with sessions.begin() as session:
                return set_disabled(session, name, disabled)
        except ClientRegistrationError as error:
            raise UsageError(str(error)) from error


def cmd_clients_rotate_secret(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.serving_cli import open_cipher
    from store.client_access import SECRET_OVERLAP, rotate_secret
    from store.clients import ClientRegistrationError
    from store.secrets import SecretKeyError

    overlap = SECRET_OVERLAP if args.overlap is None else timedelta(hours=args.overlap)
    with _store(settings) as sessions:
        try:
            cipher = open_cipher(settings)
            with sessions.begin() as session:
                rotated = rotate_secret(
                    session, args.name, cipher, overlap=overlap, end_previous=args.end_previous
                )
        except (ClientRegistrationError, SecretKeyError) as error:
            raise UsageError(str(error)) from error
    answer = {
        "name": args.name,
        "key": rotated.key,
        "secret": rotated.secret,
        "previous_secret_accepted_until": _utc_text(rotated.previous_accepted_until),
    }
    print(json.dumps(answer))
    return 0
