"""SMS delivered at least once every W (DESIGN §4): STEADY_SMS_DELIVERY and SMS_GAP.

A gap is a silence longer than W (90 days) between two delivered SMS of the tenure, or after the
last delivery while SMS kept failing, wherever it falls against the calendar. Periods counted
from the epoch start 355, 265, 175 and 85 days before AS_OF, half-periods 45 days apart from
400 days before it: these histories put their silences against those boundaries.
"""

from __future__ import annotations

from tests.factories import ANNA, RU_MOBILE, History, days_ago
from tests.sql.conftest import Classify
from tests.sql.test_classification import seconds


def owner_with_deliveries(days: list[float]) -> History:
    """Anna registered 400 days ago and entered a VK code every month since; SMS on `days`."""
    history = History()
    history.register(RU_MOBILE, days_ago(400), ANNA, account="vk-1")
    history.account(RU_MOBILE, "vk-1")
    for code_day in range(370, 9, -30):
        history.code(RU_MOBILE, days_ago(code_day), "vk", "vk-1")
    for day in days:
        history.sms(RU_MOBILE, days_ago(day))
    return history


def test_a_179_day_silence_inside_two_calendar_periods_is_a_gap(classify: Classify) -> None:
    # 354.5 days ago falls in the period that starts 355 days ago, 175.5 in the next one: no
    # whole period passes without a delivery, yet nothing came for 179 days
    history = owner_with_deliveries([399, 379, 359, 354.5, 175.5, 160, 140, 120, 100, 80, 60, 40])

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "suspicious"
    assert row["reasons"] == ["SMS_GAP"]
    assert row["sms_gap_at"] == seconds(days_ago(354.5))
    assert row["owner_since"] == seconds(days_ago(400))


def test_a_silence_of_exactly_the_window_is_no_gap(classify: Classify) -> None:
    # 312 to 222 days ago: 90 days, holding the whole half-period from 310 to 265 days ago
    history = owner_with_deliveries([399, 379, 359, 339, 319, 312, 222, 202, 182, 162, 142, 122])
    for day in range(102, 0, -20):
        history.sms(RU_MOBILE, days_ago(day))

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "verified"
    assert row["reasons"] == ["RECENT_CODE_ENTRY", "STEADY_SMS_DELIVERY"]
    assert row["steady_sms_delivery_at"] == seconds(days_ago(2))
    assert row["owner_since"] == seconds(days_ago(400))


def test_a_year_without_any_sms_is_not_steady_delivery_nor_a_gap(classify: Classify) -> None:
    # delivered in two periods, then nothing at all was sent for almost a year: no doubt
    # against the holder, and no support for them either
    history = owner_with_deliveries([399, 379, 359, 339])

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "verified"
    assert row["reasons"] == ["RECENT_CODE_ENTRY"]
    assert row["owner_since"] == seconds(days_ago(400))


def test_failures_after_the_last_delivery_for_longer_than_the_window_are_a_gap(
    classify: Classify,
) -> None:
    history = owner_with_deliveries([399, 379, 359, 339, 319, 299, 279, 259, 239, 219, 199])
    for day in range(150, 0, -30):
        history.sms(RU_MOBILE, days_ago(day), status="failed", error="absent_subscriber")

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "suspicious"
    assert row["reasons"] == ["SMS_GAP"]
    assert row["sms_gap_at"] == seconds(days_ago(199))
    assert row["owner_since"] == seconds(days_ago(400))
