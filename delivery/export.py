"""The re-verification results, written as the `verifications` input of DESIGN §3, so that the
next batch run scores them (a denial makes the number owner_changed there too)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine, select

from delivery import records
from pipelines.synth import SCHEMAS


def export_verifications(engine: Engine, history: Path, since: datetime | None = None) -> Path:
    """Write the results recorded since `since` (all, without it) to
    `history/verifications/notify-<now>.parquet`, atomically; returns the file."""
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
    folder = history / "verifications"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"notify-{datetime.now(UTC):%Y%m%dT%H%M%S}.parquet"
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMAS["verifications"]), temporary)
    os.replace(temporary, target)
    return target
