"""Which names in a kind's folder are data (pipelines.paths)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.paths import input_format, is_data_name


@pytest.mark.parametrize(
    "name", [".DS_Store", "._part-0.csv", ".part-0.parquet.crc", "_SUCCESS", "_committed_123"]
)
def test_hidden_names_and_sparks_markers_hold_no_rows(name: str) -> None:
    assert not is_data_name(Path(name))


@pytest.mark.parametrize(
    ("name", "kind"),
    [("_backfill-2026-05.parquet", "parquet"), ("MAY.CSV", "csv"), ("part.csv.GZ", "csv")],
)
def test_any_other_name_of_an_input_format_is_read(name: str, kind: str) -> None:
    assert is_data_name(Path(name)) and input_format(Path(name)) == kind


def test_a_name_of_no_input_format_has_none() -> None:
    assert input_format(Path("may.csv.zst")) is None
