"""Registrations' person parameters agree (DESIGN §4): PROFILES_MATCH.

The tenure's registrations agree when they were made at two moments at least, one person field
(name, birth date, gender) at least was given at two moments, and no field was given two
different values. Region is not compared: people move.
"""

from __future__ import annotations

from tests.factories import (
    ANNA,
    ANNA_MOVED,
    ANNA_RETYPED,
    BORIS,
    NOBODY,
    RU_MOBILE,
    History,
    days_ago,
    steady_owner,
)
from tests.sql.conftest import Classify
from tests.sql.test_classification import seconds


def test_registrations_of_one_person_from_two_regions_match(classify: Classify) -> None:
    history = steady_owner(History(), RU_MOBILE, until_days=10)
    history.register(RU_MOBILE, days_ago(300), ANNA_MOVED, product="mail", account="mail-1")

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "verified"
    assert row["reasons"] == ["RECENT_CODE_ENTRY", "STEADY_SMS_DELIVERY", "PROFILES_MATCH"]
    assert row["profiles_match_at"] == seconds(days_ago(300))
    assert row["owner_since"] == seconds(days_ago(400))


def test_registrations_without_person_parameters_do_not_match(classify: Classify) -> None:
    history = steady_owner(History(), RU_MOBILE, until_days=10)
    history.rows["registrations"].clear()
    history.register(RU_MOBILE, days_ago(400), NOBODY, account="vk-1", with_code=False)
    history.register(RU_MOBILE, days_ago(300), NOBODY, product="mail", account="mail-1")

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "verified"
    assert row["reasons"] == ["RECENT_CODE_ENTRY", "STEADY_SMS_DELIVERY"]
    assert row["owner_since"] == seconds(days_ago(400))


def test_person_parameters_given_once_have_nothing_to_match(classify: Classify) -> None:
    history = steady_owner(History(), RU_MOBILE, until_days=10)
    history.register(RU_MOBILE, days_ago(300), NOBODY, product="mail", account="mail-1")

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "verified"
    assert row["reasons"] == ["RECENT_CODE_ENTRY", "STEADY_SMS_DELIVERY"]
    assert row["owner_since"] == seconds(days_ago(400))


def test_a_stranger_refuted_by_the_holders_later_codes_still_does_not_match(
    classify: Classify,
) -> None:
    # Boris's mail registration disagrees with Anna's, but Anna kept entering her VK codes
    # before and after it: the change is refuted, the tenure goes on, and its registrations
    # describe two people
    history = steady_owner(History(), RU_MOBILE, until_days=10)
    history.register(RU_MOBILE, days_ago(300), BORIS, product="mail", account="mail-9")

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "verified"
    assert row["reasons"] == ["RECENT_CODE_ENTRY", "STEADY_SMS_DELIVERY"]
    assert row["owner_since"] == seconds(days_ago(400))


def test_a_reregistration_with_one_field_off_is_the_same_person_but_does_not_match(
    classify: Classify,
) -> None:
    history = steady_owner(History(), RU_MOBILE, until_days=10)
    history.register(RU_MOBILE, days_ago(300), ANNA_RETYPED, product="mail", account="mail-1")

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "verified"
    assert row["reasons"] == ["RECENT_CODE_ENTRY", "STEADY_SMS_DELIVERY"]
    assert row["owner_since"] == seconds(days_ago(400))


def test_only_the_tenures_registrations_are_compared(classify: Classify) -> None:
    # Anna's number was unbound and Boris took it: his two registrations agree with each other
    history = History()
    history.register(RU_MOBILE, days_ago(700), ANNA, account="vk-1")
    history.number_change(RU_MOBILE, days_ago(500), account="vk-1", kind="unbound")
    history.register(RU_MOBILE, days_ago(400), BORIS, account="vk-2")
    history.register(RU_MOBILE, days_ago(300), BORIS, product="mail", account="mail-2")
    history.account(RU_MOBILE, "vk-2")
    for day in range(370, 9, -30):
        history.code(RU_MOBILE, days_ago(day), "vk", "vk-2")
    for day in range(399, 0, -20):
        history.sms(RU_MOBILE, days_ago(day))

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "verified"
    assert row["reasons"] == ["RECENT_CODE_ENTRY", "STEADY_SMS_DELIVERY", "PROFILES_MATCH"]
    assert row["owner_since"] == seconds(days_ago(400))
