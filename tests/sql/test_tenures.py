"""Whether evidence of a change started a new tenure or was refuted (int_holder_proofs,
int_tenures), when the number has several bound accounts."""

from __future__ import annotations

from tests.factories import ANNA, BORIS, RU_MOBILE, History, days_ago, steady_owner
from tests.sql.conftest import Classify
from tests.sql.test_classification import RU_MOBILE_RECYCLED, seconds


def test_a_glitch_answered_by_an_account_proving_before_and_after_it_stays_refuted_when_the_holder_binds_another(  # noqa: E501
    classify: Classify,
) -> None:
    # Anna's VK account proves possession every month, before the failure and after it; a
    # month after it she binds an OK account too
    history = steady_owner(History(), RU_MOBILE, until_days=10)
    history.sms(RU_MOBILE, days_ago(60), status="failed", error="unknown_subscriber")
    history.register(RU_MOBILE, days_ago(30), ANNA, product="ok", account="ok-1")
    history.account(RU_MOBILE, "ok-1")
    history.code(RU_MOBILE, days_ago(20), "ok", "ok-1")

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "verified"
    assert "SMS_PERMANENT_FAILURES" not in row["reasons"]
    assert row["owner_since"] == seconds(days_ago(400))


def test_evidence_answered_only_by_accounts_that_appeared_after_it_starts_a_new_tenure(
    classify: Classify,
) -> None:
    history = History()
    history.register(RU_MOBILE_RECYCLED, days_ago(600), ANNA, account="vk-1")
    history.sms(RU_MOBILE_RECYCLED, days_ago(250), status="failed", error="unknown_subscriber")
    history.register(RU_MOBILE_RECYCLED, days_ago(200), BORIS, account="vk-2")
    history.register(RU_MOBILE_RECYCLED, days_ago(150), BORIS, product="ok", account="ok-2")
    for account in ("vk-2", "ok-2"):
        history.account(RU_MOBILE_RECYCLED, account)
        for day in range(140, 9, -30):
            history.code(RU_MOBILE_RECYCLED, days_ago(day), account.split("-")[0], account)

    row = classify(history)[RU_MOBILE_RECYCLED]

    assert row["status"] == "verified"
    assert row["owner_since"] > seconds(days_ago(250))
