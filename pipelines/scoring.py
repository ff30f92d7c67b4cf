"""One scoring run: check the history, run the models, publish (DESIGN §3-§5)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

import duckdb
import phonenumbers

from ownership.rules import RuleSettings
from ownership.verdicts import Status
from pipelines import duckdb_engine, ingest
from pipelines.contracts import INPUT_KINDS, load_contract
from pipelines.input_files import one_line
from pipelines.locks import LockHeldError, held_alone
from pipelines.number_ranges import RANGES_FILE, file_version
from pipelines.paths import PROJECT_ROOT, ignored_folders
from pipelines.publish import (
    MANIFEST_FILE,
    SCORES_FILE,
    SNAPSHOT_FILE,
    coverage_start,
    staged,
    write_manifest,
    write_scores,
    write_serving_snapshot,
)
from pipelines.refusals import last_published_rows, refusal
from pipelines.run_params import run_params_row
from pipelines.sqlfiles import MODEL_ORDER

Engine = Literal["duckdb", "spark"]
PUBLISH_STEPS = ("scores", "snapshot", "manifest")
# every step a run reports, in order, so a display can show a bar of known length
STEPS: tuple[str, ...] = (
    *(f"check {kind}" for kind in INPUT_KINDS),
    "check numbers",
    "count and write rejects",
    *(f"model {name}" for name in MODEL_ORDER),
    *(f"publish {name}" for name in PUBLISH_STEPS),
)


class RunRefusedError(Exception):
    """The input was read, and the run refused to publish it (`pipelines.refusals`): its
    rejects sit beside the last good run's files, with a summary saying it did not publish."""


class RejectedShareTooHighError(RunRefusedError):
    """Too much of the input, or of one kind, broke its contract; nothing was published."""


class KindLostError(RunRefusedError):
    """A kind the last published run had rows of has none left; nothing was published."""


class ScoreRequestError(ValueError):
    """The run cannot be done as asked; the message says why."""


class ScoringFailedError(Exception):
    """The engine failed mid-run (a full disk, say); nothing was published."""


@dataclass(frozen=True)
class ScoreRequest:
    events_dir: Path
    out_dir: Path
    as_of: datetime | None = None
    engine: Engine = "duckdb"
    rules: RuleSettings = field(default_factory=RuleSettings)
    max_reject_share: float = 0.01
    memory_limit: str | None = None
    threads: int | None = None
    # the region phone texts written without a country code are read in ("RU"); None: rejected
    default_region: str | None = None
    # kinds that may have no row although the last published run had some (refused otherwise)
    allowed_empty_kinds: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ScoreResult:
    out_dir: Path
    manifest: dict[str, Any]


def _epoch(moment: datetime) -> int:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return int(aware.timestamp())


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def code_version() -> str:
    try:
        package = version("ownership")
    except PackageNotFoundError:
        package = "unknown"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return package
    return f"{package}+{commit}"


class _Timings(dict[str, float]):
    @contextmanager
    def measure(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self[name] = round(self.get(name, 0.0) + time.perf_counter() - started, 3)


class InterruptedOncePublishedError(KeyboardInterrupt):
    """Ctrl-C came while the run was publishing, and waited for it: every file is in place."""

    published = True


# held in the output folder while a run writes there: a second run would take its work folder
LOCK_FILE = ".scoring.lock"


def score(request: ScoreRequest, on_step: Callable[[str], None] | None = None) -> ScoreResult:
    """Score a history folder into `request.out_dir`, or raise saying why nothing was published."""
    with ExitStack() as held:
        return _score(request, on_step, held)


@contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Ctrl-C waits for the block: the scores, the snapshot and their manifest are published
    together, never some of them. (Signals reach the main thread only: a run on another
    thread, the nightly job, is stopped by no Ctrl-C.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, _frame: received.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise InterruptedOncePublishedError


def _score(
    request: ScoreRequest, on_step: Callable[[str], None] | None, held: ExitStack
) -> ScoreResult:
    done: list[str] = []

    def step(name: str) -> None:
        done.append(name)
        if on_step:
            on_step(name)

    timings = _Timings()
    run_at = int(time.time())
    if request.as_of and request.as_of.microsecond:  # cut off, it would count earlier rows later
        raise ScoreRequestError(
            f"as_of {request.as_of.isoformat()} has a fraction of a second; a run is dated to "
            "the second"
        )
    as_of = _epoch(request.as_of) if request.as_of else run_at
    if as_of > run_at:
        raise ScoreRequestError(f"as_of {_iso(as_of)} is in the future; a run scores the past")
    if as_of <= 0:  # no event can be as old: the input takes times after 1970-01-01 only
        raise ScoreRequestError("as_of must be after 1970-01-01, the earliest time of any event")
    _check_number_ranges()
    files = ingest.discover(request.events_dir)
    unread = ignored_folders(request.events_dir, INPUT_KINDS)
    _make_out_dir(request.out_dir, request.events_dir)
    try:
        held.enter_context(held_alone(request.out_dir / LOCK_FILE))
    except LockHeldError as error:
        raise ScoreRequestError(
            f"another run is scoring into {request.out_dir}; wait for it to end, or give "
            "this one another output folder"
        ) from error
    except OSError as error:
        raise ScoreRequestError(
            f"cannot write to output folder {request.out_dir}: {error.strerror or error}"
        ) from error
    if request.engine == "spark":
        _java_for_spark()
    work_dir = request.out_dir / ".work"
    for stale in (work_dir, *request.out_dir.glob(".rejects.*.tmp")):  # of a run killed outright
        shutil.rmtree(stale, ignore_errors=True)
    try:  # the first write into the output folder: refuse the run before any work
        work_dir.mkdir()
    except OSError as error:
        raise ScoreRequestError(
            f"cannot write to output folder {request.out_dir}: {error.strerror or error}"
        ) from error
    params = run_params_row(request.rules, as_of, run_at)
    try:
        con = duckdb_engine.connect(request.memory_limit, request.threads, work_dir / "spill")
    except (duckdb.ParserException, duckdb.InvalidInputException) as error:
        raise ScoreRequestError(
            f"DuckDB refused the memory limit or thread count: {one_line(error)}"
        ) from error
    try:
        duckdb_engine.create_run_params(con, params)
        contracts = [load_contract(kind) for kind in INPUT_KINDS]
        with timings.measure("check"):
            ingest.prepare(con, contracts)
            # columns the files hold beyond their contract's: not read, but told
            ignored: dict[str, list[str]] = {}
            for contract in contracts:
                columns = ingest.register_raw(con, files[contract.name], contract)
                if columns:
                    ignored[contract.name] = columns
            for kind in INPUT_KINDS:
                ingest.check_kind(con, kind)
                step(f"check {kind}")
            mended = ingest.mend_phones(con, INPUT_KINDS, request.default_region)
            numbers = ingest.check_numbers(con, INPUT_KINDS)
            number_counts = {
                # messy texts mended, and strict ones phonenumbers reads as another number
                "phone_texts_mended": mended + numbers.renumbered,
                # distinct numbers no operator could issue, whose rows were rejected
                "invalid_numbers": numbers.invalid,
                # accounts listed on more than one number, which each of them counts as its own
                "accounts_on_several_numbers": ingest.accounts_on_several_numbers(con),
            }
            step("check numbers")
            ingest.collect_unreadable_lines(con)
            counts = {kind: ingest.count_kind(con, kind) for kind in INPUT_KINDS}
        refused = refusal(
            counts,
            request.max_reject_share,
            last_published_rows(request.out_dir / MANIFEST_FILE, request.events_dir),
            request.allowed_empty_kinds,
            request.out_dir / "rejects",
        )
        rejects = _write_rejects(con, counts, work_dir / "rejects")
        step("count and write rejects")
        rejects_summary = {
            "as_of": _iso(as_of),
            "run_at": _iso(run_at),
            "events_dir": str(request.events_dir.resolve()),
            "max_reject_share": request.max_reject_share,
            # the region texts without a country code were read in; null: they were rejected
            "default_region": request.default_region,
            **_input_counts(counts),
            **number_counts,
        }
        if refused and refused.too_many_rejects:
            _publish_rejects(rejects, request.out_dir, {**rejects_summary, "published": False})
            raise RejectedShareTooHighError(refused.message)
        nothing = _nothing_to_score(counts, as_of)
        if nothing:  # a feed that wrote headers only must not replace the scores served
            raise ScoreRequestError(nothing)
        if refused:  # only a kind lost: said once nothing at all is left is not the matter
            if rejects is None:  # the summary still says that this run did not publish
                rejects = work_dir / "rejects"
                rejects.mkdir()
            _publish_rejects(rejects, request.out_dir, {**rejects_summary, "published": False})
            raise KindLostError(refused.message)

        with timings.measure("models"):
            if request.engine == "spark":
                classification = _score_on_spark(con, work_dir, params, step)
                duckdb_engine.create_in_phone_order(
                    con, con.read_parquet(str(classification / "*.parquet")), "classification"
                )
            else:
                duckdb_engine.run_models(con, lambda name: step(f"model {name}"))
            statuses = dict(
                con.table("classification").aggregate("status, count(*)", "status").fetchall()
            )
        with timings.measure("audits"):
            duckdb_engine.run_audits(con)
        with (
            timings.measure("publish"),
            duckdb_engine.insertion_order_kept(con),
            staged(request.out_dir, SCORES_FILE, SNAPSHOT_FILE) as published,
        ):
            write_scores(con, published[SCORES_FILE])
            step("publish scores")
            coverage = coverage_start(con, ingest.logs_start(counts))
            write_serving_snapshot(con, published[SNAPSHOT_FILE], as_of, coverage)
            step("publish snapshot")
            # from the renames on, up to the manifest: all of the run's files, or none
            held.enter_context(_interrupts_deferred())
        if rejects is not None:  # kept out of the work folder, which goes below
            rejects = rejects.rename(request.out_dir / f".rejects.{os.getpid()}.tmp")
    except duckdb.OutOfMemoryException as error:
        limit = f"the memory limit of {request.memory_limit}" if request.memory_limit else "memory"
        raise ScoreRequestError(
            f"the run needs more than {limit}, even spilling to disk; raise --memory-limit "
            f"({one_line(error)})"
        ) from error
    except duckdb.Error as error:
        raise ScoringFailedError(_failure(one_line(error), done, work_dir / "spill")) from error
    except OSError as error:  # writing the snapshot, say, on a full disk
        reason = f"{error.strerror or error}: {error.filename}" if error.filename else str(error)
        raise ScoringFailedError(_failure(reason, done, work_dir / "spill")) from error
    finally:
        con.close()
        shutil.rmtree(work_dir, ignore_errors=True)
    manifest = _manifest(
        request,
        counts,
        statuses,
        as_of,
        run_at,
        coverage,
        number_counts,
        ignored,
        unread,
        timings,
    )
    # the rejects and the manifest come after the scores and the snapshot: a reader that finds
    # the manifest of a run finds its files, and its rejects beside them
    try:
        _publish_rejects(rejects, request.out_dir, {**rejects_summary, "published": True})
        write_manifest(manifest, request.out_dir)
    except OSError as error:
        reason = f"{error.strerror or error}: {error.filename}" if error.filename else str(error)
        raise ScoringFailedError(
            f"the run published its scores and snapshot, but not its rejects and manifest "
            f"({reason}); the manifest still describes the run before: run again"
        ) from error
    finally:
        if rejects is not None:
            shutil.rmtree(rejects, ignore_errors=True)
    step("publish manifest")
    return ScoreResult(request.out_dir, manifest)


def _check_number_ranges() -> None:
    """The batch's number ranges must be the installed phonenumbers', which the API uses."""
    made_from, installed = file_version(), phonenumbers.__version__
    if made_from != installed:
        named = made_from or "a release it does not name"
        install = f"install phonenumbers=={made_from} or " if made_from else ""
        raise ScoreRequestError(
            f"{RANGES_FILE} was made from phonenumbers {named}, but {installed} is installed, "
            f"so the batch and the API could judge numbers apart: {install}regenerate the file "
            "(ownership-number-ranges)"
        )


def _failure(reason: str, done: list[str], spill_dir: Path) -> str:
    """What failed, in which step, and what to do about a full disk."""
    upcoming = [name for name in STEPS if name not in done]
    where = f" during {upcoming[0]}" if upcoming else ""
    message = f"the run failed{where}: {reason}; nothing was published"
    if "No space left on device" in reason:
        message += (
            f". DuckDB spills to {spill_dir} past the memory limit: free disk there, or raise "
            "--memory-limit"
        )
    return message


def _make_out_dir(out_dir: Path, events_dir: Path) -> None:
    """Create the output folder, or raise saying why it cannot be one."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ScoreRequestError(f"output folder {out_dir} is a file; name a folder")
    if out_dir.resolve().is_relative_to(events_dir.resolve()):
        raise ScoreRequestError(
            f"output folder {out_dir} is inside the events folder {events_dir}: the next run "
            "would read the scores as input; choose a folder outside it"
        )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ScoreRequestError(
            f"cannot make output folder {out_dir}: {error.strerror or error}"
        ) from error


def _write_rejects(con: Any, counts: dict[str, ingest.KindCounts], staging: Path) -> Path | None:
    """This run's rejected rows, one file a kind, in `staging`; None when there are none."""
    if not any(kind_counts.rejected for kind_counts in counts.values()):
        return None
    for kind, kind_counts in counts.items():
        if kind_counts.rejected:
            ingest.write_rejects(con, kind, staging)
    return staging


def _publish_rejects(staged_rejects: Path | None, out_dir: Path, summary: dict[str, Any]) -> None:
    """Put the run's rejects in `OUT/rejects/`, with `summary.json` saying which run they are
    of and whether it published, once the run has published or has been refused for them
    (its manifest then stays the last good run's). A run that fails otherwise leaves the last
    good run's rejects."""
    target = out_dir / "rejects"
    if staged_rejects is not None:
        (staged_rejects / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", "utf-8")
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    else:
        target.unlink(missing_ok=True)  # a file or a link in its place
    if staged_rejects is not None:
        staged_rejects.rename(target)


def _java_for_spark() -> None:
    """Spark's Java looked for before the input is checked, which takes minutes on a large
    history: a run that could not start Spark says so at once."""
    try:
        from pipelines import spark_engine
    except ImportError as error:  # no PySpark: its message says how to install it
        raise ScoreRequestError(str(error)) from None
    problem = spark_engine.java_problem()
    if problem is not None:
        raise ScoreRequestError(problem)


def _score_on_spark(
    con: Any, work_dir: Path, params: dict[str, int], step: Callable[[str], None]
) -> Path:
    """The classification made by Spark; a Spark that cannot start, or fails, is said in a line."""
    from pipelines import spark_engine

    try:
        return spark_engine.score_checked(con, work_dir, params, step)
    except spark_engine.SparkUnavailableError as error:
        raise ScoreRequestError(str(error)) from error
    except spark_engine.SPARK_ERRORS as error:
        raise ScoringFailedError(
            f"Spark failed: {spark_engine.failure_line(error)}; nothing was published"
        ) from error


def _nothing_to_score(counts: dict[str, ingest.KindCounts], as_of: int) -> str | None:
    """Why the run must publish nothing when no event is left to score: its scores would call
    every number `unknown`, and replace those served."""
    events = [kind for name, kind in counts.items() if name != "accounts"]
    if any(kind.accepted for kind in events):
        return None
    rows = sum(kind.rows for kind in events)
    later = sum(kind.after_as_of for kind in events)
    return (
        f"no event to score on or before {_iso(as_of)}: the history's event files hold "
        f"{rows:,} rows, {later:,} of them later; nothing was published"
    )


def _input_counts(counts: dict[str, ingest.KindCounts]) -> dict[str, Any]:
    rows = sum(kind.rows for kind in counts.values())
    rejected = sum(kind.rejected for kind in counts.values())
    return {
        "inputs": {
            kind: {
                "rows": kind_counts.rows,
                "accepted": kind_counts.accepted,
                "rejected": kind_counts.rejected,
                "after_as_of": kind_counts.after_as_of,
                "reject_reasons": kind_counts.reject_reasons,
            }
            for kind, kind_counts in counts.items()
        },
        "rejected_share": round(rejected / rows, 6) if rows else 0.0,
    }


def _manifest(
    request: ScoreRequest,
    counts: dict[str, ingest.KindCounts],
    statuses: dict[str, int],
    as_of: int,
    run_at: int,
    coverage: int | None,
    number_counts: dict[str, int],
    ignored_columns: dict[str, list[str]],
    ignored_folders: list[str],
    timings: dict[str, float],
) -> dict[str, Any]:
    return {
        "as_of": _iso(as_of),
        "run_at": _iso(run_at),
        # where the history's coverage starts (its logs' first row): checks answer from there
        "coverage_from": None if coverage is None else _iso(coverage),
        "engine": request.engine,
        "code_version": code_version(),
        "events_dir": str(request.events_dir.resolve()),
        # as named, links kept: a link re-pointed at each day's export is one feed
        "events_dir_named": str(request.events_dir.absolute()),
        **_input_counts(counts),
        **number_counts,
        "ignored_columns": ignored_columns,
        # the history's folders no kind is named as (a misspelt kind), which were not read
        "ignored_folders": ignored_folders,
        "numbers": sum(statuses.values()),
        "statuses": {status.value: statuses.get(status, 0) for status in sorted(Status)},
        "settings": {
            **asdict(request.rules),
            "max_reject_share": request.max_reject_share,
            "default_region": request.default_region,
            # kinds this run was told may be empty: a run after it compares with its counts
            "allowed_empty_kinds": sorted(request.allowed_empty_kinds),
        },
        "timings_s": dict(timings),
    }
