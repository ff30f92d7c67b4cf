"""The commands that read the store say in one line that it cannot be reached, without its
password, and exit 2, as `ownership clients` does: never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine

from pipelines.cli import main
from store.database import upgrade
from tests.factories import ANNA, RU_MOBILE, History, days_ago

UNREACHABLE = "postgresql+psycopg://bank:hunter2@127.0.0.1:1/nowhere"


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "Traceback" not in error
    return error


@pytest.fixture(autouse=True)
def unreachable_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OWNERSHIP_DATABASE_URL", UNREACHABLE)


def test_billing_with_the_store_unreachable_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["billing", "--client", "bank", "--month", "2026-11"]) == 2

    error = one_line_error(capsys)
    assert error.startswith("error: cannot open the store at postgresql+psycopg://bank:***@")
    assert "hunter2" not in error


def test_export_verifications_with_the_store_unreachable_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = History().register(RU_MOBILE, days_ago(300), ANNA).write(tmp_path / "events")

    assert main(["export-verifications", "--history", str(events)]) == 2

    error = one_line_error(capsys)
    assert error.startswith("error: cannot open the store at postgresql+psycopg://bank:***@")
    assert "hunter2" not in error
    assert sorted(path.name for path in (events / "verifications").iterdir()) == ["part-0.parquet"]


@pytest.mark.parametrize(
    "command",
    [
        ["clients", "list"],
        ["billing", "--client", "bank", "--month", "2026-11"],
        ["notifications", "show", "+79234567823"],
        ["notifications", "erase", "+79234567823"],
    ],
    ids=["clients", "billing", "show", "erase"],
)
def test_a_store_file_that_is_no_database_is_a_one_line_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    not_a_store = tmp_path / "notes.txt"
    not_a_store.write_text("not a database")
    monkeypatch.setenv("OWNERSHIP_DATABASE_URL", f"sqlite:///{not_a_store}")

    assert main(command) == 2

    assert one_line_error(capsys) == (
        f"error: cannot open the store at sqlite:///{not_a_store}: file is not a database"
    )
    assert not_a_store.read_text() == "not a database"


def test_a_statement_an_open_store_refuses_is_its_failure_not_an_unopened_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    engine = create_engine(url)
    with engine.begin() as connection:  # a column an older release did not have
        connection.exec_driver_sql("ALTER TABLE billing_ledger DROP COLUMN country")
    engine.dispose()
    # the start's check would refuse the store for the column: this is about a statement that
    # fails once the store is open (a column dropped by hand since the process started, say)
    monkeypatch.setattr("store.database._refuse_a_store_lacking_columns", lambda engine: None)
    monkeypatch.setenv("OWNERSHIP_DATABASE_URL", url)
    monkeypatch.setenv("OWNERSHIP_SECRET_KEY", Fernet.generate_key().decode())
    assert main(["clients", "add", "bank", "--allow-ip", "127.0.0.0/8"]) == 0
    capsys.readouterr()

    assert main(["billing", "--client", "bank", "--month", "2026-11"]) == 2

    assert one_line_error(capsys) == (
        f"error: the store at {url} failed: no such column: billing_ledger.country"
    )


def test_check_refuses_to_answer_without_the_store_it_could_not_reach(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # an answer without the store could miss a No given since the batch
    events = History().register(RU_MOBILE, days_ago(300), ANNA).write(tmp_path / "events")
    out = tmp_path / "out"
    assert main(["score", "--events", str(events), "--out", str(out), "--as-of", "2026-06-01"]) == 0
    capsys.readouterr()

    assert main(["check", RU_MOBILE, "--scores", str(out)]) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: cannot open the store at postgresql+psycopg://bank:***@")


def test_check_answers_from_a_store_no_service_has_used_yet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    events = History().register(RU_MOBILE, days_ago(300), ANNA).write(tmp_path / "events")
    out = tmp_path / "out"
    assert main(["score", "--events", str(events), "--out", str(out), "--as-of", "2026-06-01"]) == 0
    never_migrated = tmp_path / "empty.db"
    create_engine(f"sqlite:///{never_migrated}").connect().close()
    monkeypatch.setenv("OWNERSHIP_DATABASE_URL", f"sqlite:///{never_migrated}")
    capsys.readouterr()

    assert main(["check", RU_MOBILE, "--scores", str(out)]) == 0

    captured = capsys.readouterr()
    assert json.loads(captured.out)["status"] == "suspicious"
    assert captured.err == ""


def test_a_store_in_a_folder_that_does_not_exist_is_refused_not_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    mistyped = tmp_path / "nowhere" / "var" / "ownership.db"
    monkeypatch.setenv("OWNERSHIP_DATABASE_URL", f"sqlite:///{mistyped}")

    assert main(["clients", "list"]) == 2

    assert one_line_error(capsys) == (
        f"error: cannot open the store at sqlite:///{mistyped}: {tmp_path / 'nowhere'} does not "
        "exist (only the store's own folder is made)"
    )
    assert not (tmp_path / "nowhere").exists()
