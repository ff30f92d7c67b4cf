"""Migrations build the models' schema on both databases, from nothing and again."""

from __future__ import annotations

import logging
import multiprocessing
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from store.database import alembic_config, make_engine, upgrade
from store.schema import metadata
from tests.conftest import DATABASES, fresh_database


@pytest.mark.parametrize("kind", DATABASES)
def test_migrations_build_the_models_schema_and_take_it_down(kind: str, tmp_path: Path) -> None:
    with fresh_database(kind, tmp_path) as url:
        upgrade(url)
        upgrade(url)  # a second run finds nothing to do

        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                context = MigrationContext.configure(connection, opts={"compare_type": True})
                assert compare_metadata(context, metadata) == []
                assert context.get_current_heads()

            command.downgrade(alembic_config(engine), "base")
            assert set(inspect(engine).get_table_names()) == {"alembic_version"}
            command.upgrade(alembic_config(engine), "heads")
            assert set(metadata.tables) <= set(inspect(engine).get_table_names())
        finally:
            engine.dispose()


@pytest.mark.parametrize("kind", DATABASES)
def test_a_store_already_migrated_is_opened_without_alembics_lines(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # every process migrates the store at start-up: its log should not open with Alembic's
    # set-up when there is nothing to do, and should show what it did when there is
    with fresh_database(kind, tmp_path) as url:
        engine = make_engine(url)
        try:
            command.upgrade(alembic_config(engine), "0006_verification_recorded_at")
        finally:
            engine.dispose()
        with caplog.at_level(logging.INFO, logger="alembic"):
            upgrade(url)
            migrating = [record.getMessage() for record in caplog.records]
            caplog.clear()
            upgrade(url)

        assert any("0006_verification_recorded_at -> 0007" in line for line in migrating)
        assert [record.getMessage() for record in caplog.records] == []


@pytest.mark.parametrize("kind", DATABASES)
def test_answers_kept_twice_before_are_kept_once_and_then_refused(
    kind: str, tmp_path: Path
) -> None:
    with fresh_database(kind, tmp_path) as url:
        engine = make_engine(url)
        try:
            command.upgrade(alembic_config(engine), "0004_verification_lookup")
            answer = "insert into verifications (phone, ts, method, result, notification_id) "
            with engine.begin() as connection:  # two reports of one answer, kept before
                for result in ("denied", "denied", "no_answer"):
                    connection.execute(
                        text(answer + "values ('+79234567823', '2026-11-01', 'prompt', :r, 'n-1')"),
                        {"r": result},
                    )

            command.upgrade(alembic_config(engine), "heads")

            with engine.connect() as connection:
                kept = connection.execute(
                    text("select result from verifications order by id")
                ).scalars()
                assert list(kept) == ["denied", "no_answer"]
            with pytest.raises(IntegrityError), engine.begin() as connection:
                connection.execute(
                    text(
                        answer
                        + "values ('+79234567823', '2026-11-02', 'prompt', 'confirmed', 'n-1')"
                    )
                )
        finally:
            engine.dispose()


@pytest.mark.parametrize("kind", DATABASES)
def test_results_kept_before_are_dated_recorded_at_their_answer(kind: str, tmp_path: Path) -> None:
    # the nightly export reads on from `recorded_at`; a row without one would never go out
    with fresh_database(kind, tmp_path) as url:
        engine = make_engine(url)
        try:
            command.upgrade(alembic_config(engine), "0005_one_answer_a_prompt")
            with engine.begin() as connection:
                connection.execute(
                    text(
                        "insert into verifications (phone, ts, method, result) "
                        "values ('+79234567823', '2026-11-01 12:00:00', 'prompt', 'denied')"
                    )
                )

            command.upgrade(alembic_config(engine), "heads")

            verifications = metadata.tables["verifications"]
            with engine.connect() as connection:
                kept = connection.execute(
                    select(verifications.c.ts, verifications.c.recorded_at)
                ).one()
            assert kept.recorded_at == kept.ts
        finally:
            engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'ownership.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("pragma journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("pragma foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("pragma busy_timeout").scalar() == 5_000
    finally:
        engine.dispose()
    assert (tmp_path / "var").is_dir()


def _migrate(url: str) -> str:
    try:
        upgrade(url)
    except Exception as error:  # what a process started beside the others would die of
        return f"{type(error).__name__}: {error}"
    return "migrated"


@pytest.mark.parametrize("kind", DATABASES)
def test_processes_started_together_on_a_fresh_store_all_find_it_migrated(
    kind: str, tmp_path: Path
) -> None:
    # servers and workers deployed at once each migrate at start-up
    with (
        fresh_database(kind, tmp_path) as url,
        multiprocessing.get_context("spawn").Pool(4) as processes,
    ):
        outcomes = processes.map(_migrate, [url] * 4)
        engine = make_engine(url)
        tables = set(inspect(engine).get_table_names())
        engine.dispose()

    assert outcomes == ["migrated"] * 4
    assert {"notifications", "clients", "webhook_deliveries"} <= tables


def test_a_store_in_a_folder_that_cannot_be_written_fails_as_sqlite_says() -> None:
    # the command line turns SQLite's OperationalError into one line; no other error may pass
    with pytest.raises(OperationalError, match="unable to open database file"):
        upgrade("sqlite:////proc/no-such-store.db")


@pytest.mark.parametrize("kind", DATABASES)
def test_a_result_written_without_recorded_at_takes_the_stores_clock(
    kind: str, tmp_path: Path
) -> None:
    """As the release before 0006 writes one, during a rolling upgrade: kept, not refused."""
    with fresh_database(kind, tmp_path) as url:
        upgrade(url)
        engine = make_engine(url)
        try:
            with engine.begin() as connection:
                connection.execute(
                    text(
                        "insert into verifications (phone, ts, method, result) "
                        "values ('+79234567823', '2026-11-27 10:00:00', 'prompt', 'denied')"
                    )
                )
            verifications = metadata.tables["verifications"]
            with engine.connect() as connection:
                recorded = connection.execute(select(verifications.c.recorded_at)).scalar_one()
        finally:
            engine.dispose()

    assert recorded.tzinfo is not None and recorded.year >= 2026


def test_a_new_sqlite_store_and_its_wal_are_readable_by_their_owner_alone(tmp_path: Path) -> None:
    database = tmp_path / "var" / "ownership.db"

    upgrade(f"sqlite:///{database}")
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as connection:  # a write: SQLite makes its WAL and shared memory
        connection.execute(text("create table scratch (x integer)"))
    engine.dispose()

    made = [database, *(database.with_name(database.name + end) for end in ("-wal", "-shm"))]
    assert {path.stat().st_mode & 0o777 for path in made if path.exists()} == {0o600}


def test_an_existing_sqlite_store_keeps_the_mode_it_was_given(tmp_path: Path) -> None:
    database = tmp_path / "shared.db"
    upgrade(f"sqlite:///{database}")
    database.chmod(0o640)  # an operator's choice: a group that backs it up

    upgrade(f"sqlite:///{database}")

    assert database.stat().st_mode & 0o777 == 0o640
