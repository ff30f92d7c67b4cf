"""The memory limit and the store's URL: refused up front, in one line with an example, instead
of failing deep inside DuckDB or SQLAlchemy."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from pipelines.duckdb_engine import machine_memory_bytes
from pipelines.settings import (
    check_database_url,
    check_memory_limit,
    load_settings,
    memory_limit_bytes,
    unknown_settings,
)


@pytest.mark.parametrize("limit", ["8GB", "500MB", "6GiB", "80%", "8 gb", "1.5GB", "2 terabytes"])
def test_the_sizes_duckdb_takes_are_accepted(limit: str) -> None:
    assert check_memory_limit(limit) == limit


@pytest.mark.parametrize(
    ("limit", "size"),
    [("8GB", 8e9), ("500 mb", 5e8), ("6GiB", 6 * 1024**3), ("1.5T", 1.5e12), ("80%", None)],
)
def test_a_memory_size_names_its_bytes_and_a_share_none(limit: str, size: float | None) -> None:
    assert memory_limit_bytes(limit) == size


@pytest.mark.parametrize("limit", ["garbage", "0", "8", "lots", "-1GB", "1PB", "8 GB of RAM"])
def test_a_memory_limit_that_is_no_size_is_refused_with_an_example(limit: str) -> None:
    with pytest.raises(ValueError, match=r"is not a memory size; give a size such as 8GB"):
        check_memory_limit(limit)


@pytest.mark.parametrize("limit", ["0%", "150%"])
def test_a_share_of_the_memory_lies_between_1_and_100_percent(limit: str) -> None:
    with pytest.raises(ValueError, match=r"is not a share of 1-100 %"):
        check_memory_limit(limit)


@pytest.mark.parametrize("limit", ["1KB", "0GB", "63MiB"])
def test_a_memory_limit_too_small_for_duckdb_to_score_in_is_refused(limit: str) -> None:
    with pytest.raises(ValueError, match=r"below 64MiB, too little for DuckDB"):
        check_memory_limit(limit)


def test_the_settings_refuse_a_memory_limit_that_is_no_size() -> None:
    with pytest.raises(ValidationError, match="memory limit 'lots' is not a memory size"):
        load_settings(memory_limit="lots")


def test_a_blank_memory_limit_leaves_duckdb_its_default() -> None:
    assert load_settings(memory_limit="  ").memory_limit is None


@pytest.mark.parametrize(
    "url", ["sqlite:///var/ownership.db", "sqlite://", "postgresql+psycopg://bank@db:5432/store"]
)
def test_the_stores_databases_are_accepted(url: str) -> None:
    assert check_database_url(url) == url


def test_a_database_url_that_is_no_url_is_refused_with_an_example() -> None:
    with pytest.raises(ValueError, match=r"not a URL; use sqlite:///.* or postgresql\+psycopg://"):
        check_database_url("garbage")


def test_a_database_the_store_does_not_run_on_is_refused_without_showing_the_password() -> None:
    with pytest.raises(ValueError, match=r"mysql:// databases are not supported") as refused:
        check_database_url("mysql://bank:hunter2@127.0.0.1/db")

    assert "hunter2" not in str(refused.value)


def test_postgresql_without_the_installed_driver_is_refused_naming_the_one_to_use() -> None:
    with pytest.raises(ValueError, match=r"postgresql:// needs a driver .* postgresql\+psycopg"):
        check_database_url("postgresql://bank@db/store")


def test_the_settings_refuse_a_database_url_that_is_no_url() -> None:
    with pytest.raises(ValidationError, match="database URL is not a URL"):
        load_settings(database_url="garbage")


@pytest.mark.parametrize("limit", ["0.001%", "0.5%", "99999999999999999999GB"])
def test_memory_limits_outside_what_duckdb_can_run_in_are_refused(limit: str) -> None:
    with pytest.raises(ValueError, match=r"memory limit .*(share of 1-100|above 1PB)"):
        check_memory_limit(limit)


def test_the_postgres_spelling_is_refused_with_the_one_to_use() -> None:
    with pytest.raises(ValueError, match=r"postgres:// is spelled postgresql\+psycopg://"):
        check_database_url("postgres://bank@db/store")


@pytest.mark.parametrize(
    ("written", "limited"), [("4294967296\n", True), ("max\n", False), (None, False)]
)
def test_a_containers_memory_limit_below_the_machines_is_the_memory(
    written: str | None, limited: bool, tmp_path: Path
) -> None:
    cgroup_limit = tmp_path / "memory.max"
    if written is not None:
        cgroup_limit.write_text(written)

    memory = machine_memory_bytes((cgroup_limit,))

    assert (memory == 4 * 1024**3) is limited
    assert memory > 0


@pytest.mark.parametrize(
    ("environ", "said"),
    [
        (
            {"OWNERSHIP_SCORE_EVENT_DIR": "var/history"},
            [
                "OWNERSHIP_SCORE_EVENT_DIR is no setting, and is ignored; "
                "did you mean OWNERSHIP_SCORE_EVENTS_DIR?"
            ],
        ),
        ({"OWNERSHIP_COLOUR": "blue"}, ["OWNERSHIP_COLOUR is no setting, and is ignored"]),
        ({"OWNERSHIP_MEMORY_LIMIT": "8GB", "ownership_threads": "2", "HOME": "/root"}, []),
        ({"OWNERSHIP_NOTIFICATIONS_URL": "sqlite:///day.db"}, []),  # the notebooks'
    ],
)
def test_a_variable_no_setting_reads_is_named_with_the_setting_it_was_likely_meant_for(
    environ: dict[str, str], said: list[str]
) -> None:
    assert unknown_settings(environ) == said
