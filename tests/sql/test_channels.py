"""int_channels: where a number can be reached, as the classification carries it."""

from __future__ import annotations

from tests.factories import ANNA, RU_MOBILE, History, days_ago
from tests.sql.conftest import Classify

CHANNELS = ("vk_bound", "vk_active", "vk_mobile_app", "ok_bound", "ok_active", "ok_mobile_app")


def channels(row: dict[str, object]) -> dict[str, object]:
    return {name: row[name] for name in CHANNELS}


def test_an_account_seen_yesterday_with_the_app_is_an_active_mobile_channel(
    classify: Classify,
) -> None:
    history = History().register(RU_MOBILE, days_ago(300), ANNA).account(RU_MOBILE, "vk-1")

    row = classify(history)[RU_MOBILE]

    assert channels(row) == {
        "vk_bound": True,
        "vk_active": True,
        "vk_mobile_app": True,
        "ok_bound": False,
        "ok_active": False,
        "ok_mobile_app": False,
    }


def test_an_account_unseen_for_longer_than_the_activity_window_is_bound_but_inactive(
    classify: Classify,
) -> None:
    history = (
        History()
        .register(RU_MOBILE, days_ago(300), ANNA)
        .account(RU_MOBILE, "ok-1", last_seen=days_ago(8))
    )

    row = classify(history)[RU_MOBILE]

    assert (row["ok_bound"], row["ok_active"], row["ok_mobile_app"]) == (True, False, False)


def test_one_active_account_makes_the_network_active_beside_a_stale_one(
    classify: Classify,
) -> None:
    history = (
        History()
        .register(RU_MOBILE, days_ago(300), ANNA)
        .account(RU_MOBILE, "vk-old", last_seen=days_ago(400), mobile_app=True)
        .account(RU_MOBILE, "vk-new", last_seen=days_ago(2), mobile_app=False)
    )

    row = classify(history)[RU_MOBILE]

    # the stale account's app cannot show anything: the network is active, not mobile
    assert (row["vk_bound"], row["vk_active"], row["vk_mobile_app"]) == (True, True, False)


def test_a_number_without_accounts_has_no_channel(classify: Classify) -> None:
    row = classify(History().register(RU_MOBILE, days_ago(300), ANNA))[RU_MOBILE]

    assert not any(channels(row).values())
