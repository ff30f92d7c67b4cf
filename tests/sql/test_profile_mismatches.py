"""A registration is compared with what the registrations before it gave of each person field."""

from __future__ import annotations

from datetime import datetime

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
