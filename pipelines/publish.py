"""Publishing a run: `scores.parquet`, the serving snapshot and `manifest.json` (DESIGN §5).

Every file is written under a temporary name. The scores and the snapshot are renamed into place
together once both are written (`staged`), and the manifest goes last, so a reader that finds a
manifest finds the files it describes, and a run that fails while writing publishes nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from pipelines.snapshot import write_snapshot
from pipelines.sqlfiles import publish_sql

SCORES_FILE = "scores.parquet"
SNAPSHOT_FILE = "snapshot.bin"
MANIFEST_FILE = "manifest.json"
SNAPSHOT_BATCH_ROWS = 1_000_000


def _temporary(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.tmp")


@contextmanager
def staged(out_dir: Path, *names: str) -> Iterator[dict[str, Path]]:
    """Temporary paths for the named files of `out_dir`, renamed into place together when the
    block ends, and removed instead if it fails: the files of the last good run stay."""
    temporaries = {name: _temporary(out_dir / name) for name in names}
    try:
        yield temporaries
    except BaseException:
        for path in temporaries.values():
            path.unlink(missing_ok=True)
        raise
    for name, path in temporaries.items():
        os.replace(path, out_dir / name)


def write_scores(con: duckdb.DuckDBPyConnection, target: Path) -> Path:
    """The public scores, in the classification's phone order (inside `insertion_order_kept`)."""
    con.sql(publish_sql("publish_scores")).write_parquet(str(target))
    return target


def coverage_start(con: duckdb.DuckDBPyConnection, logs_start: int | None) -> int | None:
    """Where the history's coverage starts: where its logs start (`ingest.logs_start`), or,
    for a history without them, at the first event of any number."""
    if logs_start is not None:
        return logs_start
    (first,) = con.table("classification").aggregate("min(first_seen_at)").fetchall()[0]
    return None if first is None else int(first)


def write_serving_snapshot(
    con: duckdb.DuckDBPyConnection, target: Path, as_of: int, coverage_from: int | None
) -> Path:
    """The snapshot, streamed in phone order (inside `insertion_order_kept`)."""
    classification = con.table("classification")
    (count,) = classification.aggregate("count(*)").fetchall()[0]
    reader = classification.to_arrow_reader(SNAPSHOT_BATCH_ROWS)
    write_snapshot(target, reader, count=int(count), as_of=as_of, coverage_from=coverage_from)
    return target


def write_manifest(manifest: dict[str, Any], out_dir: Path) -> Path:
    target = out_dir / MANIFEST_FILE
    temporary = _temporary(target)
    temporary.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, target)
    return target
