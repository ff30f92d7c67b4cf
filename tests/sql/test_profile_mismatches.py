"""A registration is compared with what the registrations before it gave of each person field."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from tests.factories import ANNA, BORIS, NOBODY, History, Person, days_ago
from tests.sql.conftest import Classify

RU_MOBILE_RECYCLED = "+79161234567"
ANNA_NAME_ONLY = Person("anna-k", None, None)  # a product that asks for the name only


def seconds(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1)).total_seconds())


@pytest.mark.parametrize("between", [NOBODY, ANNA_NAME_ONLY], ids=["no_fields", "name_only"])
def test_a_registration_giving_fewer_fields_between_two_holders_hides_no_change(
    classify: Classify, between: Person
) -> None:
    history = History()
    history.register(RU_MOBILE_RECYCLED, days_ago(600), ANNA, account="vk-1")
    history.register(
        RU_MOBILE_RECYCLED,
        days_ago(300),
        between,
        product="mail",
        account="mail-1",
        with_code=False,
    )
    # Boris takes the number, and his OK account, bound now, proves it every month
    history.register(RU_MOBILE_RECYCLED, days_ago(150), BORIS, product="ok", account="ok-2")
    history.account(RU_MOBILE_RECYCLED, "ok-2")
    for day in range(120, 0, -30):
        history.code(RU_MOBILE_RECYCLED, days_ago(day), "ok", "ok-2")

    row = classify(history)[RU_MOBILE_RECYCLED]

    assert row["status"] == "verified"
    assert row["reasons"] == ["RECENT_CODE_ENTRY"]
    assert row["owner_since"] == seconds(days_ago(150))


def test_a_registration_giving_fewer_fields_is_compared_with_what_it_gives(
    classify: Classify,
) -> None:
    history = History()
    history.register(RU_MOBILE_RECYCLED, days_ago(600), ANNA, account="vk-1")
    history.account(RU_MOBILE_RECYCLED, "vk-1")
    for day in range(570, 0, -30):
        history.code(RU_MOBILE_RECYCLED, days_ago(day), "vk", "vk-1")
    history.register(
        RU_MOBILE_RECYCLED, days_ago(300), ANNA_NAME_ONLY, product="mail", account="mail-1"
    )

    row = classify(history)[RU_MOBILE_RECYCLED]

    assert row["status"] == "verified"
    assert row["owner_since"] == seconds(days_ago(600))


def test_fields_of_several_registrations_are_never_pieced_into_one_person(
    classify: Classify,
) -> None:
    """A family number: the daughter signs up for a game with her name only, for a school
    service with her birth date only; then the mother registers at her bank. Pieced together,
    the daughter's fields would make a stranger of the mother."""
    history = History()
    history.register(RU_MOBILE_RECYCLED, days_ago(600), ANNA, account="vk-1")
    history.account(RU_MOBILE_RECYCLED, "vk-1")
    for day in range(570, 0, -30):
        history.code(RU_MOBILE_RECYCLED, days_ago(day), "vk", "vk-1")
    daughter_name, daughter_birth = (
        Person("masha-k", None, None),
        Person(None, date(2012, 5, 1), None),
    )
    history.register(
        RU_MOBILE_RECYCLED, days_ago(300), daughter_name, product="game", account="g-1"
    )
    history.register(
        RU_MOBILE_RECYCLED, days_ago(200), daughter_birth, product="school", account="s-1"
    )
    history.register(RU_MOBILE_RECYCLED, days_ago(10), ANNA, product="bank_x", account="b-1")

    row = classify(history)[RU_MOBILE_RECYCLED]

    assert row["status"] == "verified"
    assert "PROFILE_MISMATCH" not in row["reasons"]
    assert row["owner_since"] == seconds(days_ago(600))


def test_a_registration_giving_another_pair_of_fields_between_two_holders_hides_no_change(
    classify: Classify,
) -> None:
    """Products ask for different pairs of fields: Anna's bank asked her name and birth date,
    Boris's shop his name and gender. His is compared with her full registration."""
    history = History()
    history.register(RU_MOBILE_RECYCLED, days_ago(700), ANNA, account="vk-1")
    anna_for_the_bank = Person(ANNA.name_key, ANNA.birth_date, None)
    history.register(
        RU_MOBILE_RECYCLED, days_ago(400), anna_for_the_bank, product="bank_x", account="b-1"
    )
    boris_for_the_shop = Person(BORIS.name_key, None, BORIS.gender)
    history.register(
        RU_MOBILE_RECYCLED, days_ago(20), boris_for_the_shop, product="shop", account="s-2"
    )

    row = classify(history)[RU_MOBILE_RECYCLED]

    assert row["status"] == "owner_changed"
    assert row["reasons"] == ["PROFILE_MISMATCH"]
    assert row["profile_mismatch_at"] == seconds(days_ago(20))
