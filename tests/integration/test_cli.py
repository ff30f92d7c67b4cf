"""The command line: clear messages instead of tracebacks, and a working round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.cli import main
from tests.factories import ANNA, RU_MOBILE, History, days_ago


def test_a_missing_history_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["score", "--events", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")])

    assert code == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_bad_as_of_is_refused_by_the_parser(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["score", "--events", str(tmp_path), "--out", str(tmp_path), "--as-of", "soon"])


def test_score_then_check_answers_from_the_snapshot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = History().register(RU_MOBILE, days_ago(300), ANNA).account(RU_MOBILE)
    events = history.write(tmp_path / "events")
    out = tmp_path / "out"

    assert main(["score", "--events", str(events), "--out", str(out), "--as-of", "2026-06-01"]) == 0
    capsys.readouterr()
    assert main(["check", RU_MOBILE, "--scores", str(out), "--since", "2025-01-01"]) == 0

    answer = json.loads(capsys.readouterr().out)
    assert answer["phone_masked"] == "+792* *** ** 23"
    assert answer["status"] == "suspicious"
    assert [r["code"] for r in answer["reasons"]] == ["ONLY_REGISTRATION_CODE", "NO_RECENT_CODE"]
    assert answer["changed_since"] is None  # 2025-01-01 precedes the history
    assert main(["check", "garbage", "--scores", str(out)]) == 2
    capsys.readouterr()
    assert main(["check", "+79161234567", "--scores", str(out), "--sensitive"]) == 0
    unseen = json.loads(capsys.readouterr().out)
    assert (unseen["status"], unseen["action"]) == ("unknown", "sms")
    assert unseen["reasons"] == [{"code": "NO_HISTORY", "at": None}]


def test_the_demo_generates_scores_and_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--phones", "400", "--dir", str(tmp_path), "--no-serve"]) == 0

    captured = capsys.readouterr()
    assert "precision of owner_changed" in captured.out
    assert "ownership check +" in captured.err
    assert (tmp_path / "scores" / "snapshot.bin").exists()
