"""Run the SQL models on in-memory DuckDB over a tiny history, as a function."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ownership.rules import RuleSettings
from pipelines import duckdb_engine, ingest
from pipelines.contracts import INPUT_KINDS, load_contract
from pipelines.run_params import run_params_row
from tests.factories import AS_OF, History

Classify = Callable[..., dict[str, dict[str, Any]]]


def run_models(
    history: History, folder: Path, as_of: datetime = AS_OF, rules: RuleSettings | None = None
) -> duckdb.DuckDBPyConnection:
    history.write(folder)
    con = duckdb_engine.connect()
    as_of_s = (
        int(as_of.timestamp())
        if as_of.tzinfo
        else int((as_of - datetime(1970, 1, 1)).total_seconds())
    )
    duckdb_engine.create_run_params(con, run_params_row(rules or RuleSettings(), as_of_s, as_of_s))
    contracts = [load_contract(kind) for kind in INPUT_KINDS]
    ingest.prepare(con, contracts)
    files = ingest.discover(folder)
    for contract in contracts:
        ingest.register_raw(con, files[contract.name], contract)
    for kind in INPUT_KINDS:
        ingest.check_kind(con, kind)
    ingest.mend_phones(con, INPUT_KINDS)
    ingest.check_numbers(con, INPUT_KINDS)
    duckdb_engine.run_models(con)
    return con


@pytest.fixture
def models(tmp_path: Path) -> Callable[..., duckdb.DuckDBPyConnection]:
    def run(history: History, **kwargs: Any) -> duckdb.DuckDBPyConnection:
        return run_models(history, tmp_path / "events", **kwargs)

    return run


@pytest.fixture
def classify(models: Callable[..., duckdb.DuckDBPyConnection]) -> Classify:
    """The classification rows by E.164 phone, with `reasons` as the list of reason codes."""

    def run(history: History, **kwargs: Any) -> dict[str, dict[str, Any]]:
        con = models(history, **kwargs)
        relation = con.table("classification")
        rows = [dict(zip(relation.columns, values, strict=True)) for values in relation.fetchall()]
        result = {}
        for row in rows:
            row["reasons"] = [
                column.removeprefix("has_").upper()
                for column, value in row.items()
                if column.startswith("has_") and value
            ]
            result[f"+{row['phone']}"] = row
        return result

    return run
