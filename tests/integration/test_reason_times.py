"""Over a generated history, every check answers every reason with the time `scores.parquet`
gives it: the single check, the bulk check and `ownership check` alike (DESIGN §4, §6)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from api.checks import CheckOptions, check_number, check_numbers, find_number
from ownership.policy import Policy
from pipelines.cli import main
from pipelines.snapshot import Snapshot
from tests.integration.conftest import Demo

Reasons = list[dict[str, str | None]]


def scored_reasons(demo: Demo) -> dict[str, Reasons]:
    scores = pq.read_table(
        demo.scores / "scores.parquet", columns=["phone", "reasons", "reason_times"]
    )
    return {
        phone: [
            {"code": code, "at": None if at is None else at.strftime("%Y-%m-%dT%H:%M:%SZ")}
            for code, at in zip(reasons, times, strict=True)
        ]
        for phone, reasons, times in zip(*scores.to_pydict().values(), strict=True)
    }


def at_several_times(reasons: Reasons) -> bool:
    return len({reason["at"] for reason in reasons}) > 2


def test_the_history_has_numbers_whose_reasons_came_at_several_times(demo: Demo) -> None:
    # else the checks below could not tell one shared time from each reason's own
    assert sum(at_several_times(reasons) for reasons in scored_reasons(demo).values()) > 10


def test_every_single_and_bulk_check_answers_the_scores_reason_times(demo: Demo) -> None:
    expected = scored_reasons(demo)
    snapshot = Snapshot(demo.scores / "snapshot.bin")
    assert snapshot.as_of is not None
    now, phones = snapshot.as_of + timedelta(days=1), list(expected)

    single = {
        phone: check_number(snapshot, *find_number(snapshot, phone), CheckOptions(), now, Policy())
        for phone in phones
    }
    bulk = json.loads(check_numbers(snapshot, phones, CheckOptions(), now, Policy()))["results"]

    assert {phone: answer["reasons"] for phone, answer in single.items()} == expected
    assert {answer["phone"]: answer["reasons"] for answer in bulk} == expected


def test_ownership_check_answers_the_scores_reason_times(
    demo: Demo, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a store of its own, with no answers since the batch, never the working copy's
    monkeypatch.setenv("OWNERSHIP_DATABASE_URL", f"sqlite:///{tmp_path / 'ownership.db'}")
    expected = scored_reasons(demo)
    several = [phone for phone, reasons in expected.items() if at_several_times(reasons)][:5]

    for phone in several:
        assert main(["check", phone, "--scores", str(demo.scores)]) == 0
        assert json.loads(capsys.readouterr().out)["reasons"] == expected[phone]
