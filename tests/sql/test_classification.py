"""Each row of the classification table (DESIGN §4) on a crafted history.

Every test asserts the status, the reasons and owner_since. Times inside the models are epoch
seconds; `seconds(days_ago(n))` names them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ownership.rules import RuleSettings
from ownership.verdicts import REASON_ORDER
from tests.factories import (
    ANNA,
    ANNA_MOVED,
    ANNA_RETYPED,
    BORIS,
    RU_MOBILE,
    History,
    days_ago,
    steady_owner,
)
from tests.sql.conftest import Classify

RU_MOBILE_RECYCLED = "+79161234567"


def seconds(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1)).total_seconds())


def test_a_steady_owner_with_recent_codes_is_verified(classify: Classify) -> None:
    history = steady_owner(History(), RU_MOBILE, until_days=10)
    history.register(RU_MOBILE, days_ago(300), ANNA_MOVED, product="ok", account="ok-1")

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "verified"
    assert row["reasons"] == ["RECENT_CODE_ENTRY", "STEADY_SMS_DELIVERY", "PROFILES_MATCH"]
    assert row["recent_code_entry_at"] == seconds(days_ago(10))
    assert row["owner_since"] == seconds(days_ago(400))
    assert 0 <= row["risk_score"] < 300


def test_a_stranger_compared_with_the_bound_account_holder_makes_the_number_owner_changed(
    classify: Classify,
) -> None:
    history = History()
    history.register(RU_MOBILE_RECYCLED, days_ago(700), ANNA, account="vk-1")
    history.account(RU_MOBILE_RECYCLED, "vk-1")
    # Boris registers twice; his second registration is compared with his first (same person)
    # and with Anna's, whose VK account is still bound
    history.register(RU_MOBILE_RECYCLED, days_ago(200), BORIS, product="bank_x", account="b-2")
    history.register(RU_MOBILE_RECYCLED, days_ago(100), BORIS, product="mail", account="m-2")

    row = classify(history)[RU_MOBILE_RECYCLED]

    assert row["status"] == "owner_changed"
    assert row["reasons"] == ["PROFILE_MISMATCH"]
    assert row["profile_mismatch_at"] == seconds(days_ago(100))


def test_a_registration_by_another_person_makes_the_number_owner_changed(
    classify: Classify,
) -> None:
    history = steady_owner(History(), RU_MOBILE_RECYCLED, until_days=200)
    history.register(RU_MOBILE_RECYCLED, days_ago(100), BORIS, product="mail", account="mail-9")

    row = classify(history)[RU_MOBILE_RECYCLED]

    assert row["status"] == "owner_changed"
    assert row["reasons"] == ["PROFILE_MISMATCH"]
    assert row["profile_mismatch_at"] == seconds(days_ago(100))
    # unlike a report, a failure or a No, the registration is the new holder's own evidence
    assert row["owner_since"] == seconds(days_ago(100))
    assert 700 <= row["risk_score"] <= 1000


def test_a_reregistration_with_one_field_off_is_the_same_person(classify: Classify) -> None:
    history = steady_owner(History(), RU_MOBILE, until_days=10)
    history.register(RU_MOBILE, days_ago(100), ANNA_RETYPED, product="mail", account="mail-9")

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "verified"
    assert row["owner_since"] == seconds(days_ago(400))


def test_a_reported_number_change_makes_the_number_owner_changed(classify: Classify) -> None:
    history = steady_owner(History(), RU_MOBILE_RECYCLED, until_days=200)
    history.number_change(RU_MOBILE_RECYCLED, days_ago(150), account="vk-1", kind="reported")

    row = classify(history)[RU_MOBILE_RECYCLED]

    assert row["status"] == "owner_changed"
    assert row["reasons"] == ["NUMBER_CHANGE_REPORTED"]
    assert row["number_change_reported_at"] == seconds(days_ago(150))
    # the SMS stream goes on to the new holder: the first delivery after the change is theirs
    assert row["owner_since"] == seconds(days_ago(139))


def test_a_number_reported_changed_with_nothing_after_has_no_holder_since(
    classify: Classify,
) -> None:
    """Anna's account reports the number is no longer hers, and no one shows on it after: the
    change is the only evidence, and it vouches for no holder."""
    history = History()
    history.register(RU_MOBILE_RECYCLED, days_ago(400), ANNA, account="vk-1")
    history.account(RU_MOBILE_RECYCLED, "vk-1")
    for day in range(370, 199, -30):
        history.code(RU_MOBILE_RECYCLED, days_ago(day), "vk", "vk-1")
        history.sms(RU_MOBILE_RECYCLED, days_ago(day))
    history.number_change(RU_MOBILE_RECYCLED, days_ago(150), account="vk-1", kind="reported")

    row = classify(history)[RU_MOBILE_RECYCLED]

    assert row["status"] == "owner_changed"
    assert row["reasons"] == ["NUMBER_CHANGE_REPORTED"]
    assert row["number_change_reported_at"] == seconds(days_ago(150))
    assert row["owner_since"] is None
    # the score stands on the change alone: 700 + 100 for the report + 50 less its age
    assert row["risk_score"] == 700 + 100 + 50 - 150 * 50 // 365


def test_permanent_sms_failures_make_the_number_owner_changed(classify: Classify) -> None:
    history = steady_owner(History(), RU_MOBILE_RECYCLED, until_days=200)
    history.rows["sms_deliveries"].clear()
    for day in (399, 300, 210, 180, 170):
        failed = day in (180, 170)
        history.sms(
            RU_MOBILE_RECYCLED,
            days_ago(day),
            status="failed" if failed else "delivered",
            error="unknown_subscriber" if failed else None,
        )

    row = classify(history)[RU_MOBILE_RECYCLED]

    assert row["status"] == "owner_changed"
    assert row["reasons"] == ["SMS_PERMANENT_FAILURES"]
    assert row["sms_permanent_failures_at"] == seconds(days_ago(170))
    # out of service, and nothing since: no holder is known, so none has an owner_since
    assert row["owner_since"] is None


def test_a_holder_who_proves_possession_after_a_permanent_failure_keeps_the_number(
    classify: Classify,
) -> None:
    history = steady_owner(History(), RU_MOBILE, until_days=10)
    history.sms(RU_MOBILE, days_ago(50), status="failed", error="unknown_subscriber")

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "verified"
    # the account that proved possession before the failure still does: the same holder,
    # so the failure is refuted and the tenure goes on
    assert row["owner_since"] == seconds(days_ago(400))


def test_temporary_sms_errors_alone_never_make_a_number_owner_changed(
    classify: Classify,
) -> None:
    history = steady_owner(History(), RU_MOBILE, until_days=200)
    for day in range(190, 0, -3):
        history.sms(RU_MOBILE, days_ago(day), status="failed", error="absent_subscriber")
    for error in ("network", "rejected", "expired", "other"):
        history.sms(RU_MOBILE, days_ago(2), status="failed", error=error)

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "suspicious"
    assert not {"SMS_PERMANENT_FAILURES", "PROFILE_MISMATCH"} & set(row["reasons"])
    assert row["owner_since"] == seconds(days_ago(400))


def test_a_denied_reverification_makes_the_number_owner_changed(classify: Classify) -> None:
    history = steady_owner(History(), RU_MOBILE_RECYCLED, until_days=40)
    history.verification(RU_MOBILE_RECYCLED, days_ago(10), "denied")

    row = classify(history)[RU_MOBILE_RECYCLED]

    assert row["status"] == "owner_changed"
    assert row["reasons"] == ["OWNER_DENIED"]
    assert row["owner_denied_at"] == seconds(days_ago(10))
    # nothing of a new holder after the denial yet: the No tells who does not hold the number,
    # not who does
    assert row["owner_since"] is None


def test_a_recent_confirmation_verifies_a_number_without_recent_codes(
    classify: Classify,
) -> None:
    history = steady_owner(History(), RU_MOBILE, until_days=200)
    history.verification(RU_MOBILE, days_ago(10), "confirmed")

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "verified"
    assert row["reasons"] == ["RECENT_CONFIRMATION", "STEADY_SMS_DELIVERY"]
    assert row["recent_confirmation_at"] == seconds(days_ago(10))
    assert row["owner_since"] == seconds(days_ago(400))


def test_codes_entered_less_than_once_every_window_are_sparse(classify: Classify) -> None:
    history = History()
    history.register(RU_MOBILE, days_ago(400), ANNA).account(RU_MOBILE)
    history.code(RU_MOBILE, days_ago(200), "vk", "vk-1").code(RU_MOBILE, days_ago(10), "vk", "vk-1")
    for day in range(399, 0, -20):
        history.sms(RU_MOBILE, days_ago(day))

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "suspicious"
    assert row["reasons"] == ["SPARSE_CODE_ENTRIES"]
    assert row["sparse_code_entries_at"] == seconds(days_ago(10))
    assert row["owner_since"] == seconds(days_ago(400))
    assert 300 <= row["risk_score"] < 700


def test_a_number_with_only_its_registration_code_is_suspicious(classify: Classify) -> None:
    history = History()
    history.register(RU_MOBILE, days_ago(30), ANNA).account(RU_MOBILE)
    for day in (29, 9):
        history.sms(RU_MOBILE, days_ago(day))

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "suspicious"
    assert row["reasons"] == ["ONLY_REGISTRATION_CODE"]
    assert row["only_registration_code_at"] == seconds(days_ago(30))
    assert row["owner_since"] == seconds(days_ago(30))


def test_a_registration_code_logged_without_its_account_is_still_the_registrations_code(
    classify: Classify,
) -> None:
    # the contract lets a code entry name no account: the VK code ten minutes after a VK
    # registration on the number is that registration's own code, not a later proof
    history = History()
    history.register(RU_MOBILE, days_ago(30), ANNA, with_code=False).account(RU_MOBILE)
    history.code(RU_MOBILE, days_ago(30) + timedelta(minutes=10), "vk", None)
    for day in (29, 9):
        history.sms(RU_MOBILE, days_ago(day))

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "suspicious"
    assert row["reasons"] == ["ONLY_REGISTRATION_CODE"]
    assert row["only_registration_code_at"] == seconds(days_ago(30) + timedelta(minutes=10))
    assert row["owner_since"] == seconds(days_ago(30))


def test_a_code_without_an_account_long_after_the_registration_is_a_proof(
    classify: Classify,
) -> None:
    history = History()
    history.register(RU_MOBILE, days_ago(30), ANNA).account(RU_MOBILE)
    history.code(RU_MOBILE, days_ago(20), "vk", None)
    for day in (29, 9):
        history.sms(RU_MOBILE, days_ago(day))

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "verified"
    assert row["reasons"] == ["RECENT_CODE_ENTRY"]
    assert row["owner_since"] == seconds(days_ago(30))


def test_no_code_within_the_window_is_suspicious(classify: Classify) -> None:
    history = steady_owner(History(), RU_MOBILE, until_days=120)

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "suspicious"
    assert row["reasons"] == ["NO_RECENT_CODE"]
    assert row["no_recent_code_at"] == seconds(days_ago(130))
    assert row["owner_since"] == seconds(days_ago(400))


def test_a_whole_window_without_a_delivered_sms_is_a_gap(classify: Classify) -> None:
    history = steady_owner(History(), RU_MOBILE, until_days=10)
    history.rows["sms_deliveries"].clear()
    for day in (399, 380, 360, 340, 90, 70, 50, 30, 10):
        history.sms(RU_MOBILE, days_ago(day))

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "suspicious"
    assert row["reasons"] == ["SMS_GAP"]
    assert row["sms_gap_at"] == seconds(days_ago(340))
    assert row["owner_since"] == seconds(days_ago(400))


def test_a_new_holder_proven_on_the_bound_account_is_judged_in_the_new_tenure(
    classify: Classify,
) -> None:
    history = History()
    history.register(RU_MOBILE_RECYCLED, days_ago(600), ANNA, account="vk-1")
    for day in range(570, 300, -30):
        history.code(RU_MOBILE_RECYCLED, days_ago(day), "vk", "vk-1")
    # Boris takes the recycled number, registers a VK account that is bound now, and uses it
    history.register(RU_MOBILE_RECYCLED, days_ago(200), BORIS, account="vk-2")
    history.account(RU_MOBILE_RECYCLED, "vk-2")
    for day in range(170, 0, -30):
        history.code(RU_MOBILE_RECYCLED, days_ago(day), "vk", "vk-2")
    for day in range(199, 0, -20):
        history.sms(RU_MOBILE_RECYCLED, days_ago(day))

    row = classify(history)[RU_MOBILE_RECYCLED]

    assert row["status"] == "verified"
    assert row["reasons"] == ["RECENT_CODE_ENTRY", "STEADY_SMS_DELIVERY"]
    assert row["owner_since"] == seconds(days_ago(200))
    assert row["first_seen_at"] == seconds(days_ago(600))


def test_a_new_holder_on_another_account_while_the_old_one_is_bound_is_owner_changed(
    classify: Classify,
) -> None:
    history = History()
    history.register(RU_MOBILE_RECYCLED, days_ago(600), ANNA, account="vk-1")
    history.account(RU_MOBILE_RECYCLED, "vk-1")
    history.register(RU_MOBILE_RECYCLED, days_ago(200), BORIS, product="ok", account="ok-2")
    for day in range(170, 0, -30):
        history.code(RU_MOBILE_RECYCLED, days_ago(day), "ok", "ok-2")

    row = classify(history)[RU_MOBILE_RECYCLED]

    assert row["status"] == "owner_changed"
    assert row["reasons"] == ["PROFILE_MISMATCH"]
    assert row["owner_since"] == seconds(days_ago(200))


def test_a_number_with_no_events_is_unknown(classify: Classify) -> None:
    history = History().account(RU_MOBILE)

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "unknown"
    assert row["reasons"] == ["NO_HISTORY"]
    assert row["owner_since"] is None
    assert row["risk_score"] == 500


def test_events_after_as_of_are_ignored(classify: Classify) -> None:
    history = steady_owner(History(), RU_MOBILE, until_days=10)
    history.verification(RU_MOBILE, days_ago(-5), "denied")

    as_of_row = classify(history)[RU_MOBILE]

    assert as_of_row["status"] == "verified"


def test_past_days_can_be_rescored(classify: Classify) -> None:
    history = steady_owner(History(), RU_MOBILE, until_days=10)

    row = classify(history, as_of=days_ago(300))[RU_MOBILE]

    assert row["status"] == "verified"
    assert row["recent_code_entry_at"] == seconds(days_ago(310))


def test_thresholds_come_from_the_settings(classify: Classify) -> None:
    history = steady_owner(History(), RU_MOBILE, until_days=70)
    history.sms(RU_MOBILE, days_ago(50), status="failed", error="unknown_subscriber")

    default = classify(history)[RU_MOBILE]
    tolerant = classify(history, rules=RuleSettings(permanent_failures_min=2))[RU_MOBILE]

    assert default["status"] == "owner_changed"
    assert default["reasons"] == ["SMS_PERMANENT_FAILURES"]
    assert default["owner_since"] == seconds(days_ago(39))  # the next SMS delivered
    assert tolerant["status"] == "verified"
    assert tolerant["owner_since"] == seconds(days_ago(400))


def test_an_old_refuted_failure_does_not_add_to_a_new_one(classify: Classify) -> None:
    # Anna kept proving possession after the glitch 300 days ago; only the failure 5 days ago
    # came after her last code, and one is fewer than the two the settings ask for
    history = steady_owner(History(), RU_MOBILE, until_days=10)
    for day in (300, 5):
        history.sms(RU_MOBILE, days_ago(day), status="failed", error="unknown_subscriber")

    row = classify(history, rules=RuleSettings(permanent_failures_min=2))[RU_MOBILE]

    assert row["status"] == "verified"
    assert row["reasons"] == ["RECENT_CODE_ENTRY", "STEADY_SMS_DELIVERY"]
    assert row["owner_since"] == seconds(days_ago(400))


def test_an_earlier_tenures_failure_does_not_add_to_the_new_holders(
    classify: Classify,
) -> None:
    # the failure 250 days ago came before Boris's account appeared, the one 5 days ago after
    # his last code: one failure each, and the settings ask for two
    history = History()
    history.register(RU_MOBILE_RECYCLED, days_ago(600), ANNA, account="vk-1")
    history.sms(RU_MOBILE_RECYCLED, days_ago(250), status="failed", error="unknown_subscriber")
    history.register(RU_MOBILE_RECYCLED, days_ago(200), BORIS, account="vk-2")
    history.account(RU_MOBILE_RECYCLED, "vk-2")
    for day in range(170, 9, -30):
        history.code(RU_MOBILE_RECYCLED, days_ago(day), "vk", "vk-2")
    for day in range(199, 0, -20):
        history.sms(RU_MOBILE_RECYCLED, days_ago(day))
    history.sms(RU_MOBILE_RECYCLED, days_ago(5), status="failed", error="unknown_subscriber")

    row = classify(history, rules=RuleSettings(permanent_failures_min=2))[RU_MOBILE_RECYCLED]

    assert row["status"] == "verified"
    assert row["reasons"] == ["RECENT_CODE_ENTRY", "STEADY_SMS_DELIVERY"]
    assert row["owner_since"] == seconds(days_ago(200))


def test_risk_orders_by_status_and_recency(classify: Classify) -> None:
    history = History()
    fresh, stale = "+79000000001", "+79000000002"
    steady_owner(history, fresh, until_days=5)
    steady_owner(history, stale, until_days=60)

    rows = classify(history)

    assert rows[fresh]["status"] == rows[stale]["status"] == "verified"
    assert rows[fresh]["risk_score"] < rows[stale]["risk_score"]


def test_reason_columns_follow_the_reason_order(models) -> None:  # type: ignore[no-untyped-def]
    con = models(History().account(RU_MOBILE))
    flags = [c for c in con.table("classification").columns if c.startswith("has_")]

    assert flags == [f"has_{reason.value.lower()}" for reason in REASON_ORDER]


def test_a_previous_holders_account_left_bound_beside_the_new_ones_is_owner_changed(
    classify: Classify,
) -> None:
    history = History()
    history.register(RU_MOBILE_RECYCLED, days_ago(700), ANNA, product="ok", account="ok-1")
    history.account(RU_MOBILE_RECYCLED, "ok-1")  # Anna's OK account was never unbound
    history.register(RU_MOBILE_RECYCLED, days_ago(200), BORIS, account="vk-2")
    history.account(RU_MOBILE_RECYCLED, "vk-2")
    for day in range(170, 0, -30):
        history.code(RU_MOBILE_RECYCLED, days_ago(day), "vk", "vk-2")

    row = classify(history)[RU_MOBILE_RECYCLED]

    assert row["status"] == "owner_changed"
    assert row["reasons"] == ["PROFILE_MISMATCH"]
    assert row["owner_since"] == seconds(days_ago(200))


def test_a_confirmation_naming_no_account_proves_every_bound_account(
    classify: Classify,
) -> None:
    history = steady_owner(History(), RU_MOBILE, until_days=300)
    history.number_change(RU_MOBILE, days_ago(100), account="ok-7", kind="unbound")
    history.verification(RU_MOBILE, days_ago(20), "confirmed")

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "verified"
    assert row["reasons"] == ["RECENT_CONFIRMATION", "STEADY_SMS_DELIVERY"]
    # Anna's bound account was there before the unbinding and proved possession after it
    assert row["owner_since"] == seconds(days_ago(400))
