"""The re-verification results, written as the `verifications` input of DESIGN §3, so that the
next batch run scores them (a denial makes the number owner_changed there too)."""

from __future__ import annotations

import errno
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from sqlalchemy import Engine, Select, select

from delivery import records
from pipelines.paths import input_files, input_format
from pipelines.synth import SCHEMAS

# the moment in an export's file name, to the microsecond, UTC
STAMP = "%Y%m%dT%H%M%S%f"
# the nightly run's exports: their names are its watermark, which an operator's never move
NIGHTLY = "notify-nightly-"
NIGHTLY_FILE = re.compile(rf"{NIGHTLY}(\d{{8}}T\d{{12}})(?:-\d+)?\.(?:parquet|csv)")


def export_verifications(
    engine: Engine, history: Path, since: datetime | None = None, now: datetime | None = None
) -> Path | None:
    """Write the results answered since `since` (all, without it) to
    `history/verifications/notify-<now>.parquet`, atomically and beside every earlier export;
    returns the file. An operator's export: the nightly run's watermark stays where it was.
    None, and no file, when there is no such result and the history holds the kind already,
    as the nightly export: an empty file an export would leave in the folder every run reads.

    All files of a kind share one format (DESIGN §3): into a `verifications` folder of CSV
    files the results go as `notify-<now>.csv`. The history must exist, or a mistyped path
    would become a history of its own that no run reads. `now` names the file (default: the
    system clock's time)."""
    query = _results()
    if since is not None:
        query = query.where(records.verifications.c.ts >= since)
    rows = _read(engine, history, query)
    if not rows and input_files(history / "verifications"):
        return None
    return _write(history, rows, f"notify-{_stamp(now or datetime.now(UTC))}")


def export_recorded(engine: Engine, history: Path, recorded_since: datetime | None) -> Path | None:
    """The nightly run's export: the results the store took since `recorded_since` (all,
    without it), whenever they were answered (a report can come days late), to
    `history/verifications/notify-nightly-<moment>.parquet` (or `.csv`, as `export_verifications`);
    returns the file. `<moment>` is the wall clock's before the store is read: every result
    recorded before it is in the file, or was still being written (`nightly_watermark`).

    None, and no file, when the store took none since and the history holds the kind already:
    an empty file a night would pile up in the folder every run reads. The watermark stays
    where it was, so the next export reads from there."""
    moment = datetime.now(UTC)
    query = _results()
    if recorded_since is not None:
        query = query.where(records.verifications.c.recorded_at >= recorded_since)
    rows = _read(engine, history, query)
    if not rows and input_files(history / "verifications"):
        return None
    return _write(history, rows, f"{NIGHTLY}{_stamp(moment)}")


def nightly_watermark(history: Path) -> datetime | None:
    """The moment the newest nightly export into `history` read the store at, from its file's
    name; None for none. Only the nightly run's files count: an operator's export (of some
    answers only, say) is no sign that the rest were exported."""
    folder = history / "verifications"
    now = datetime.now(UTC)
    moments = []
    for path in folder.iterdir() if folder.is_dir() else ():
        found = NIGHTLY_FILE.fullmatch(path.name)
        try:
            moment = datetime.strptime(found.group(1), STAMP).replace(tzinfo=UTC) if found else None
        except ValueError:  # a name of the pattern with no such moment (month 13)
            moment = None
        # a file from a night the clock ran ahead would stop every export until that moment
        if moment is not None and moment <= now:
            moments.append(moment)
    return max(moments, default=None)


def _results() -> Select[Any]:
    table = records.verifications
    return select(
        table.c.phone, table.c.ts, table.c.method, table.c.result, table.c.account_id
    ).order_by(table.c.ts)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(STAMP)


def _read(engine: Engine, history: Path, query: Select[Any]) -> list[dict[str, Any]]:
    """The results `query` selects, once the history is known to take them."""
    if not history.is_dir():
        raise FileNotFoundError(f"history folder {history} does not exist")
    folder = history / "verifications"
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "a file, where the results' folder goes", folder)
    with engine.connect() as connection:
        rows = [dict(row) for row in connection.execute(query).mappings()]
    for row in rows:  # the input's times are naive UTC
        row["ts"] = row["ts"].astimezone(UTC).replace(tzinfo=None)
    return rows


def _write(history: Path, rows: list[dict[str, Any]], stamp: str) -> Path:
    folder = history / "verifications"
    results = pa.Table.from_pylist(rows, schema=SCHEMAS["verifications"])
    folder.mkdir(exist_ok=True)
    file_format = _format_of(folder)
    temporary = folder / f".{stamp}.{os.getpid()}.tmp"
    if file_format == "csv":
        # a text time says its zone, so that no reader has to assume one
        ts = results.schema.get_field_index("ts")
        results = results.set_column(ts, "ts", results["ts"].cast(pa.timestamp("us", tz="UTC")))
        pa_csv.write_csv(results, temporary)
    else:
        pq.write_table(results, temporary)
    return _publish_beside(temporary, folder, stamp, file_format)


def _publish_beside(temporary: Path, folder: Path, stamp: str, suffix: str) -> Path:
    """Give the written file its name, never one an earlier export holds: two exports in one
    instant each keep their file (a replace would lose the first one's results)."""
    try:
        for copy in range(1000):
            target = folder / (f"{stamp}.{suffix}" if copy == 0 else f"{stamp}-{copy}.{suffix}")
            try:
                os.link(temporary, target)  # atomic, and refuses a name that is taken
            except FileExistsError:
                continue
            return target
        raise FileExistsError(f"{folder}: no free name for {stamp}.{suffix}")
    finally:
        temporary.unlink()


def _format_of(folder: Path) -> str:
    """The format of the folder's files: CSV if they are CSV, else (none yet) Parquet."""
    formats = {input_format(path) for path in input_files(folder)}
    if formats == {"csv"}:
        return "csv"
    return "parquet"
