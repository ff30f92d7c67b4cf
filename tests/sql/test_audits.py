"""The audits return offending rows, and a run with any stops before publishing."""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import pytest

from pipelines.duckdb_engine import AuditFailedError, run_audits
from tests.factories import ANNA, RU_MOBILE, History, days_ago

Models = Callable[..., duckdb.DuckDBPyConnection]


def scored(models: Models) -> duckdb.DuckDBPyConnection:
    history = History().register(RU_MOBILE, days_ago(100), ANNA).account(RU_MOBILE)
    return models(history)


def test_a_clean_classification_passes_every_audit(models: Models) -> None:
    found = run_audits(scored(models))

    assert found and set(found.values()) == {0}


def test_a_risk_outside_its_band_fails_the_audit(models: Models) -> None:
    con = scored(models)
    con.execute("update classification set risk_score = 950")

    with pytest.raises(AuditFailedError, match=r"assert_risk_within_status_band \(1 rows\)"):
        run_audits(con)


def test_a_duplicated_number_fails_the_audit(models: Models) -> None:
    con = scored(models)
    con.execute("insert into classification select * from classification")

    with pytest.raises(AuditFailedError, match="assert_one_row_per_number"):
        run_audits(con)


def test_a_number_judged_within_a_tenure_without_its_start_fails_the_audit(
    models: Models,
) -> None:
    con = scored(models)
    con.execute("update classification set owner_since = null")

    with pytest.raises(AuditFailedError, match="assert_owner_since_where_a_holder_is_known"):
        run_audits(con)
