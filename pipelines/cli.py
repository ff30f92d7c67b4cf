"""The `ownership` command line (DESIGN §9)."""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ownership.numbers import InvalidNumberError
from pipelines.entry import stopped
from pipelines.logs import shown
from pipelines.settings import (
    Settings,
    check_default_region,
    check_memory_limit,
    kinds_missing,
    load_settings,
    memory_limit_bytes,
    unknown_settings,
)
from pipelines.synth_params import MAX_EVENTS_PER_PHONE, MAX_PHONES

if TYPE_CHECKING:
    from pydantic import ValidationError

    from ownership.live import LiveAnswers
    from pipelines.scoring import ScoreRequest
    from pipelines.synth import SynthSummary

console = Console(stderr=True, soft_wrap=True)


class UsageError(Exception):
    """A command cannot run as asked; the message says why."""


def numbers_text(count: int) -> str:
    """`1 number`, `2,000 numbers`."""
    return f"{count:,} number" + ("" if count == 1 else "s")


def text_argument(text: str) -> str:
    """A command-line text the store keeps (a name, an id, a note). A terminal that is not
    UTF-8 sends bytes Python keeps as lone surrogates, which no store holds: refused here."""
    try:
        text.encode()
    except UnicodeEncodeError:
        sent = text.encode(errors="surrogateescape")
        raise argparse.ArgumentTypeError(
            f"{sent!r} is not UTF-8 text; is the terminal set to UTF-8?"
        ) from None
    return text


def _moment(text: str) -> datetime:
    """A date or time from the command line, as naive UTC."""
    try:
        # "Z" or "z" for UTC, as ISO 8601 allows; Python 3.11 knows the upper case only
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date or time (use 2026-11-01 or 2026-11-01T12:00:00Z)"
        ) from error
    try:
        return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
    except OverflowError as error:  # an offset that carries it past year 1 or 9999
        raise argparse.ArgumentTypeError(f"{text!r} is out of range in UTC") from error


def _day(text: str) -> date:
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):  # not 20261101 either
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (use YYYY-MM-DD)") from error


WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")


def _whole_number(
    text: str, least: int, most: int | None = None, most_is: str = "", least_is: str = ""
) -> int:
    # ASCII digits only: int() would also take " 400" and other scripts' digits
    if not WHOLE_NUMBER.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    number = int(text)
    if number < least:
        raise argparse.ArgumentTypeError(f"{text} is below {least}{least_is}")
    if most is not None and number > most:
        raise argparse.ArgumentTypeError(f"{text} is above {most:,}{most_is}")
    return number


# the most API worker processes `ownership serve` starts
MAX_WORKERS = 32


def count_argument(text: str) -> int:
    """A count of one or more (notifications, say)."""
    return _whole_number(text, least=1)


def workers_argument(text: str) -> int:
    """How many API worker processes: 1 to MAX_WORKERS (each starts a Python with the app and
    a pool of store connections; a thousand would bury a machine before serving a call)."""
    return _whole_number(text, least=1, most=MAX_WORKERS, most_is=" worker processes")


def phones_argument(text: str) -> int:
    """A count of numbers to generate: one or more, and no more than one history holds."""
    return _whole_number(text, least=1, most=MAX_PHONES, most_is=", the most the generator makes")


def seed_argument(text: str) -> int:
    """A random seed: numpy takes whole numbers from 0 up."""
    return _whole_number(text, least=0)


def port_argument(text: str) -> int:
    """A TCP port; 0 lets the system pick a free one."""
    port = _whole_number(text, least=0)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"{text} is above 65535, the highest port")
    return port


def _events_per_phone(text: str) -> float:
    try:
        density = float(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (e.g. 10)") from error
    if not math.isfinite(density) or not 0 <= density <= MAX_EVENTS_PER_PHONE:
        raise argparse.ArgumentTypeError(
            f"{text} is not a number from 0 to {MAX_EVENTS_PER_PHONE:,} (e.g. 10)"
        )
    return density


def _memory_limit(text: str) -> str:
    try:
        return check_memory_limit(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _default_region(text: str) -> str:
    try:
        return check_default_region(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _kind_argument(text: str) -> str:
    """A kind of the history (DESIGN §3), as its folder is named."""
    from pipelines.contracts import INPUT_KINDS  # only when given: it loads the YAML reader

    if text not in INPUT_KINDS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is no kind of the history ({', '.join(INPUT_KINDS)})"
        )
    return text


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<36}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal,
    )


def generate_history(
    out: Path,
    phones: int,
    seed: int,
    events_per_phone: float | None,
    *,
    replace_others: bool = False,
) -> SynthSummary:
    """Generate a history with a progress bar; returns the generator's summary. `out` gets a
    whole history or keeps what it held (`pipelines/synth_folder.py`)."""
    from pipelines.synth import SynthParams, generate
    from pipelines.synth_folder import SynthFolderError

    try:
        with _progress() as progress:
            task = progress.add_task("generating history", total=phones)
            return generate(
                out,
                phones=phones,
                seed=seed,
                params=SynthParams.of_density(events_per_phone),
                progress=lambda done, _total: progress.update(task, completed=done),
                replace_others=replace_others,
            )
    except SynthFolderError as error:
        raise UsageError(str(error)) from error
    except OSError as error:
        where = f": {error.filename}" if error.filename else ""
        raise UsageError(
            f"cannot write the history to {out}: {error.strerror or error}{where}"
        ) from error


def score_with_progress(request: ScoreRequest) -> dict[str, Any]:
    """Run a scoring request with a progress bar naming each step; returns the manifest."""
    from pipelines.scoring import STEPS, score

    def running_after(done: str) -> str:
        """The bar names the step under way, the one after the step just done."""
        following = STEPS.index(done) + 1 if done in STEPS else len(STEPS)
        return STEPS[following] if following < len(STEPS) else "done"

    with _progress() as progress:
        task = progress.add_task(STEPS[0], total=len(STEPS))
        result = score(
            request,
            lambda done: progress.update(task, advance=1, description=running_after(done)),
        )
    return result.manifest


def cmd_synth(args: argparse.Namespace, settings: Settings) -> int:
    summary = generate_history(args.out, args.phones, args.seed, args.events_per_phone)
    console.print(f"wrote a history of {args.phones:,} numbers to {shown(str(args.out))}")
    made = summary.events / args.phones
    if args.events_per_phone is not None and made > args.events_per_phone * 1.05:
        console.print(
            f"[yellow]warning:[/yellow] asked for {args.events_per_phone:g} events a number, "
            f"made {made:.2f}: the owners' registrations, their code entries and SMS, and the "
            "number changes alone come to that, so no other code entry or SMS was drawn"
        )
    print(json.dumps(_jsonable(summary), indent=2, default=str))
    return 0


def cmd_score(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.scoring import ScoreRequest

    memory_limit = args.memory_limit or settings.memory_limit
    if memory_limit:  # DuckDB checks the input on either engine
        _warn_of_a_limit_past_the_memory(memory_limit)
    manifest = score_with_progress(
        ScoreRequest(
            events_dir=args.events,
            out_dir=args.out,
            as_of=args.as_of,
            engine=args.engine or settings.score_engine,
            rules=settings.rules(),
            max_reject_share=settings.max_reject_share,
            memory_limit=memory_limit,
            threads=settings.threads,
            default_region=args.default_region or settings.default_region,
            allowed_empty_kinds=frozenset(args.allow_empty_kind),
        )
    )
    rejected = sum(kind["rejected"] for kind in manifest["inputs"].values())
    statuses = ", ".join(f"{k} {v:,}" for k, v in manifest["statuses"].items()) or "no numbers"
    console.print(
        f"scored {numbers_text(manifest['numbers'])} as of {manifest['as_of']} ({statuses}); "
        f"{rejected:,} {'row' if rejected == 1 else 'rows'} rejected"
        + (f", see {shown(str(args.out / 'rejects'))}/" if rejected else "")
    )
    several = manifest["accounts_on_several_numbers"]
    if several:  # the accounts input is the current state, where an account has one number
        console.print(
            f"[yellow]warning:[/yellow] the accounts input binds {several:,} "
            f"{'account' if several == 1 else 'accounts'} to more than one number; each of "
            "those numbers counts it as its own bound account"
        )
    ignored = manifest.get("ignored_columns") or {}
    if ignored:  # an operator who added a column to a feed learns that the rules do not read it
        listed = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in ignored.items())
        console.print(f"not read, as no contract names them: {shown(listed)}")
    folders = manifest.get("ignored_folders") or []
    if folders:  # a misspelt kind's folder would leave its rows out without a word
        console.print(f"not read, as no kind is so named: {shown(_folders_meant(folders))}")
    scores, snapshot = (shown(str(args.out / name)) for name in ("scores.parquet", "snapshot.bin"))
    console.print(f"scores: {scores}   snapshot: {snapshot}")
    return 0


def _folders_meant(folders: list[str]) -> str:
    """The history's folders no kind is named as, each with the kind it may have meant."""
    from difflib import get_close_matches

    from pipelines.contracts import INPUT_KINDS

    told = []
    for name in folders:
        close = get_close_matches(name, INPUT_KINDS, n=1, cutoff=0.8)
        told.append(f"{name}/" + (f" ({close[0]}/?)" if close else ""))
    return ", ".join(told)


def _warn_of_a_limit_past_the_memory(memory_limit: str) -> None:
    """DuckDB spills to disk only past its limit: one above the machine's memory lets a large
    history run the machine out of memory instead."""
    from pipelines.duckdb_engine import machine_memory_bytes

    limit, memory = memory_limit_bytes(memory_limit), machine_memory_bytes()
    if limit is not None and limit > memory:
        console.print(
            f"[yellow]warning:[/yellow] the memory limit {shown(memory_limit)} is more than the "
            f"{memory / 1000**3:.1f}GB this machine has: DuckDB spills to disk only past its "
            f"limit, so a large history may run out of memory instead; give at most "
            f"{memory * 0.8 / 1000**3:.1f}GB (80%) to be sure it spills"
        )


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.evaluate import evaluate

    evaluation = evaluate(args.scores, args.truth)
    if args.json:
        print(json.dumps(evaluation.to_dict(), indent=2))
    else:
        print(evaluation.render())
    return 0


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from api.checks import SinceInFutureError, check_number, find_number, options_at
    from delivery.clock import build_clock
    from ownership.policy import Policy
    from ownership.verdicts import whole_day_since
    from pipelines.snapshot import Snapshot

    path = (args.scores or settings.scores_dir) / "snapshot.bin"
    if not path.exists():
        raise UsageError(f"no snapshot at {path}; run `ownership score` first")
    if not path.is_file():
        raise UsageError(f"{path} is not a file; run `ownership score` to publish a snapshot")
    try:
        snapshot = Snapshot(path)
    except OSError as error:
        raise UsageError(f"cannot read the snapshot {path}: {error.strerror}") from error
    try:
        number, record = find_number(snapshot, args.phone)
    except InvalidNumberError as error:
        raise UsageError(str(error)) from error
    since = None if args.since is None else whole_day_since(args.since)
    # the API's clock: the demo's runs faster than the wall clock, from its history's end
    now = build_clock(settings).now().astimezone(UTC).replace(tzinfo=None)
    try:
        options = options_at(now, since, args.sensitive, args.mobile_only)
    except SinceInFutureError as error:
        raise UsageError(str(error)) from error
    answer = check_number(
        snapshot,
        number,
        record,
        options,
        now,
        Policy(freshness=timedelta(days=settings.freshness_days)),
        _answers_since_batch(settings, number.key),
    )
    print(json.dumps(answer, indent=2))
    return 0


def _answers_since_batch(settings: Settings, key: int) -> LiveAnswers | None:
    """The number's re-verification answers in the store since the batch, if there is a store:
    the API answers with them, so the command does too. A store that cannot be read is an
    error, not a warning: an answer without it could miss a No given since the batch."""
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DatabaseError

    from delivery.overlay import answers_in_store
    from delivery.records import overlay
    from pipelines.serving_cli import store_unreachable  # it imports from here
    from store.database import make_engine

    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        return None  # no store yet: nothing was learnt since the batch
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table(overlay.name):
                return None  # a store no service has used yet (never migrated) holds none
        return answers_in_store(engine, key)
    except DatabaseError as error:
        raise store_unreachable(settings, error) from error
    finally:
        engine.dispose()


def cmd_billing(args: argparse.Namespace, settings: Settings) -> int:
    import re

    from sqlalchemy import select
    from sqlalchemy.exc import DatabaseError

    from delivery import records
    from pipelines.serving_cli import recorded_store, store_failed  # it imports from here
    from store.tables import ClientRow

    # [0-9], as the API's: \d takes any script's digits too ("٢٠٢٦-11"), and a month the
    # ledger never holds would print an empty bill instead of a mistake
    if not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", args.month):
        raise UsageError(f"--month must be YYYY-MM, not {args.month!r}")
    engine = recorded_store(settings, "the bills a service recorded")
    try:
        with engine.connect() as connection:
            key = connection.scalar(
                select(ClientRow.consumer_key).where(ClientRow.name == args.client)
            )
            if key is None:
                raise UsageError(f"no client is named {args.client!r}")
            lines = records.billing_report(connection, key, args.month)
    except DatabaseError as error:
        raise store_failed(settings, error) from error
    finally:
        engine.dispose()
    report = {
        "client": args.client,
        "month": args.month,
        "lines": [
            {**line, "price": str(line["price"]), "amount": str(line["amount"])} for line in lines
        ],
        "delivered": sum(line["delivered"] for line in lines),
        "total": str(records.billing_total(lines)),
    }
    print(json.dumps(report, indent=2))
    return 0


def cmd_export_verifications(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.exc import DatabaseError

    from delivery.export import export_verifications
    from pipelines.serving_cli import recorded_store, store_failed  # it imports from here

    if not args.history.is_dir():
        problem = "is not a folder" if args.history.exists() else "does not exist"
        raise UsageError(f"history folder {args.history} {problem}; give an existing history")
    missing = kinds_missing(args.history)
    if missing:  # a scores folder, say: the results would land where no batch reads them
        raise UsageError(
            f"{args.history} is not a history (DESIGN §3): it has no "
            f"{', '.join(missing)} folder; give the history the batch scores"
        )
    engine = recorded_store(settings, "the re-verification results a service recorded")
    try:
        since = None if args.since is None else args.since.replace(tzinfo=UTC)
        written = export_verifications(engine, args.history, since)
    except OSError as error:  # `verifications` is a file, the folder is read-only, a full disk
        where = error.filename or args.history
        reason = error.strerror or error
        raise UsageError(f"cannot write the results to {where}: {reason}") from error
    except DatabaseError as error:
        raise store_failed(settings, error) from error
    finally:
        engine.dispose()
    if written is None:
        shown_since = since.isoformat().replace("+00:00", "Z") if since else ""
        since_when = f" since {shown_since}" if since else ""
        console.print(f"no re-verification result{since_when} to export: no file written")
        return 0
    count = _rows_in(written)
    console.print(f"wrote {shown(str(written))} ({count:,} result{'' if count == 1 else 's'})")
    return 0


def _rows_in(written: Path) -> int:
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    if written.suffix == ".csv":
        return int(pa_csv.read_csv(written).num_rows)
    return int(pq.ParquetFile(written).metadata.num_rows)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.exc import DatabaseError

    from delivery.channels.simulator_script import SimulatorScriptError
    from delivery.runtime import LOCK_LOST_EXIT, SimulatorsInUseError, SimulatorsLockLostError
    from delivery.worker import run_worker
    from pipelines.logs import log_service_lines
    from pipelines.serving_cli import (  # it imports from here
        check_simulator_script,
        check_start_up,
        store_unreachable,
    )

    check_simulator_script(settings)  # first: the key file is not made for a refused worker
    check_start_up(settings)  # as `ownership serve` does: one line, not a traceback
    log_service_lines()
    try:
        run_worker(settings)
    except DatabaseError as error:  # the store cannot be reached or migrated
        raise store_unreachable(settings, error) from error
    except SimulatorsInUseError as error:
        raise UsageError(str(error)) from error
    except SimulatorScriptError as error:  # gone bad since the check, as the jobs started
        raise UsageError(f"bad setting: OWNERSHIP_SIMULATOR_SCRIPT: {error}") from error
    except SimulatorsLockLostError:  # logged as the jobs stopped: a supervisor starts it again
        return LOCK_LOST_EXIT
    return 0


def _jsonable(value: object) -> object:
    from dataclasses import asdict, is_dataclass

    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ownership",
        description="Phone-ownership risk scoring: generate, score and evaluate number histories.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    synth = commands.add_parser(
        "synth",
        help="generate a realistic synthetic history",
        description="Generate a realistic synthetic history.",
    )
    synth.add_argument(
        "--phones",
        type=phones_argument,
        required=True,
        help=f"how many numbers (at most {MAX_PHONES:,})",
    )
    synth.add_argument("--seed", type=seed_argument, default=1, help="random seed (default 1)")
    synth.add_argument("--out", type=Path, required=True, help="folder to write the history to")
    synth.add_argument(
        "--events-per-phone",
        type=_events_per_phone,
        default=None,
        help=(
            f"average events per number, at most {MAX_EVENTS_PER_PHONE:,} (default: the "
            "realistic density, see docs/synth.md)"
        ),
    )
    synth.set_defaults(run=cmd_synth)

    bound = Settings.model_fields["max_reject_share"].default
    score = commands.add_parser(
        "score",
        help="classify every number of a history (DESIGN §4)",
        description=(
            "Classify every number of a history (DESIGN §4). A row that breaks its contract "
            "goes to OUT/rejects/<kind>.parquet with its reason (OUT/rejects/summary.json says "
            "whether the run published). A run whose rejected share of all its rows, or of one "
            "kind's, passes OWNERSHIP_MAX_REJECT_SHARE (default "
            f"{bound:g}, {bound * 100:g}%) publishes nothing, nor does one that lost a kind the "
            "last run published had rows of (see --allow-empty-kind): the last good run's files "
            "stay."
        ),
    )
    score.add_argument("--events", type=Path, required=True, help="the history folder")
    score.add_argument("--out", type=Path, required=True, help="folder for scores and snapshot")
    score.add_argument(
        "--as-of",
        type=_moment,
        default=None,
        metavar="TIME",
        help="score as of this time, ISO 8601 (2026-06-01, 2026-06-01T12:00:00Z, an offset "
        "taken to UTC; default: now); later events are ignored",
    )
    score.add_argument(
        "--engine",
        choices=("duckdb", "spark"),
        default=None,
        help="run the models on DuckDB or Spark (default: OWNERSHIP_SCORE_ENGINE, else duckdb; "
        "Spark's master, memory and ports come from its spark-defaults.conf)",
    )
    score.add_argument(
        "--memory-limit",
        type=_memory_limit,
        default=None,
        help=(
            "DuckDB memory limit, e.g. 8GB, 6GiB or 80%%; past it DuckDB spills to disk "
            "(default: OWNERSHIP_MEMORY_LIMIT, else DuckDB's 80%% of the memory). With "
            "--engine spark it bounds the input checks, which DuckDB runs; Spark's memory is "
            "its own setting (spark.driver.memory)"
        ),
    )
    score.add_argument(
        "--default-region",
        type=_default_region,
        default=None,
        metavar="REGION",
        help=(
            "the country of phone texts written without a country code, e.g. RU: "
            "89234567823 and 8 (923) 456-78-23 are read as +79234567823; a text with a + "
            "keeps its own (default: OWNERSHIP_DEFAULT_REGION, else such texts are rejected)"
        ),
    )
    score.add_argument(
        "--allow-empty-kind",
        type=_kind_argument,
        action="append",
        default=[],
        metavar="KIND",
        help=(
            "let KIND (accounts, say) have no usable row although the last run published into "
            "--out had some; without it such a run publishes nothing, as a feed that lost a kind "
            "would change every answer. Give it once, for the run that empties the kind: the "
            "manifest then holds none, and the runs after it compare with that (repeatable)"
        ),
    )
    score.set_defaults(run=cmd_score)

    evaluate = commands.add_parser(
        "evaluate",
        help="measure scores against a synthetic truth",
        description="Measure scores against a synthetic truth.",
    )
    evaluate.add_argument(
        "--scores", type=Path, required=True, help="folder with scores.parquet, or the file"
    )
    evaluate.add_argument(
        "--truth",
        type=Path,
        required=True,
        help="the history's truth/ folder, the history, or its labels file",
    )
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of a report")
    evaluate.set_defaults(run=cmd_evaluate)

    check = commands.add_parser(
        "check",
        help="a pre-send check from the local snapshot",
        description=(
            "A pre-send check from the local snapshot and the answers given since the batch "
            "in the store (OWNERSHIP_DATABASE_URL), as JSON; a store it cannot read is an error."
        ),
    )
    check.add_argument("phone", help="the number, E.164 (+79234567823)")
    check.add_argument(
        "--since",
        type=_day,
        default=None,
        metavar="YYYY-MM-DD",
        help="also answer whether the number changed hands after this date (its last moment)",
    )
    check.add_argument(
        "--scores",
        type=Path,
        default=None,
        help="folder with snapshot.bin (default: OWNERSHIP_SCORES_DIR)",
    )
    check.add_argument("--sensitive", action="store_true", help="a bank-grade notification")
    check.add_argument("--mobile-only", action="store_true", help="only the mobile app may show it")
    check.set_defaults(run=cmd_check)

    worker = commands.add_parser(
        "worker",
        help="run the notify path's jobs: dispatch, TTL sweep, webhooks, the nightly scoring",
        description=(
            "Run the notify path's jobs (dispatch, the TTL sweeper, webhook delivery, the "
            "channel simulators' events, the retentions) until interrupted. One per store. "
            "With OWNERSHIP_SCORE_EVENTS_DIR set, it also scores that history every night at "
            "OWNERSHIP_SCORE_AT (UTC), exporting the re-verification results into it first, "
            "and publishes into OWNERSHIP_SCORES_DIR; a run that fails leaves the last scores "
            "served."
        ),
    )
    worker.set_defaults(run=cmd_worker)

    billing = commands.add_parser(
        "billing",
        help="a client's delivered notifications of a month, priced",
        description=(
            "A client's delivered notifications of a month (UTC, by delivery time) by channel, "
            "country and unit price, from the store (OWNERSHIP_DATABASE_URL)."
        ),
    )
    billing.add_argument("--client", required=True, help="the client's name")
    billing.add_argument("--month", required=True, help="YYYY-MM")
    billing.set_defaults(run=cmd_billing)

    export = commands.add_parser(
        "export-verifications",
        help="write the re-verification results into a history, for the next batch",
        description=(
            "Write the re-verification results of the notify path as the `verifications` input "
            "(DESIGN §3) of a history folder, for the next scoring run."
        ),
    )
    export.add_argument("--history", type=Path, required=True, help="the history folder")
    export.add_argument(
        "--since",
        type=_moment,
        default=None,
        metavar="TIME",
        help="only results from this time on, ISO 8601 (2026-06-01, 2026-06-01T12:00:00Z)",
    )
    export.set_defaults(run=cmd_export_verifications)

    from pipelines.serving_cli import add_serving_commands  # it imports from here

    add_serving_commands(commands)
    from pipelines.clients_cli import add_clients_commands  # it imports UsageError from here

    add_clients_commands(commands)
    from pipelines.templates_cli import add_templates_commands

    add_templates_commands(commands)
    from pipelines.simulate_cli import add_simulate_command

    add_simulate_command(commands)
    from pipelines.notifications_cli import add_notifications_commands

    add_notifications_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _run(argv)
    except KeyboardInterrupt as interrupt:  # Ctrl-C or SIGTERM, also while the imports load
        said, code = stopped()
        if getattr(interrupt, "published", False):  # a scoring run's, which waited for it
            console.print(f"{said}, once the run had published all of its files")
        else:
            console.print(said)
        return code
    except RuntimeError as error:
        if str(error) != DUCKDB_INTERRUPTED:
            raise
        said, code = stopped()
        console.print(said)
        return code


# The one optional positional a command takes after its options (`clients set-webhook`'s URL)
TRAILING_POSITIONAL = "url"

# What DuckDB raises when Ctrl-C stops a query it runs
DUCKDB_INTERRUPTED = "Query interrupted"


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    trailing = getattr(args, TRAILING_POSITIONAL, ...)
    if trailing is None and len(extras) == 1 and not extras[0].startswith("-"):
        # argparse fills an optional positional from the first run of positionals only, so
        # `set-webhook bank --renew-secret URL` would leave the URL over: it is the URL
        setattr(args, TRAILING_POSITIONAL, text_argument(extras.pop()))
    if extras:
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    handler: Callable[[argparse.Namespace, Settings], int] = args.run
    from pydantic import ValidationError

    from pipelines.duckdb_engine import AuditFailedError
    from pipelines.evaluate import EvaluationInputError
    from pipelines.input_files import InputError
    from pipelines.scoring import RunRefusedError, ScoreRequestError, ScoringFailedError
    from pipelines.snapshot import SnapshotError

    for unknown in unknown_settings(os.environ):
        console.print(f"[yellow]warning:[/yellow] {shown(unknown)}")
    try:
        code = handler(args, load_settings())
        sys.stdout.flush()  # here, so that a reader gone away is met below, not at exit
        return code
    except BrokenPipeError:
        # the reader stopped early (`| head`): the rest of the output goes nowhere, as it would
        # with any other command, and the interpreter's last flush finds nothing to fail on
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except ValidationError as error:
        console.print(f"[red]error:[/red] bad setting: {shown(_setting_problems(error))}")
    except (
        UsageError,
        InputError,
        RunRefusedError,
        AuditFailedError,
        ScoreRequestError,
        ScoringFailedError,
        EvaluationInputError,
        SnapshotError,
    ) as error:
        # paths and names in messages may hold brackets, which Rich would read as markup
        console.print(f"[red]error:[/red] {shown(str(error))}")
    except _store_errors() as error:  # a URL may hold brackets too
        console.print(f"[red]error:[/red] {shown(str(error))}")
    except OSError as error:
        if error.filename is None:  # not about a path the operator named: a fault of ours
            raise
        console.print(f"[red]error:[/red] {shown(_path_problem(error))}")
    return 2


def _path_problem(error: OSError) -> str:
    """A file or folder the command could not use, in one line: what and why, and, for a
    permission, what to look at (the files are shared through a group)."""
    what = f"{error.strerror or error}: {error.filename}"
    if error.filename2 is not None:
        what += f" -> {error.filename2}"
    if isinstance(error, PermissionError):
        what += (
            " (this user must be able to read it, and to enter each folder on its way: "
            "look at their owner, group and mode)"
        )
    return what


def _store_errors() -> tuple[type[Exception], ...]:
    """The store's errors that are told in one line (a store a newer release migrated, one
    lacking columns the code reads). Only a command that opened the store raises them, having
    imported `store.database`: looked up, not imported, so that the other commands do not pay
    a third of a second for SQLAlchemy and Alembic. Python evaluates an `except` clause's
    classes only once an error reaches it."""
    database = sys.modules.get("store.database")
    if database is None:
        return ()
    return (
        database.StoreFromNewerReleaseError,
        database.StoreLacksColumnsError,
        database.StoreFolderMissingError,
    )


# how pydantic-settings says that a variable holding JSON could not be parsed
UNPARSED_SETTING = re.compile(r'error parsing value for field "(\w+)" from source "\w+"')


def _setting_problems(error: ValidationError) -> str:
    """Pydantic's report in one line, each problem under its environment variable's name (and
    without the value, which may be a secret)."""
    problems = []
    for problem in error.errors():
        message = problem["msg"].removeprefix("Value error, ")
        unparsed = UNPARSED_SETTING.fullmatch(message)
        if unparsed:  # pydantic-settings names the field and its source: say the variable
            field = unparsed.group(1)
            problems.append(f"OWNERSHIP_{field.upper()}: is not valid JSON")
            continue
        if not problem["loc"]:  # a problem of several settings together
            problems.append(message)
            continue
        field, *keys = (str(part) for part in problem["loc"])
        where = f"OWNERSHIP_{field.upper()}" + "".join(f"[{key}]" for key in keys)
        problems.append(f"{where}: {message}")
    return "; ".join(problems)


if __name__ == "__main__":
    # `python -m pipelines.cli`: run the imported module's main, the one whose UsageError the
    # commands raise; this copy's own class would let their errors through as tracebacks
    from pipelines.cli import main as imported_main

    sys.exit(imported_main())
