"""Publishing a run: `scores.parquet`, the serving snapshot and `manifest.json` (DESIGN §5).

Every file is written under a temporary name and renamed into place; the manifest goes last,
so a reader that finds a manifest finds the files it describes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from ownership.verdicts import REASON_ORDER
from pipelines.snapshot import reason_columns, write_snapshot

SCORES_FILE = "scores.parquet"
SNAPSHOT_FILE = "snapshot.bin"
MANIFEST_FILE = "manifest.json"
TIME_COLUMNS = ("owner_since", "first_seen_at", "last_code_at", "last_confirmed_at", "as_of")


def _moment(column: pl.Expr) -> pl.Expr:
    return pl.from_epoch(column, time_unit="s").cast(pl.Datetime("us"))


def scores_frame(classification: Path) -> pl.LazyFrame:
    """The public scores (schema `data/schemas/scores.yaml`) from the classification model."""
    evidence = pl.concat_list(
        [
            pl.struct(
                code=pl.lit(reason.value),
                at=pl.col(reason_columns(reason)[1]),
                holds=pl.col(reason_columns(reason)[0]).fill_null(False),
            )
            for reason in REASON_ORDER
        ]
    ).list.filter(pl.element().struct.field("holds"))
    return pl.scan_parquet(classification).select(
        phone=pl.lit("+") + pl.col("phone").cast(pl.String),
        status=pl.col("status"),
        risk_score=pl.col("risk_score").cast(pl.Int16),
        reasons=evidence.list.eval(pl.element().struct.field("code")),
        reason_times=evidence.list.eval(_moment(pl.element().struct.field("at"))),
        **{name: _moment(pl.col(name)) for name in TIME_COLUMNS},
    )


def write_scores(classification: Path, out_dir: Path) -> Path:
    target = out_dir / SCORES_FILE
    temporary = out_dir / f".{SCORES_FILE}.{os.getpid()}.tmp"
    scores_frame(classification).sink_parquet(temporary)
    os.replace(temporary, target)
    return target


def write_serving_snapshot(classification: Path, out_dir: Path, as_of: int) -> Path:
    target = out_dir / SNAPSHOT_FILE
    source = pq.ParquetFile(classification)
    write_snapshot(
        target,
        source.iter_batches(batch_size=1_000_000),
        count=source.metadata.num_rows,
        as_of=as_of,
    )
    return target


def write_manifest(manifest: dict[str, Any], out_dir: Path) -> Path:
    target = out_dir / MANIFEST_FILE
    temporary = out_dir / f".{MANIFEST_FILE}.{os.getpid()}.tmp"
    temporary.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(temporary, target)
    return target
