"""A registration's own code proves possession once, whether it is logged before or after it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.factories import ANNA, BORIS, RU_MOBILE, History, days_ago
from tests.sql.conftest import Classify

RU_MOBILE_RECYCLED = "+79161234567"


def seconds(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1)).total_seconds())


@pytest.mark.parametrize("account", ["vk-1", None], ids=["by_its_account", "without_account"])
def test_a_sign_up_code_logged_seconds_before_its_registration_is_the_registrations_code(
    classify: Classify, account: str | None
) -> None:
    # in a sign-up the code is entered before the account, and so its registration row, exists
    history = History()
    history.register(RU_MOBILE, days_ago(30), ANNA, with_code=False).account(RU_MOBILE)
    history.code(RU_MOBILE, days_ago(30) - timedelta(seconds=5), "vk", account)
    for day in (29, 9):
        history.sms(RU_MOBILE, days_ago(day))

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "suspicious"
    assert row["reasons"] == ["ONLY_REGISTRATION_CODE"]
    assert row["only_registration_code_at"] == seconds(days_ago(30) - timedelta(seconds=5))


def test_a_code_long_before_a_registration_is_a_proof_of_its_own(classify: Classify) -> None:
    history = History()
    history.code(RU_MOBILE, days_ago(30) - timedelta(hours=2), "vk", "vk-1")
    history.register(RU_MOBILE, days_ago(30), ANNA, with_code=False).account(RU_MOBILE)
    for day in (29, 9):
        history.sms(RU_MOBILE, days_ago(day))

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "verified"
    assert row["reasons"] == ["RECENT_CODE_ENTRY"]


def test_a_new_holders_sign_up_code_logged_before_the_registration_is_its_own_code(
    classify: Classify,
) -> None:
    history = History()
    history.register(RU_MOBILE_RECYCLED, days_ago(600), ANNA, account="vk-1")
    history.register(
        RU_MOBILE_RECYCLED, days_ago(30), BORIS, product="ok", account="ok-2", with_code=False
    )
    history.code(RU_MOBILE_RECYCLED, days_ago(30) - timedelta(seconds=5), "ok", "ok-2")
    history.account(RU_MOBILE_RECYCLED, "ok-2")

    row = classify(history)[RU_MOBILE_RECYCLED]

    assert row["status"] == "suspicious"
    assert row["reasons"] == ["ONLY_REGISTRATION_CODE"]
