from __future__ import annotations

from datetime import date, datetime

import pytest

from api.checks import SinceInFutureError, options_at
from ownership.verdicts import (
    REASON_ORDER,
    Evidence,
    Reason,
    Status,
    Verdict,
    latest_today,
    mask_from_reasons,
    reasons_from_mask,
    whole_day_since,
)

OWNER_SINCE = datetime(2026, 3, 1)
COVERAGE_FROM = datetime(2024, 1, 1)
RECYCLED = Verdict(Status.OWNER_CHANGED, 850, (), OWNER_SINCE)
NEVER_SEEN = Verdict(Status.UNKNOWN, 500, (), None)
# reported changed on 2026-02-01, and no holder has shown on the number since
CHANGE_REPORTED_AT = datetime(2026, 2, 1)
NO_HOLDER_SINCE_CHANGE = Verdict(
    Status.OWNER_CHANGED, 830, (Evidence(Reason.NUMBER_CHANGE_REPORTED, CHANGE_REPORTED_AT),), None
)


def test_a_date_before_the_current_owner_answers_changed() -> None:
    assert RECYCLED.changed_since(datetime(2025, 12, 1), COVERAGE_FROM) is True
    assert RECYCLED.held_since(datetime(2025, 12, 1), COVERAGE_FROM) is False


def test_a_date_within_the_current_tenure_answers_not_changed() -> None:
    assert RECYCLED.changed_since(datetime(2026, 4, 1), COVERAGE_FROM) is False
    assert RECYCLED.held_since(OWNER_SINCE, COVERAGE_FROM) is True


def test_a_date_before_the_history_has_no_answer() -> None:
    assert RECYCLED.changed_since(datetime(2023, 6, 1), COVERAGE_FROM) is None
    assert RECYCLED.held_since(datetime(2023, 6, 1), COVERAGE_FROM) is None


def test_a_number_without_history_has_no_answer() -> None:
    assert NEVER_SEEN.changed_since(datetime(2025, 6, 1), COVERAGE_FROM) is None
    assert NEVER_SEEN.held_since(datetime(2025, 6, 1), COVERAGE_FROM) is None
    assert not NEVER_SEEN.has_history


def test_a_number_no_holder_has_shown_on_since_its_change_answers_changed_for_any_date() -> None:
    for moment in (datetime(2025, 6, 1), CHANGE_REPORTED_AT, datetime(2026, 5, 31)):
        assert NO_HOLDER_SINCE_CHANGE.changed_since(moment, COVERAGE_FROM) is True, moment
        assert NO_HOLDER_SINCE_CHANGE.held_since(moment, COVERAGE_FROM) is False, moment
    assert NO_HOLDER_SINCE_CHANGE.has_history


def test_a_number_no_holder_has_shown_on_still_has_no_answer_before_the_history() -> None:
    assert NO_HOLDER_SINCE_CHANGE.changed_since(datetime(2023, 6, 1), COVERAGE_FROM) is None
    assert NO_HOLDER_SINCE_CHANGE.held_since(datetime(2023, 6, 1), COVERAGE_FROM) is None


def test_the_latest_proof_is_a_code_or_a_confirmation() -> None:
    verdict = Verdict(
        Status.VERIFIED, 20, (), OWNER_SINCE, datetime(2026, 5, 1), datetime(2026, 5, 20)
    )
    assert verdict.last_proof_at == datetime(2026, 5, 20)
    assert RECYCLED.last_proof_at is None


def test_reason_bits_are_stable_and_fit_the_snapshot() -> None:
    assert Reason.PROFILE_MISMATCH.bit == 1
    assert Reason.NO_HISTORY.bit == 1 << 12
    assert len(REASON_ORDER) <= 16
    mask = mask_from_reasons([Reason.SMS_GAP, Reason.NO_RECENT_CODE])
    assert reasons_from_mask(mask) == (Reason.NO_RECENT_CODE, Reason.SMS_GAP)


def test_today_is_the_latest_date_anywhere_on_earth() -> None:
    # 13:08 UTC on 29 November is already 30 November from UTC+11 eastwards
    assert latest_today(datetime(2026, 11, 29, 13, 8)) == date(2026, 11, 30)
    assert latest_today(datetime(2026, 11, 29, 9, 59)) == date(2026, 11, 29)


def test_a_since_date_that_is_today_in_some_time_zone_is_not_in_the_future() -> None:
    now = datetime(2026, 11, 29, 13, 8)

    assert options_at(now, whole_day_since(date(2026, 11, 30)), False, False).since is not None
    with pytest.raises(SinceInFutureError, match="since 2026-12-01 is in the future"):
        options_at(now, whole_day_since(date(2026, 12, 1)), False, False)
