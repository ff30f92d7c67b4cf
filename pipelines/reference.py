"""Reference data under `data/`, read and validated against its contract."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ownership.channels import Channel
from ownership.countries import Country, CountryTable
from ownership.prices import Price, PriceTable
from pipelines.contracts import load_contract
from pipelines.number_ranges import RANGES_FILE, KeyRange, Verdict
from pipelines.paths import DATA_DIR


def _number(text: str) -> float | None:
    return float(text) if text.strip() else None


def _rows(path: Path, contract_name: str) -> list[dict[str, str]]:
    """The rows of a reference CSV (`#` lines are comments), once its header matches the
    contract's columns and every non-nullable column is filled."""
    contract = load_contract(contract_name)
    lines = [
        line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")
    ]
    reader = csv.DictReader(lines)
    if tuple(reader.fieldnames or ()) != contract.column_names:
        raise ValueError(f"{path}: columns {reader.fieldnames}, expected {contract.column_names}")
    rows = list(reader)
    for number, row in enumerate(rows, start=1):
        for column in contract.columns:
            value = (row[column.name] or "").strip()
            if not value and not column.nullable:
                raise ValueError(f"{path}, row {number}: {column.name} is empty")
            if value and column.allowed is not None and value not in column.allowed:
                raise ValueError(f"{path}, row {number}: {column.name} {value!r} is not allowed")
    return rows


def load_countries(path: Path = DATA_DIR / "countries.csv") -> CountryTable:
    return CountryTable(
        Country(
            iso=row["iso"],
            name=row["name"],
            prefix=row["prefix"],
            vk_monthly_users_m=_number(row["vk_monthly_users_m"]),
            ok_monthly_users_m=_number(row["ok_monthly_users_m"]),
        )
        for row in _rows(path, "countries")
    )


def load_prices(path: Path = DATA_DIR / "prices.csv") -> PriceTable:
    prices = []
    for number, row in enumerate(_rows(path, "prices"), start=1):
        try:
            rub = Decimal(row["price_rub"])
            valid_from = date.fromisoformat(row["valid_from"])
        except (InvalidOperation, ValueError) as error:
            raise ValueError(f"{path}, row {number}: {error}") from error
        prices.append(Price(row["prefix"], Channel(row["channel"]), rub, valid_from))
    try:
        return PriceTable.of(prices)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error


def load_number_ranges(path: Path = RANGES_FILE) -> list[KeyRange]:
    """The valid number ranges; the batch reads the same file with DuckDB (pipelines.ingest)."""
    return [
        KeyRange(int(row["low"]), int(row["high"]), Verdict(row["verdict"]))
        for row in _rows(path, "number_ranges")
    ]
