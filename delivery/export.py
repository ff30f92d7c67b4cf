"""The re-verification results, written as the `verifications` input of DESIGN §3, so that the
next batch run scores them (a denial makes the number owner_changed there too)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from sqlalchemy import Engine, select

from delivery import records
from pipelines.synth import SCHEMAS


def export_verifications(
    engine: Engine, history: Path, since: datetime | None = None, now: datetime | None = None
) -> Path:
    """Write the results recorded since `since` (all, without it) to
    `history/verifications/notify-<now>.parquet`, atomically and beside every earlier export;
    returns the file.

    All files of a kind share one format (DESIGN §3): into a `verifications` folder of CSV
    files the results go as `notify-<now>.csv`. The history must exist, or a mistyped path
    would become a history of its own that no run reads. `now` names the file (default: the
    system clock's time)."""
    if not history.is_dir():
        raise FileNotFoundError(f"history folder {history} does not exist")
    table = records.verifications
    query = select(
        table.c.phone, table.c.ts, table.c.method, table.c.result, table.c.account_id
    ).order_by(table.c.ts)
    if since is not None:
        query = query.where(table.c.ts >= since)
    with engine.connect() as connection:
        rows = [dict(row) for row in connection.execute(query).mappings()]
    for row in rows:  # the input's times are naive UTC
        row["ts"] = row["ts"].astimezone(UTC).replace(tzinfo=None)
    results = pa.Table.from_pylist(rows, schema=SCHEMAS["verifications"])
    folder = history / "verifications"
    folder.mkdir(exist_ok=True)
    file_format = _format_of(folder)
    stamp = f"notify-{(now or datetime.now(UTC)).astimezone(UTC):%Y%m%dT%H%M%S%f}"
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
    if any(folder.glob("*.csv")) and not any(folder.glob("*.parquet")):
        return "csv"
    return "parquet"
