"""Whether evidence of a change started a new tenure or was refuted (int_holder_proofs,
int_tenures), when the number has several bound accounts."""

from __future__ import annotations

from tests.factories import ANNA, BORIS, History, days_ago
from tests.sql.conftest import Classify
from tests.sql.test_classification import RU_MOBILE_RECYCLED, seconds


def test_a_new_holder_who_also_takes_over_the_old_holders_bound_account_starts_a_tenure(
    classify: Classify,
) -> None:
    # Anna's codes stop; the number fails once; Boris registers his own OK account and also
    # recovers Anna's still-bound VK account by an SMS code
    history = History()
    history.register(RU_MOBILE_RECYCLED, days_ago(700), ANNA, account="vk-1")
    history.account(RU_MOBILE_RECYCLED, "vk-1")
    for day in range(670, 249, -30):
        history.code(RU_MOBILE_RECYCLED, days_ago(day), "vk", "vk-1")
    history.sms(RU_MOBILE_RECYCLED, days_ago(200), status="failed", error="unknown_subscriber")
    history.register(RU_MOBILE_RECYCLED, days_ago(120), BORIS, product="ok", account="ok-2")
    history.account(RU_MOBILE_RECYCLED, "ok-2")
    for day in range(100, 9, -30):
        history.code(RU_MOBILE_RECYCLED, days_ago(day), "ok", "ok-2")
        history.code(RU_MOBILE_RECYCLED, days_ago(day), "vk", "vk-1")

    row = classify(history)[RU_MOBILE_RECYCLED]

    assert row["status"] == "verified"
    assert row["owner_since"] >= seconds(days_ago(120))


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
