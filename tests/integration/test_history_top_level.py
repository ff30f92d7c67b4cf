"""What may sit beside the kinds' folders of a history (DESIGN §3). A data file there would be
a kind's rows left unread, and nothing is dropped silently: the run stops and names it. Notes,
hidden files and other folders (the generator's truth/) are no rows and stay allowed; a folder
no kind is named as (a misspelt kind's) is told, and listed in the manifest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from pipelines.cli import main
from pipelines.scoring import ScoreRequest, score
from pipelines.settings import load_settings
from pipelines.synth import generate
from tests.integration.test_bad_input import healthy_history


@pytest.fixture(autouse=True)
def own_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's own store (none until a command makes one), never the working copy's."""
    monkeypatch.setenv("OWNERSHIP_DATABASE_URL", f"sqlite:///{tmp_path / 'var' / 'ownership.db'}")


def scored(events: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["score", "--events", str(events), "--out", str(out), "--as-of", "2026-06-01"])
    return code, capsys.readouterr().err.strip()


@pytest.mark.parametrize("stray", ["code_entries.parquet", "extra.csv", "may.CSV.gz"])
def test_a_data_file_beside_the_kinds_folders_stops_the_run_naming_it(
    stray: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = healthy_history().write(tmp_path / "events")
    shutil.copy(events / "code_entries" / "part-0.parquet", events / stray)

    code, message = scored(events, tmp_path / "out", capsys)

    assert code == 2
    assert message.startswith("error:") and "\n" not in message and "Traceback" not in message
    assert stray in message
    assert "move it into its kind's folder" in message and "code_entries/" in message
    assert not (tmp_path / "out").exists()


def test_every_stray_data_file_is_named_up_to_a_few(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = healthy_history().write(tmp_path / "events")
    for index in range(7):
        (events / f"extra-{index}.csv").write_text("phone,ts,product\n")

    code, message = scored(events, tmp_path / "out", capsys)

    assert code == 2
    assert "extra-0.csv, extra-1.csv" in message and "and 2 more" in message
    assert "move them into their kinds' folders" in message


def test_a_generated_history_with_notes_and_hidden_files_beside_it_still_scores(
    tmp_path: Path,
) -> None:
    events = tmp_path / "events"
    summary = generate(events, phones=200, seed=1)  # has truth/ beside the kinds' folders
    (events / "README.md").write_text("May's export, from the warehouse\n")
    (events / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (events / "manifest.json").write_text("{}\n")
    (events / "notes").mkdir()

    manifest = score(ScoreRequest(events, tmp_path / "out", as_of=summary.end)).manifest

    assert manifest["inputs"]["code_entries"]["accepted"] > 0
    assert manifest["ignored_folders"] == ["notes"]  # truth/ is the generator's: not told


def test_a_folder_no_kind_is_named_as_is_told_in_a_line_and_listed_in_the_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = healthy_history().write(tmp_path / "events")
    shutil.copytree(events / "sms_deliveries", events / "sms_delivery")  # a misspelt kind
    (events / ".git").mkdir()

    code, said = scored(events, tmp_path / "out", capsys)

    assert code == 0
    told = [line for line in said.splitlines() if line.startswith("not read, as no kind")]
    assert told == ["not read, as no kind is so named: sms_delivery/ (sms_deliveries/?)"]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["ignored_folders"] == ["sms_delivery"]


def test_a_folder_named_with_a_line_break_and_a_terminal_escape_is_told_written_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = healthy_history().write(tmp_path / "events")
    (events / "notes\nscores: published \x1b[31m[bold]").mkdir()

    code, said = scored(events, tmp_path / "out", capsys)

    assert code == 0
    told = [line for line in said.splitlines() if line.startswith("not read, as no kind")]
    assert told == ["not read, as no kind is so named: notes\\nscores: published \\x1b[31m[bold]/"]
    assert not any(line.startswith("scores: published") for line in said.splitlines())


def test_a_kinds_own_folder_given_as_the_history_is_told_as_a_missing_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = healthy_history().write(tmp_path / "events")

    code, message = scored(events / "code_entries", tmp_path / "out", capsys)

    assert code == 2
    assert "missing kind 'code_entries'" in message and "beside" not in message


def test_a_nightly_history_with_a_data_file_beside_its_kinds_is_refused_at_start_up(
    tmp_path: Path,
) -> None:
    # the nightly run at 02:00 would refuse it: said when the worker starts, not then
    events = healthy_history().write(tmp_path / "events")
    shutil.copy(events / "code_entries" / "part-0.parquet", events / "backup-2026-10.parquet")

    with pytest.raises(ValidationError, match=r"backup-2026-10\.parquet beside the kinds' folders"):
        load_settings(score_events_dir=str(events))


def test_a_folder_named_as_a_data_file_beside_the_kinds_stops_the_run_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a dataset as Spark writes one: a folder of part files
    events = healthy_history().write(tmp_path / "events")
    shutil.copytree(events / "code_entries", events / "late_codes.parquet")

    code, message = scored(events, tmp_path / "out", capsys)

    assert code == 2 and "late_codes.parquet beside the kinds' folders" in message
