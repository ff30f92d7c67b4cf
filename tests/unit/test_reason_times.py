"""Every reason a check answers carries the time of its own event, as the scores have it
(DESIGN §4), from the snapshot, in the single and the bulk check alike."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from api.checks import CheckOptions, check_number, check_numbers, find_number
from ownership.policy import Policy
from ownership.verdicts import REASON_ORDER, Reason
from pipelines.snapshot import EPOCH, Snapshot, SnapshotError, reason_columns, write_snapshot
from tests.unit.test_snapshot import AS_OF, COVERAGE_FROM, batch

DAY = 86_400
NOW = EPOCH + timedelta(seconds=AS_OF + DAY)
OWNER_SINCE = AS_OF - 700 * DAY


def number(phone: int, status: str, code_days: int | None, **reasons: int) -> dict[str, Any]:
    """A classification row: each named reason holds, its event that many days before as_of;
    `code_days` is the last code's, RECENT_CODE_ENTRY's and NO_RECENT_CODE's time."""
    code_at = None if code_days is None else AS_OF - code_days * DAY
    row: dict[str, Any] = {
        "phone": phone,
        "status": status,
        "risk_score": 500,
        "owner_since": None if status == "owner_changed" else OWNER_SINCE,
        "last_code_at": code_at,
        "vk_bound": True,
        "vk_active": True,
    }
    for name, days in reasons.items():
        flag, at = reason_columns(Reason[name])
        row[flag] = True
        row[at] = code_at if Reason[name] in CODE_REASONS else AS_OF - days * DAY
    return row


CODE_REASONS = (Reason.RECENT_CODE_ENTRY, Reason.NO_RECENT_CODE)
# the combinations whose times the old snapshot answered as one, each at times of its own
SPARSE_CODES_AND_A_GAP = number(
    79000000001, "suspicious", 200, SPARSE_CODE_ENTRIES=210, NO_RECENT_CODE=0, SMS_GAP=120
)
STEADY_AND_MATCHING = number(
    79000000002, "verified", 10, RECENT_CODE_ENTRY=0, STEADY_SMS_DELIVERY=3, PROFILES_MATCH=300
)
MISMATCH_AND_FAILURES = number(
    79000000003, "owner_changed", None, PROFILE_MISMATCH=40, SMS_PERMANENT_FAILURES=20
)
REGISTRATION_CODE_AND_A_GAP = number(
    79000000004, "suspicious", 150, ONLY_REGISTRATION_CODE=150, NO_RECENT_CODE=0, SMS_GAP=95
)
CHANGE_AND_FAILURES = number(
    79000000005, "owner_changed", None, NUMBER_CHANGE_REPORTED=60, SMS_PERMANENT_FAILURES=61
)
THREE_SIGNALS = number(
    79000000006,
    "owner_changed",
    None,
    PROFILE_MISMATCH=40,
    NUMBER_CHANGE_REPORTED=30,
    SMS_PERMANENT_FAILURES=20,
)
# the one kind of number with a fourth reason time: past the slots, an extra time
ALL_FOUR_SIGNALS = number(
    79000000007,
    "owner_changed",
    None,
    PROFILE_MISMATCH=40,
    NUMBER_CHANGE_REPORTED=30,
    SMS_PERMANENT_FAILURES=20,
    OWNER_DENIED=50,
)
SPARSE_CODES_BEFORE_A_LATER_CODE = number(
    79000000008, "suspicious", 5, SPARSE_CODE_ENTRIES=400, SMS_GAP=100
)
NUMBERS = [
    SPARSE_CODES_AND_A_GAP,
    STEADY_AND_MATCHING,
    MISMATCH_AND_FAILURES,
    REGISTRATION_CODE_AND_A_GAP,
    CHANGE_AND_FAILURES,
    THREE_SIGNALS,
    ALL_FOUR_SIGNALS,
    SPARSE_CODES_BEFORE_A_LATER_CODE,
]


def own_times(row: dict[str, Any]) -> list[dict[str, str | None]]:
    """The row's reasons with their own times, as the answers write them."""
    answered: list[dict[str, str | None]] = []
    for reason in REASON_ORDER:
        flag, at = reason_columns(reason)
        if row.get(flag):
            moment = EPOCH + timedelta(seconds=row[at])
            answered.append({"code": reason.value, "at": moment.isoformat() + "Z"})
    return answered


@pytest.fixture
def snapshot(tmp_path: Path) -> Snapshot:
    path = tmp_path / "snapshot.bin"
    write_snapshot(path, [batch(NUMBERS)], len(NUMBERS), AS_OF, COVERAGE_FROM)
    return Snapshot(path)


@pytest.mark.parametrize("row", NUMBERS, ids=lambda row: str(row["phone"]))
def test_a_single_check_answers_each_reason_with_its_own_time(
    snapshot: Snapshot, row: dict[str, Any]
) -> None:
    found = find_number(snapshot, f"+{row['phone']}")

    answer = check_number(snapshot, *found, CheckOptions(), NOW, Policy())

    assert answer["reasons"] == own_times(row)


def test_a_bulk_check_answers_each_reason_with_its_own_time(snapshot: Snapshot) -> None:
    phones = [f"+{row['phone']}" for row in NUMBERS]

    answers = json.loads(check_numbers(snapshot, phones, CheckOptions(), NOW, Policy()))

    assert [item["reasons"] for item in answers["results"]] == [own_times(r) for r in NUMBERS]


def test_every_number_takes_32_bytes_all_four_change_signals_too(
    tmp_path: Path, snapshot: Snapshot
) -> None:
    # an owner_changed number has no last confirmation: its fourth time takes that place
    assert snapshot.size_bytes == 64 + 32 * len(NUMBERS)
    answer = check_number(
        snapshot, *find_number(snapshot, "+79000000007"), CheckOptions(), NOW, Policy()
    )
    assert answer["last_confirmed_at"] is None
    bulk = json.loads(check_numbers(snapshot, ["+79000000007"], CheckOptions(), NOW, Policy()))
    assert bulk["results"][0]["last_confirmed_at"] is None


# no rule makes a number both: past its three slots, its fourth time is an extra one
BOTH_SUSPICIOUS_CODE_REASONS = number(
    79000000009,
    "suspicious",
    200,
    SPARSE_CODE_ENTRIES=210,
    ONLY_REGISTRATION_CODE=220,
    NO_RECENT_CODE=0,
    SMS_GAP=120,
)


def test_a_file_whose_extra_times_are_not_its_numbers_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.bin"
    rows = [*NUMBERS, BOTH_SUSPICIOUS_CODE_REASONS]
    write_snapshot(path, [batch(rows)], len(rows), AS_OF, COVERAGE_FROM)
    assert path.stat().st_size == 64 + 32 * len(rows) + 8  # one extra time: (row, time)
    found = check_number(
        Snapshot(path), *find_number(Snapshot(path), "+79000000009"), CheckOptions(), NOW, Policy()
    )
    assert found["reasons"] == own_times(BOTH_SUSPICIOUS_CODE_REASONS)
    written = path.read_bytes()

    # the extra time given to another number, whose reasons take none
    moved = bytearray(written)
    moved[-8:-4] = (0).to_bytes(4, "little")
    path.write_bytes(bytes(moved))
    with pytest.raises(SnapshotError, match="damaged"):
        Snapshot(path)
    # half of it lost
    path.write_bytes(written[:-4])
    with pytest.raises(SnapshotError, match="truncated"):
        Snapshot(path)


def test_an_extra_time_cut_off_is_answered_as_none_never_as_another_numbers(
    tmp_path: Path,
) -> None:
    # opening does not read every number (a swap must not wait on it): a number whose extra
    # time is gone answers its reason without a time, and the others answer as written
    path = tmp_path / "snapshot.bin"
    rows = [*NUMBERS, BOTH_SUSPICIOUS_CODE_REASONS]
    write_snapshot(path, [batch(rows)], len(rows), AS_OF, COVERAGE_FROM)
    written = path.read_bytes()
    header = bytearray(written[:64])
    header[12:16] = (0).to_bytes(4, "little")  # the header's count of extra times made to agree
    path.write_bytes(bytes(header) + written[64:-8])
    snapshot = Snapshot(path)

    cut = check_number(
        snapshot, *find_number(snapshot, "+79000000009"), CheckOptions(), NOW, Policy()
    )
    bulk = json.loads(check_numbers(snapshot, ["+79000000009"], CheckOptions(), NOW, Policy()))

    expected = own_times(BOTH_SUSPICIOUS_CODE_REASONS)
    expected[-1]["at"] = None  # SMS_GAP, its fourth time
    assert cut["reasons"] == bulk["results"][0]["reasons"] == expected
    for row in NUMBERS:
        found = find_number(snapshot, f"+{row['phone']}")
        assert check_number(snapshot, *found, CheckOptions(), NOW, Policy())[
            "reasons"
        ] == own_times(row)
