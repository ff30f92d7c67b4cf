"""A snapshot of format 2, which every service has on disk until the next scoring run, is
read and answered as it was.

data/snapshot_v2.bin was written by format 2's writer (commit d2ca396), and
data/snapshot_v2_answers.json holds what that commit's checks answered from it, a day after
its as_of, sensitive, since 2025-01-01, for:
- +79000000001, verified: a code, steady SMS and matching profiles;
- +79000000002, suspicious: sparse codes, no recent code and an SMS gap;
- +79000000003, owner_changed on all four signals, each at a time of its own;
- +79000000004, verified on a confirmation, its code older than W;
- +79000000009, no history.
Format 2 kept one time for all reasons but the code's and the confirmation's, the latest.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from api.checks import CheckOptions, check_number, check_numbers, find_number
from ownership.policy import Policy
from pipelines.snapshot import Snapshot, SnapshotError

DATA = Path(__file__).parent / "data"
NOW = datetime(2026, 5, 29, 20, 26, 40)  # a day after the as_of
OPTIONS = CheckOptions(since=datetime(2025, 1, 1), sensitive=True)


@pytest.fixture
def old_snapshot() -> Snapshot:
    return Snapshot(DATA / "snapshot_v2.bin")


@pytest.fixture
def answered_before() -> list[dict[str, Any]]:
    answers: list[dict[str, Any]] = json.loads((DATA / "snapshot_v2_answers.json").read_text())
    return answers


def test_an_old_snapshot_answers_single_checks_as_it_did(
    old_snapshot: Snapshot, answered_before: list[dict[str, Any]]
) -> None:
    answers = [
        check_number(
            old_snapshot, *find_number(old_snapshot, item["phone"]), OPTIONS, NOW, Policy()
        )
        for item in answered_before
    ]

    assert old_snapshot.format == 2
    assert answers == answered_before


def test_an_old_snapshot_answers_bulk_checks_as_it_did(
    old_snapshot: Snapshot, answered_before: list[dict[str, Any]]
) -> None:
    phones = [item["phone"] for item in answered_before]

    answers = json.loads(check_numbers(old_snapshot, phones, OPTIONS, NOW, Policy()))

    assert answers["results"] == answered_before


def test_a_truncated_old_snapshot_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.bin"
    path.write_bytes((DATA / "snapshot_v2.bin").read_bytes()[:-2])

    with pytest.raises(SnapshotError, match="truncated"):
        Snapshot(path)
