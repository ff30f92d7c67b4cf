"""`ownership simulate-day`: a simulated day of notifications into a store, for the analysts'
delivery funnel (pipelines.simulate_day)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pipelines.cli import UsageError, console, count_argument, seed_argument
from pipelines.settings import MAX_SIMULATOR_SEED, Settings, check_database_url


def add_simulate_command(commands: Any) -> None:
    simulate = commands.add_parser(
        "simulate-day",
        help="a simulated day of notifications through the channel simulators",
        description=(
            "Send N notifications, spread over a day, to numbers of a scored history, through "
            "the notify service and the VK, OK and SMS simulators on a virtual clock, until "
            "each has its outcome; write them to the store (migrated first)."
        ),
    )
    simulate.add_argument("--history", type=Path, required=True, help="the history folder")
    simulate.add_argument(
        "--scores", type=Path, required=True, help="its scores folder (snapshot.bin)"
    )
    simulate.add_argument(
        "--store",
        type=_store_url,
        required=True,
        help=(
            "SQLAlchemy URL of a store of the day's own, new or empty (sqlite:///var/day.db): "
            "never the service's, where its answers would be real"
        ),
    )
    simulate.add_argument(
        "--notifications",
        type=_notifications,
        default=2_000,
        help=f"notifications (default 2,000; at most {MOST_NOTIFICATIONS:,})",
    )
    simulate.add_argument("--seed", type=_simulator_seed, default=1, help="random seed (default 1)")
    simulate.set_defaults(run=cmd_simulate_day)


# a day of this many runs for hours on one core; more is a load test, not an analyst's day
MOST_NOTIFICATIONS = 1_000_000


def _notifications(text: str) -> int:
    count = count_argument(text)
    if count > MOST_NOTIFICATIONS:
        raise argparse.ArgumentTypeError(f"{text} is above {MOST_NOTIFICATIONS:,}")
    return count


def _simulator_seed(text: str) -> int:
    """A seed for the day's simulators, in OWNERSHIP_SIMULATOR_SEED's range."""
    seed = seed_argument(text)
    if seed > MAX_SIMULATOR_SEED:
        raise argparse.ArgumentTypeError(
            f"{text} is above {MAX_SIMULATOR_SEED}, the largest simulator seed"
        )
    return seed


def _store_url(text: str) -> str:
    try:
        return check_database_url(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def cmd_simulate_day(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.exc import DatabaseError

    from pipelines.serving_cli import open_cipher, store_unreachable
    from pipelines.simulate_day import DayRequest, SimulationInputError, simulate_day
    from store.clients import ClientRegistrationError
    from store.secrets import SecretKeyError

    for name, folder in (("history", args.history), ("scores", args.scores)):
        if not folder.is_dir():
            problem = "is not a folder" if folder.exists() else "does not exist"
            raise UsageError(f"{name} folder {folder} {problem}")
    request = DayRequest(
        history=args.history,
        scores=args.scores,
        store_url=args.store,
        notifications=args.notifications,
        seed=args.seed,
    )
    try:
        cipher = open_cipher(settings)
        summary = simulate_day(request, settings, cipher)
    except (SimulationInputError, ClientRegistrationError, SecretKeyError, OSError) as error:
        raise UsageError(str(error)) from error
    except DatabaseError as error:  # the day's store cannot be reached, read or migrated
        raise store_unreachable(settings, error, url=args.store) from error
    console.print(
        f"simulated {summary.notifications:,} notifications from "
        f"{summary.started_at:%Y-%m-%d %H:%M}"
        f" to {summary.settled_at:%Y-%m-%d %H:%M} UTC in {summary.seconds:.1f} s"
    )
    print(
        json.dumps(
            {
                "store": request.store_url,
                "client_key": summary.client_key,
                "notifications": summary.notifications,
                "statuses": summary.statuses,
                "unsettled": summary.unsettled,
            },
            indent=2,
        )
    )
    return 0
