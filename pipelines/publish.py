"""Publishing a run: `scores.parquet`, the serving snapshot and `manifest.json` (DESIGN §5).

Every file is written under a temporary name and renamed into place; the manifest goes last,
so a reader that finds a manifest finds the files it describes.
"""

from __future__ import annotations

import json
import os
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


def write_scores(con: duckdb.DuckDBPyConnection, out_dir: Path) -> Path:
    """The public scores, in the classification's phone order (inside `insertion_order_kept`)."""
    target = out_dir / SCORES_FILE
    temporary = _temporary(target)
    con.sql(publish_sql("publish_scores")).write_parquet(str(temporary))
    os.replace(temporary, target)
    return target


def write_serving_snapshot(con: duckdb.DuckDBPyConnection, out_dir: Path, as_of: int) -> Path:
    """The snapshot, streamed in phone order (inside `insertion_order_kept`)."""
    target = out_dir / SNAPSHOT_FILE
    classification = con.table("classification")
    count, coverage_from = classification.aggregate("count(*), min(first_seen_at)").fetchall()[0]
    reader = classification.to_arrow_reader(SNAPSHOT_BATCH_ROWS)
    write_snapshot(
        target,
        reader,
        count=int(count),
        as_of=as_of,
        coverage_from=None if coverage_from is None else int(coverage_from),
    )
    return target


def write_manifest(manifest: dict[str, Any], out_dir: Path) -> Path:
    target = out_dir / MANIFEST_FILE
    temporary = _temporary(target)
    temporary.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, target)
    return target
