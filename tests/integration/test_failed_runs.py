"""A run that fails part way (a full disk, an engine error) says where and publishes nothing:
the scores, snapshot and manifest of the last good run stay as they were, and no temporary
file is left beside them."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from pipelines import duckdb_engine, ingest, publish, scoring
from pipelines.cli import main
from pipelines.locks import held_alone
from pipelines.scoring import ScoreRequest, ScoreRequestError, ScoringFailedError, score
from pipelines.sqlfiles import model_sql
from tests.factories import AS_OF, RU_MOBILE, History, steady_owner
from tests.integration.test_crash_recovery import OWNERSHIP

PUBLISHED = ("scores.parquet", "snapshot.bin", "manifest.json")


@pytest.fixture(autouse=True)
def own_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line's store, never the working copy's."""
    monkeypatch.setenv("OWNERSHIP_DATABASE_URL", f"sqlite:///{tmp_path / 'ownership.db'}")


@pytest.fixture
def last_good_run(tmp_path: Path) -> tuple[Path, Path, dict[str, bytes]]:
    """A history, and an output folder holding a good run's files (with their bytes)."""
    events = steady_owner(History(), RU_MOBILE, until_days=10).write(tmp_path / "events")
    out = tmp_path / "out"
    score(ScoreRequest(events, out, as_of=AS_OF))
    return events, out, {name: (out / name).read_bytes() for name in PUBLISHED}


def disk_full_in(model: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make one model fail the way DuckDB fails when its spill files fill the disk."""

    def failing(name: str) -> str:
        if name == model:
            return "select error('could not write block: No space left on device')"
        return model_sql(name)

    monkeypatch.setattr(duckdb_engine, "model_sql", failing)


def assert_untouched(out: Path, files: dict[str, bytes]) -> None:
    assert {name: (out / name).read_bytes() for name in PUBLISHED} == files
    assert not [path.name for path in out.iterdir() if path.name.endswith(".tmp")]


def test_a_model_that_fails_names_its_step_and_publishes_nothing(
    last_good_run: tuple[Path, Path, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    events, out, files = last_good_run
    disk_full_in("int_sms_gaps", monkeypatch)

    with pytest.raises(ScoringFailedError) as failure:
        score(ScoreRequest(events, out, as_of=datetime(2026, 10, 1)))

    message = str(failure.value)
    assert "during model int_sms_gaps" in message
    assert "No space left on device" in message and "nothing was published" in message
    assert "free disk there, or raise --memory-limit" in message
    assert_untouched(out, files)


def test_a_snapshot_that_cannot_be_written_keeps_the_new_scores_back_too(
    last_good_run: tuple[Path, Path, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    events, out, files = last_good_run

    def no_room(target: Path, *args: object, **kwargs: object) -> None:
        target.write_bytes(b"half a snap")
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    monkeypatch.setattr(publish, "write_snapshot", no_room)

    with pytest.raises(ScoringFailedError) as failure:
        score(ScoreRequest(events, out, as_of=datetime(2026, 10, 1)))

    assert "during publish snapshot" in str(failure.value)
    assert_untouched(out, files)


def test_rejects_that_cannot_be_written_name_their_step(
    last_good_run: tuple[Path, Path, dict[str, bytes]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events, out, files = last_good_run
    steady_owner(History(), RU_MOBILE, until_days=10).code("not a phone", AS_OF).write(events)

    def no_room(*args: object) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "rejects"))

    monkeypatch.setattr(ingest, "write_rejects", no_room)

    with pytest.raises(ScoringFailedError) as failure:
        score(ScoreRequest(events, out, as_of=AS_OF, max_reject_share=0.9))

    message = str(failure.value)
    assert "the run failed during count and write rejects: No space left on device" in message
    assert_untouched(out, files)


def test_the_command_line_says_it_in_one_line(
    last_good_run: tuple[Path, Path, dict[str, bytes]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    events, out, files = last_good_run
    disk_full_in("classification", monkeypatch)
    capsys.readouterr()

    assert main(["score", "--events", str(events), "--out", str(out)]) == 2

    message = capsys.readouterr().err.strip()
    assert message.startswith("error: the run failed during model classification")
    assert "Traceback" not in message
    assert_untouched(out, files)


def test_ctrl_c_while_a_model_runs_stops_quietly_and_publishes_nothing(
    last_good_run: tuple[Path, Path, dict[str, bytes]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    events, out, files = last_good_run

    def interrupted(*args: object) -> None:
        raise RuntimeError("Query interrupted")  # what DuckDB raises on SIGINT mid-query

    monkeypatch.setattr(duckdb_engine, "run_models", interrupted)
    capsys.readouterr()

    assert main(["score", "--events", str(events), "--out", str(out)]) == 130

    captured = capsys.readouterr()
    assert "interrupted" in captured.out + captured.err
    assert "Traceback" not in captured.out + captured.err
    assert_untouched(out, files)
    assert not (out / ".work").exists()


@pytest.fixture
def good_run_with_rejects(tmp_path: Path) -> tuple[Path, Path, dict[str, bytes]]:
    """A history with a rejected row, and an output folder holding a good run of it; the bytes
    of the files in its `rejects/`."""
    history = steady_owner(History(), RU_MOBILE, until_days=10)
    history.sms("garbage", AS_OF)
    events = history.write(tmp_path / "events")
    out = tmp_path / "out"
    score(ScoreRequest(events, out, as_of=AS_OF, max_reject_share=0.5))
    return events, out, rejects_of(out)


def rejects_of(out: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in (out / "rejects").iterdir()}


def test_a_failed_run_leaves_the_last_good_runs_rejects(
    good_run_with_rejects: tuple[Path, Path, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    events, out, rejects = good_run_with_rejects
    disk_full_in("int_sms_gaps", monkeypatch)

    with pytest.raises(ScoringFailedError):
        score(ScoreRequest(events, out, as_of=datetime(2026, 10, 1), max_reject_share=0.5))

    # the summary still names the run that published, and says it did
    assert rejects_of(out) == rejects
    assert set(rejects) == {"sms_deliveries.parquet", "summary.json"}


def test_a_spark_that_cannot_start_is_said_in_one_line(
    last_good_run: tuple[Path, Path, dict[str, bytes]], tmp_path: Path
) -> None:
    events, out, files = last_good_run
    command = [OWNERSHIP, "score", "--events", str(events), "--out", str(out), "--engine", "spark"]
    environment = {**os.environ, "JAVA_HOME": str(tmp_path / "no-java")}

    finished = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120)

    assert finished.returncode == 2
    assert f"error: JAVA_HOME ({tmp_path / 'no-java'}) holds no bin/java" in finished.stderr
    assert "point it at a Java 17 or later" in finished.stderr
    assert "Traceback" not in finished.stderr
    assert_untouched(out, files)


def test_a_file_where_the_rejects_folder_goes_is_replaced_by_it(tmp_path: Path) -> None:
    history = steady_owner(History(), RU_MOBILE, until_days=10)
    history.sms("garbage", AS_OF)
    out = tmp_path / "out"
    out.mkdir()
    (out / "rejects").write_text("not a folder")

    score(ScoreRequest(history.write(tmp_path / "events"), out, max_reject_share=0.5))

    assert (out / "rejects" / "sms_deliveries.parquet").is_file()


def test_a_spark_failure_is_told_by_the_java_exceptions_message_alone() -> None:
    from pipelines.spark_engine import failure_line

    py4j_message = (
        "An error occurred while calling o42.parquet.\n"
        ": org.apache.spark.SparkException: Could not read footer for file "
        "/out/.work/checked/code_entries.parquet.\n"
        "\tat org.apache.spark.sql.execution.datasources.parquet.ParquetFileFormat$.apply"
        "(ParquetFileFormat.scala:596)\n"
        "\tat org.apache.parquet.hadoop.ParquetFileReader.readFooter(ParquetFileReader.java:1)\n"
        "\t... 20 more\n"
    )

    assert failure_line(RuntimeError(py4j_message)) == (
        "org.apache.spark.SparkException: Could not read footer for file "
        "/out/.work/checked/code_entries.parquet."
    )


def test_a_run_whose_scores_cannot_be_renamed_in_leaves_the_last_good_runs_rejects(
    good_run_with_rejects: tuple[Path, Path, dict[str, bytes]],
) -> None:
    events, out, rejects = good_run_with_rejects
    (out / "scores.parquet").unlink()
    (out / "scores.parquet").mkdir()  # a folder in its place: the rename in fails
    (out / "scores.parquet" / "x").touch()

    with pytest.raises(ScoringFailedError, match="nothing was published"):
        score(ScoreRequest(events, out, as_of=datetime(2026, 10, 1), max_reject_share=0.5))

    assert rejects_of(out) == rejects
    assert not list(out.glob(".rejects.*"))


def test_ctrl_c_while_a_run_publishes_waits_for_all_of_its_files(
    last_good_run: tuple[Path, Path, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # after the scores and snapshot are renamed into place, the manifest must follow them:
    # a manifest of the run before beside them would describe other files
    events, out, _ = last_good_run
    real_version = scoring.code_version

    def interrupted_meanwhile() -> str:
        signal.raise_signal(signal.SIGINT)  # Ctrl-C as the manifest is made
        return real_version()

    monkeypatch.setattr(scoring, "code_version", interrupted_meanwhile)
    later = AS_OF + timedelta(days=1)
    with pytest.raises(KeyboardInterrupt):
        score(ScoreRequest(events, out, as_of=later))

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["as_of"] == later.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert not [path.name for path in out.iterdir() if path.name.endswith(".tmp")]


def test_a_second_run_into_an_output_folder_a_run_is_writing_is_refused(
    last_good_run: tuple[Path, Path, dict[str, bytes]],
) -> None:
    events, out, files = last_good_run
    with held_alone(out / scoring.LOCK_FILE), pytest.raises(ScoreRequestError, match="another run"):
        score(ScoreRequest(events, out, as_of=AS_OF))

    assert_untouched(out, files)
