"""Reference data under `data/`, read and validated against its contract."""

from __future__ import annotations

import csv
from pathlib import Path

from ownership.countries import Country, CountryTable
from pipelines.contracts import load_contract
from pipelines.paths import DATA_DIR


def _number(text: str) -> float | None:
    return float(text) if text.strip() else None


def load_countries(path: Path = DATA_DIR / "countries.csv") -> CountryTable:
    contract = load_contract("countries")
    lines = [
        line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")
    ]
    reader = csv.DictReader(lines)
    if tuple(reader.fieldnames or ()) != contract.column_names:
        raise ValueError(f"{path}: columns {reader.fieldnames}, expected {contract.column_names}")
    return CountryTable(
        Country(
            iso=row["iso"],
            name=row["name"],
            prefix=row["prefix"],
            vk_monthly_users_m=_number(row["vk_monthly_users_m"]),
            ok_monthly_users_m=_number(row["ok_monthly_users_m"]),
        )
        for row in reader
    )
