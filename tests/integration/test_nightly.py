"""The nightly scoring run: the day's re-verification results go into the history, the history
is scored and published; a run that fails publishes nothing and leaves the last scores served."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, update

from delivery import records
from delivery.export import export_verifications, nightly_watermark
from delivery.runtime import score_nightly_by_one_worker
from pipelines.cli import main
from pipelines.nightly import score_nightly
from pipelines.settings import load_settings
from store.database import NIGHTLY_LOCK, held_alone_on_store
from tests.factories import ANNA, RU_MOBILE, SCHEMAS, History, days_ago, steady_owner
from tests.integration.test_export_verifications import store_denying

pytestmark = pytest.mark.integration


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Engine]:
    """A store holding the person's "No" to the prompt, five hours after AS_OF."""
    url = f"sqlite:///{tmp_path / 'ownership.db'}"
    with store_denying(url) as engine:
        yield engine


def statuses(scores: Path) -> list[tuple[str, list[str]]]:
    rows = pq.read_table(scores / "scores.parquet").to_pylist()
    return [(row["status"], row["reasons"]) for row in rows]


def recorded_days_ago(engine: Engine, days: int) -> None:
    """Date every result the store holds as recorded `days` ago, by the wall clock."""
    with engine.begin() as connection:
        connection.execute(
            update(records.verifications).values(
                recorded_at=datetime.now(UTC) - timedelta(days=days)
            )
        )


def nightly_exports(history: Path) -> list[list[dict[str, object]]]:
    """The rows of each nightly export, oldest first."""
    files = sorted((history / "verifications").glob("notify-nightly-*.parquet"))
    return [pq.read_table(path).to_pylist() for path in files]


def answered_late(engine: Engine, days: int) -> datetime:
    """A denial answered `days` ago, whose report comes only now (a gateway held it up)."""
    answered = datetime.now(UTC).replace(microsecond=0) - timedelta(days=days)
    with engine.begin() as connection:
        records.record_verification(connection, RU_MOBILE, answered, "prompt", "denied", None, None)
    return answered.replace(tzinfo=None)  # as the input holds it


def test_the_nightly_run_scores_the_days_answers_and_publishes(
    tmp_path: Path, store: Engine
) -> None:
    history = History().register(RU_MOBILE, days_ago(300), ANNA).write(tmp_path / "events")
    settings = load_settings(scores_dir=tmp_path / "scores")

    result = score_nightly(settings, store, history)

    assert result is not None
    assert statuses(tmp_path / "scores") == [("owner_changed", ["OWNER_DENIED"])]
    assert nightly_watermark(history) is not None


def test_the_nightly_run_scores_on_the_engine_the_settings_name(
    tmp_path: Path, store: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("pyspark")
    history = History().register(RU_MOBILE, days_ago(300), ANNA).write(tmp_path / "events")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java"))  # Spark could not start
    settings = load_settings(scores_dir=tmp_path / "scores", score_engine="spark")

    with caplog.at_level(logging.ERROR):
        assert score_nightly(settings, store, history) is None

    assert f"JAVA_HOME ({tmp_path / 'no-java'}) holds no bin/java" in caplog.text
    assert not (tmp_path / "scores" / "scores.parquet").exists()


def test_the_nightly_run_reads_phones_without_a_country_code_in_the_settings_region(
    tmp_path: Path, store: Engine
) -> None:
    national = "8 (923) 456-78-23"  # RU_MOBILE, as a Russian bank's feed writes it
    history = History().register(national, days_ago(300), ANNA).write(tmp_path / "events")
    settings = load_settings(scores_dir=tmp_path / "scores", default_region="ru")

    result = score_nightly(settings, store, history)

    assert result is not None
    assert result.manifest["settings"]["default_region"] == "RU"
    # the feed's registration and the store's denial are of one number
    assert statuses(tmp_path / "scores") == [("owner_changed", ["OWNER_DENIED"])]


def test_of_two_workers_taking_one_nights_run_at_once_the_second_leaves_it_to_the_first(
    tmp_path: Path, store: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    history = History().register(RU_MOBILE, days_ago(300), ANNA).write(tmp_path / "events")
    settings = load_settings(database_url=str(store.url), scores_dir=tmp_path / "scores")

    first = held_alone_on_store(settings.database_url, NIGHTLY_LOCK, "nightly.lock")
    with first, caplog.at_level(logging.INFO):
        score_nightly_by_one_worker(settings, store, history)

    assert nightly_exports(history) == []
    assert not (tmp_path / "scores").exists()
    assert "another worker of this store is running it" in caplog.text
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


def test_a_second_run_exports_only_what_is_new_give_or_take_the_overlap(
    tmp_path: Path, store: Engine
) -> None:
    history = History().register(RU_MOBILE, days_ago(300), ANNA).write(tmp_path / "events")
    settings = load_settings(scores_dir=tmp_path / "scores")
    recorded_days_ago(store, 2)
    score_nightly(settings, store, history)

    score_nightly(settings, store, history)

    # the denial was recorded days before the first export: the second one has nothing of
    # it, and writes no file (an empty one a night would pile up in the folder)
    assert [len(rows) for rows in nightly_exports(history)] == [1]


def test_a_first_run_with_nothing_to_export_gives_the_history_its_results_kind(
    tmp_path: Path, store: Engine
) -> None:
    # a history without verifications would be missing a kind: an empty export stands for it
    history = History().register(RU_MOBILE, days_ago(300), ANNA).write(tmp_path / "events")
    for path in (history / "verifications").iterdir():
        path.unlink()
    with store.begin() as connection:
        connection.execute(records.verifications.delete())
    settings = load_settings(scores_dir=tmp_path / "scores")

    assert score_nightly(settings, store, history) is not None
    assert score_nightly(settings, store, history) is not None

    assert [len(rows) for rows in nightly_exports(history)] == [0]


def test_an_answer_reported_days_late_goes_out_with_the_next_run(
    tmp_path: Path, store: Engine
) -> None:
    history = History().register(RU_MOBILE, days_ago(300), ANNA).write(tmp_path / "events")
    settings = load_settings(scores_dir=tmp_path / "scores")
    recorded_days_ago(store, 2)
    score_nightly(settings, store, history)

    answered = answered_late(store, days=3)  # before the last run, reported after it
    score_nightly(settings, store, history)

    assert [row["ts"] for row in nightly_exports(history)[1]] == [answered]


def test_an_operators_export_of_some_answers_does_not_move_the_nightly_watermark(
    tmp_path: Path, store: Engine
) -> None:
    history = History().register(RU_MOBILE, days_ago(300), ANNA).write(tmp_path / "events")
    settings = load_settings(scores_dir=tmp_path / "scores")
    recorded_days_ago(store, 2)
    score_nightly(settings, store, history)
    watermark = nightly_watermark(history)
    answered = answered_late(store, days=3)

    # `ownership export-verifications --since` now: a file newer than the nightly one
    export_verifications(store, history, since=datetime.now(UTC))

    assert nightly_watermark(history) == watermark
    score_nightly(settings, store, history)
    assert [row["ts"] for row in nightly_exports(history)[1]] == [answered]


def test_a_nightly_file_from_a_night_the_clock_ran_ahead_or_oddly_named_stops_nothing(
    tmp_path: Path, store: Engine
) -> None:
    history = History().register(RU_MOBILE, days_ago(300), ANNA).write(tmp_path / "events")
    folder = history / "verifications"
    folder.mkdir(exist_ok=True)
    (folder / "notify-nightly-20990101T000000000000.parquet").touch()
    (folder / "notify-nightly-20261399T000000000000.parquet").touch()

    assert nightly_watermark(history) is None


def test_a_result_exported_twice_scores_as_once(tmp_path: Path, store: Engine) -> None:
    history = History().register(RU_MOBILE, days_ago(300), ANNA).write(tmp_path / "events")
    settings = load_settings(scores_dir=tmp_path / "scores")
    once = score_nightly(settings, store, history)
    assert once is not None
    scored_once = pq.read_table(tmp_path / "scores" / "scores.parquet").drop(["as_of"])

    # within the overlap the next run exports the same denial again
    twice = score_nightly(settings, store, history)

    assert twice is not None
    assert [len(rows) for rows in nightly_exports(history)] == [1, 1]
    scored_twice = pq.read_table(tmp_path / "scores" / "scores.parquet").drop(["as_of"])
    assert scored_twice.equals(scored_once)


def test_a_failed_run_publishes_nothing_and_says_why(
    tmp_path: Path, store: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    history = History().register(RU_MOBILE, days_ago(300), ANNA).write(tmp_path / "events")
    settings = load_settings(scores_dir=tmp_path / "scores")
    assert score_nightly(settings, store, history) is not None
    published = (tmp_path / "scores" / "scores.parquet").read_bytes()
    (history / "registrations" / "part-0.parquet").write_bytes(b"not parquet")

    with caplog.at_level(logging.ERROR):
        assert score_nightly(settings, store, history) is None

    assert (tmp_path / "scores" / "scores.parquet").read_bytes() == published
    assert "nightly run failed" in caplog.text


def test_a_kind_lost_since_the_last_run_fails_the_night_until_an_operator_allows_it_once(
    tmp_path: Path, store: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    history = steady_owner(History(), RU_MOBILE).write(tmp_path / "events")
    settings = load_settings(scores_dir=tmp_path / "scores")
    assert score_nightly(settings, store, history) is not None
    served = (tmp_path / "scores" / "snapshot.bin").read_bytes()
    pq.write_table(SCHEMAS["accounts"].empty_table(), history / "accounts" / "part-0.parquet")

    with caplog.at_level(logging.ERROR):
        assert score_nightly(settings, store, history) is None
    assert "kind accounts has no row this run; the last published run had 1" in caplog.text
    assert (tmp_path / "scores" / "snapshot.bin").read_bytes() == served

    # the operator, who means it, scores once by hand
    argv = ["score", "--events", str(history), "--out", str(tmp_path / "scores")]
    assert main([*argv, "--allow-empty-kind", "accounts"]) == 0

    assert score_nightly(settings, store, history) is not None
