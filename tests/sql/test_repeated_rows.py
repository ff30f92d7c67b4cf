"""An event logged more than once is one event: repeats never change a verdict.

Event logs are delivered at least once, so the same row can arrive twice. Where the rules count
events (code entries against the possession window, registrations that agree, permanent SMS
failures against their minimum), a repeat would otherwise count as more evidence: a number with
sparse codes would pass as verified, and a sensitive notification would skip re-verification.
"""

from __future__ import annotations

from ownership.rules import RuleSettings
from tests.factories import ANNA, RU_MOBILE, History, days_ago, steady_owner
from tests.sql.conftest import Classify
from tests.sql.test_classification import RU_MOBILE_RECYCLED, seconds


def test_codes_logged_three_times_are_still_sparse(classify: Classify) -> None:
    history = History()
    history.register(RU_MOBILE, days_ago(400), ANNA).account(RU_MOBILE)
    # counted as six, the codes would cover 540 days of a 400-day tenure: not sparse
    for _ in range(3):
        history.code(RU_MOBILE, days_ago(200), "vk", "vk-1")
        history.code(RU_MOBILE, days_ago(10), "vk", "vk-1")
    for day in range(399, 0, -20):
        history.sms(RU_MOBILE, days_ago(day))

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "suspicious"
    assert row["reasons"] == ["SPARSE_CODE_ENTRIES"]
    assert row["owner_since"] == seconds(days_ago(400))


def test_a_registration_logged_twice_is_one_registration(classify: Classify) -> None:
    history = steady_owner(History(), RU_MOBILE, until_days=10)
    history.register(RU_MOBILE, days_ago(400), ANNA, account="vk-1")  # the same row again

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "verified"
    assert row["reasons"] == ["RECENT_CODE_ENTRY", "STEADY_SMS_DELIVERY"]
    assert row["owner_since"] == seconds(days_ago(400))


def test_accounts_registered_at_one_moment_are_one_occasion(classify: Classify) -> None:
    history = steady_owner(History(), RU_MOBILE, until_days=10)
    history.register(RU_MOBILE, days_ago(400), ANNA, product="ok", account="ok-1")

    row = classify(history)[RU_MOBILE]

    assert "PROFILES_MATCH" not in row["reasons"]


def test_an_unknown_subscriber_report_logged_twice_counts_once(classify: Classify) -> None:
    history = steady_owner(History(), RU_MOBILE_RECYCLED, until_days=200)
    for _ in range(2):
        history.sms(RU_MOBILE_RECYCLED, days_ago(170), status="failed", error="unknown_subscriber")

    row = classify(history, rules=RuleSettings(permanent_failures_min=2))[RU_MOBILE_RECYCLED]

    assert row["status"] == "suspicious"
    assert "SMS_PERMANENT_FAILURES" not in row["reasons"]
    assert row["owner_since"] == seconds(days_ago(400))


def test_two_unknown_subscriber_reports_at_two_moments_reach_the_minimum(
    classify: Classify,
) -> None:
    history = steady_owner(History(), RU_MOBILE_RECYCLED, until_days=200)
    for day in (180, 170):
        history.sms(RU_MOBILE_RECYCLED, days_ago(day), status="failed", error="unknown_subscriber")

    row = classify(history, rules=RuleSettings(permanent_failures_min=2))[RU_MOBILE_RECYCLED]

    assert row["status"] == "owner_changed"
    assert row["reasons"] == ["SMS_PERMANENT_FAILURES"]
    assert row["sms_permanent_failures_at"] == seconds(days_ago(170))
