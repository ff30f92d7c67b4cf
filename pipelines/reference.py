"""Reference data under `data/`, read and validated against its contract."""

from __future__ import annotations

import csv
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

from ownership.channels import Channel
from ownership.countries import Country, CountryTable
from ownership.prices import PRICE_LIMIT, Price, PriceTable, price_problem
from pipelines.contracts import load_contract
from pipelines.number_ranges import RANGES_FILE, KeyRange, Verdict
from pipelines.paths import DATA_DIR


def _number(text: str) -> float | None:
    return float(text) if text.strip() else None


def _rows(path: Path, contract_name: str) -> list[tuple[int, dict[str, str]]]:
    """The rows of a reference CSV (`#` lines are comments), each with its line in the file,
    once its header matches the contract's columns and every non-nullable column is filled."""
    contract = load_contract(contract_name)
    kept = [
        (number, line)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if not line.startswith("#")
    ]
    reader = csv.DictReader(line for _, line in kept)
    if tuple(reader.fieldnames or ()) != contract.column_names:
        raise ValueError(f"{path}: columns {reader.fieldnames}, expected {contract.column_names}")
    rows = []
    for row in reader:
        # the reader counts the lines it was handed, the comments left out: the file's line
        line = kept[reader.line_num - 1][0]
        for column in contract.columns:
            value = (row[column.name] or "").strip()
            if not value and not column.nullable:
                raise ValueError(f"{path}, line {line}: {column.name} is empty")
            if value and column.allowed is not None and value not in column.allowed:
                raise ValueError(f"{path}, line {line}: {column.name} {value!r} is not allowed")
        rows.append((line, row))
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
        for _, row in _rows(path, "countries")
    )


# data/schemas/prices.yaml: RUB written plainly (no exponent, no comma), at most 4 places
PLAIN_RUB = re.compile(r"-?[0-9]+(\.[0-9]+)?")
RUB_ALLOWED = f"a plain non-negative decimal below {PRICE_LIMIT:,} with at most 4 places, as 4.50"


def load_prices(
    path: Path = DATA_DIR / "prices.csv", countries: CountryTable | None = None
) -> PriceTable:
    """The price list, each row held to its contract: a prefix of a country of `countries`
    (by default data/countries.csv), a price the ledger holds exactly, a UTC day. A row that
    breaks it is refused naming the file, its line and its value."""
    table = load_countries() if countries is None else countries
    prefixes = {country.prefix for country in table}
    prices = []
    for line, row in _rows(path, "prices"):
        where = f"{path}, line {line}"
        prefix, text = row["prefix"].strip(), row["price_rub"].strip()
        if prefix not in prefixes:
            raise ValueError(
                f"{where}: prefix {prefix!r} is no country's prefix in countries.csv "
                f"(one of {', '.join(sorted(prefixes, key=int))})"
            )
        rub = _rub(where, text)
        try:
            valid_from = date.fromisoformat(row["valid_from"].strip())
        except ValueError:
            raise ValueError(
                f"{where}: valid_from {row['valid_from']!r} is not a day; give YYYY-MM-DD"
            ) from None
        prices.append(Price(prefix, Channel(row["channel"].strip()), rub, valid_from))
    try:
        return PriceTable.of(prices)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error


def load_served_prices(countries: CountryTable, path: Path = DATA_DIR / "prices.csv") -> PriceTable:
    """The price list a serving process bills by: it must price an SMS, from today on, to
    every country of `countries`, which the service accepts notifications for; a country it
    leaves out is refused here, at start-up, rather than delivered and billed at 0."""
    prices = load_prices(path, countries)
    unpriced = prices.without_sms_price(countries)
    if unpriced:
        named = ", ".join(f"{country.name} (+{country.prefix})" for country in unpriced)
        raise ValueError(
            f"{path}: no SMS price for {named}, served by countries.csv: nothing delivered "
            "there could be billed; add an sms row for each (or take the country out of "
            "countries.csv)"
        )
    return prices


def _rub(where: str, text: str) -> Decimal:
    plain = PLAIN_RUB.fullmatch(text)
    problem = price_problem(Decimal(text)) if plain else "is not a plain decimal number"
    if problem is not None:
        raise ValueError(f"{where}: price_rub {text!r} {problem}; give {RUB_ALLOWED}")
    return Decimal(text)


def load_number_ranges(path: Path = RANGES_FILE) -> list[KeyRange]:
    """The valid number ranges; the batch reads the same file with DuckDB (pipelines.ingest)."""
    return [
        KeyRange(int(row["low"]), int(row["high"]), Verdict(row["verdict"]))
        for _, row in _rows(path, "number_ranges")
    ]
