"""The history's coverage starts where its logs do (its first code entry or SMS report), not at
a registration years older: before it, no check can tell whether a number changed hands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.snapshot import Snapshot
from tests.factories import ANNA, RU_MOBILE, History, days_ago

# an account made eight years before the logs begin, a year and a half before the run
ACCOUNT_MADE = days_ago(3000)
LOGS_BEGIN = days_ago(500)


def scored(tmp_path: Path, history: History) -> Path:
    events = history.write(tmp_path / "events")
    out = tmp_path / "out"
    assert main(["score", "--events", str(events), "--out", str(out), "--as-of", "2026-06-01"]) == 0
    return out


def changed_since(out: Path, since: str, capsys: pytest.CaptureFixture[str]) -> bool | None:
    capsys.readouterr()
    assert main(["check", RU_MOBILE, "--scores", str(out), "--since", since]) == 0
    answer: bool | None = json.loads(capsys.readouterr().out)["changed_since"]
    return answer


def test_a_registration_older_than_the_logs_does_not_stretch_the_coverage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = (
        History()
        .register(RU_MOBILE, ACCOUNT_MADE, ANNA, with_code=False)
        .sms(RU_MOBILE, LOGS_BEGIN)
        .code(RU_MOBILE, days_ago(20), account="vk-1")
        .account(RU_MOBILE)
    )
    out = scored(tmp_path, history)

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["coverage_from"] == "2025-01-17T00:00:00Z"  # LOGS_BEGIN
    assert Snapshot(out / "snapshot.bin").coverage_from == LOGS_BEGIN
    # the holder's account is years old, but no log says who held the number before 2025
    assert changed_since(out, "2020-01-01", capsys) is None
    assert changed_since(out, "2025-06-01", capsys) is False


def test_the_first_code_entry_starts_the_coverage_when_it_comes_before_any_sms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = (
        History()
        .register(RU_MOBILE, ACCOUNT_MADE, ANNA, with_code=False)
        .code(RU_MOBILE, LOGS_BEGIN, account="vk-1")
        .sms(RU_MOBILE, days_ago(100))
    )
    out = scored(tmp_path, history)

    assert json.loads((out / "manifest.json").read_text())["coverage_from"] == (
        "2025-01-17T00:00:00Z"
    )
    assert changed_since(out, "2025-02-01", capsys) is False


def test_a_history_without_logs_is_covered_from_its_first_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = History().register(RU_MOBILE, ACCOUNT_MADE, ANNA, with_code=False)
    out = scored(tmp_path, history)

    assert Snapshot(out / "snapshot.bin").coverage_from == ACCOUNT_MADE
    assert changed_since(out, "2020-01-01", capsys) is False
