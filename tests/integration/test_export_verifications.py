"""The re-verification results go into a history in the format its `verifications` folder
already uses, so that the next run reads them; a history that does not exist is refused."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine

from delivery import records
from delivery.export import export_verifications
from pipelines.cli import main
from store.database import make_engine, upgrade
from tests.factories import ANNA, AS_OF, RU_MOBILE, History, days_ago


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The test's store (the command line's too), holding one denial of RU_MOBILE, five hours
    after AS_OF."""
    url = f"sqlite:///{tmp_path / 'var' / 'ownership.db'}"
    monkeypatch.setenv("OWNERSHIP_DATABASE_URL", url)
    with store_denying(url) as engine:
        yield engine


@contextmanager
def store_denying(url: str) -> Iterator[Engine]:
    """A store at `url` holding the person's "No" to the prompt for RU_MOBILE, five hours after
    AS_OF."""
    upgrade(url)
    engine = make_engine(url)
    denied = (AS_OF + timedelta(hours=5)).replace(tzinfo=UTC)
    with engine.begin() as connection:
        records.record_verification(connection, RU_MOBILE, denied, "prompt", "denied", None, None)
    yield engine
    engine.dispose()


def history_with_csv_verifications(folder: Path) -> Path:
    events = History().register(RU_MOBILE, days_ago(300), ANNA).account(RU_MOBILE).write(folder)
    parquet = events / "verifications" / "part-0.parquet"
    pl.read_parquet(parquet).write_csv(parquet.with_suffix(".csv"))
    parquet.unlink()
    return events


def test_into_a_folder_of_csv_files_the_results_go_as_csv_and_the_next_run_reads_them(
    tmp_path: Path, store: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    events = history_with_csv_verifications(tmp_path / "events")

    assert main(["export-verifications", "--history", str(events)]) == 0

    assert capsys.readouterr().err.strip().endswith(".csv (1 result)")
    written = sorted(path.name for path in (events / "verifications").iterdir())
    assert written[0].startswith("notify-") and written[0].endswith(".csv")
    assert written[1:] == ["part-0.csv"]
    out = tmp_path / "out"
    as_of = (AS_OF + timedelta(days=1)).isoformat()
    assert main(["score", "--events", str(events), "--out", str(out), "--as-of", as_of]) == 0
    scores = pq.read_table(out / "scores.parquet").to_pylist()
    assert [(row["status"], row["reasons"]) for row in scores] == [
        ("owner_changed", ["OWNER_DENIED"])
    ]


def test_into_a_folder_of_parquet_files_the_results_go_as_parquet(
    tmp_path: Path, store: Engine
) -> None:
    events = History().register(RU_MOBILE, days_ago(300), ANNA).write(tmp_path / "events")

    written = export_verifications(store, events)

    assert written is not None and written.suffix == ".parquet"
    assert pq.read_table(written).column("result").to_pylist() == ["denied"]


def test_an_export_with_nothing_new_writes_no_empty_file(
    tmp_path: Path, store: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    events = History().register(RU_MOBILE, days_ago(300), ANNA).write(tmp_path / "events")
    before = sorted((events / "verifications").iterdir())
    later = (AS_OF + timedelta(days=1)).isoformat()  # after the store's one result

    assert main(["export-verifications", "--history", str(events), "--since", later]) == 0

    assert sorted((events / "verifications").iterdir()) == before
    assert capsys.readouterr().err.strip() == (
        f"no re-verification result since {later.removesuffix('+00:00')}Z to export: no file "
        "written"
    )


def test_two_exports_at_one_instant_each_keep_their_file(tmp_path: Path, store: Engine) -> None:
    events = History().register(RU_MOBILE, days_ago(300), ANNA).write(tmp_path / "events")
    instant = datetime(2026, 11, 27, 12, tzinfo=UTC)

    first = export_verifications(store, events, now=instant)
    second = export_verifications(store, events, now=instant)

    assert first != second
    assert sorted(path.name for path in (events / "verifications").glob("notify-*")) == [
        "notify-20261127T120000000000-1.parquet",
        "notify-20261127T120000000000.parquet",
    ]
    assert pq.read_table(first).column("result").to_pylist() == ["denied"]


def test_a_history_that_does_not_exist_is_refused_and_not_made(
    tmp_path: Path, store: Engine
) -> None:
    with pytest.raises(FileNotFoundError, match=r"history folder .* does not exist"):
        export_verifications(store, tmp_path / "nowhere")

    assert not (tmp_path / "nowhere").exists()


def test_a_file_where_the_results_folder_goes_is_a_one_line_error(
    tmp_path: Path, store: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    events = History().register(RU_MOBILE, days_ago(300), ANNA).write(tmp_path / "events")
    shutil.rmtree(events / "verifications")
    (events / "verifications").write_text("not a folder")

    assert main(["export-verifications", "--history", str(events)]) == 2

    error = capsys.readouterr().err.strip()
    assert error == (
        f"error: cannot write the results to {events / 'verifications'}: "
        "a file, where the results' folder goes"
    )
