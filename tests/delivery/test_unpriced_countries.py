"""A notification to a country without an SMS price at that time is refused at acceptance,
naming the country, rather than delivered and billed at 0 (README, "The notify path")."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select

from delivery import records
from ownership.channels import Channel
from ownership.notifications import NotificationRequestError, RequestProblem
from ownership.prices import Price, PriceTable
from tests.api.service import VERIFIED_FRESH
from tests.delivery.conftest import Notifier

ARMENIAN_MOBILE = "+37433866606"
RU_SMS = Decimal("4.50")


def priced_without(notifier: Notifier, prefix: str) -> PriceTable:
    return PriceTable.of(
        price for price in notifier.service.prices.prices if price.prefix != prefix
    )


def notifications_in(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(records.notifications)) or 0)


def test_a_country_with_no_sms_price_is_refused_at_acceptance_naming_it(
    notifier: Notifier, engine: Engine
) -> None:
    notifier.service.prices = priced_without(notifier, "374")

    with pytest.raises(NotificationRequestError, match=r"Armenia \(\+374\)") as refused:
        notifier.service.accept(notifier.client_key, notifier.request(ARMENIAN_MOBILE))

    assert refused.value.problem is RequestProblem.COUNTRY_NOT_SERVED
    assert notifications_in(engine) == 0


def test_a_country_priced_only_from_tomorrow_is_refused_today(
    notifier: Notifier, engine: Engine
) -> None:
    tomorrow = notifier.clock.now().date() + timedelta(days=1)
    notifier.service.prices = PriceTable.of(
        [*priced_without(notifier, "7").prices, Price("7", Channel.SMS, RU_SMS, tomorrow)]
    )

    with pytest.raises(NotificationRequestError, match=r"Russia \(\+7\)"):
        notifier.service.accept(notifier.client_key, notifier.request(VERIFIED_FRESH))

    assert notifications_in(engine) == 0
