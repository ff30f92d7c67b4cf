"""One traffic, one bill, whatever the store: a price is rounded to the ledger's four places
once, in the core, so the API's bill (`records.billing_report`) and the analysts'
(`analytics.billing_by_country_channel`) agree on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Engine

from delivery import records
from ownership.channels import Channel
from ownership.prices import Price, PriceTable
from pipelines import analytics
from tests.api.service import VERIFIED_FRESH
from tests.delivery.conftest import Notifier

# valid in data/prices.csv (4 decimal places); a tenth of it, 0.45555, has five
RU_SMS_OF_FOUR_PLACES = Decimal("4.5555")
RU_SOCIAL_ROUNDED = Decimal("0.4556")  # half away from zero, as PostgreSQL's numeric rounds
DELIVERED_IN_VK = 3


def test_a_social_price_of_five_places_is_billed_rounded_alike_in_every_reader(
    notifier: Notifier, engine: Engine, database_url: str
) -> None:
    notifier.service.prices = PriceTable.of(
        [Price("7", Channel.SMS, RU_SMS_OF_FOUR_PLACES, date(2024, 1, 1))]
    )
    for number in range(DELIVERED_IN_VK):
        sent = notifier.notify(VERIFIED_FRESH, f"r-{number}")
        assert notifier.service.delivered(sent, notifier.clock.now())
    month = notifier.clock.now().strftime("%Y-%m")

    with engine.connect() as connection:
        api_lines = records.billing_report(connection, notifier.client_key, month)
    analysts = analytics.billing_by_country_channel(database_url)

    expected = RU_SOCIAL_ROUNDED * DELIVERED_IN_VK  # 1.3668, not 1.36665 rounded once
    assert [(line["channel"], line["amount"]) for line in api_lines] == [("vk", expected)]
    assert analysts.select("channel", "billed").rows() == [("vk", expected)]
