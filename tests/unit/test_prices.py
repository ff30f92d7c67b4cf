"""Prices of delivered messages by country, channel and time (DESIGN §7), on a tiny table."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ownership.channels import Channel
from ownership.countries import Country
from ownership.prices import Price, PriceTable, UnknownPriceError

RUSSIA = Country("RU", "Russia", "7", 59, None)
KAZAKHSTAN = Country("KZ", "Kazakhstan", "77", 4.8, 2.5)
GERMANY = Country("DE", "Germany", "49", 0.5, 1.3)

RU_SMS_2025 = Decimal("4.20")
RU_SMS_2026 = Decimal("4.80")
KZ_SMS = Decimal("5.00")
KZ_VK_NEGOTIATED = Decimal("0.35")

TABLE = PriceTable.of(
    [
        Price("7", Channel.SMS, RU_SMS_2025, date(2025, 1, 1)),
        Price("7", Channel.SMS, RU_SMS_2026, date(2026, 1, 1)),
        Price("77", Channel.SMS, KZ_SMS, date(2025, 1, 1)),
        Price("77", Channel.VK, KZ_VK_NEGOTIATED, date(2025, 6, 1)),
    ]
)


def test_a_price_holds_from_its_first_day_until_the_next_version() -> None:
    assert TABLE.price(RUSSIA, Channel.SMS, date(2025, 1, 1)) == RU_SMS_2025
    assert TABLE.price(RUSSIA, Channel.SMS, datetime(2025, 12, 31, 23, 59)) == RU_SMS_2025
    assert TABLE.price(RUSSIA, Channel.SMS, date(2026, 1, 1)) == RU_SMS_2026
    assert TABLE.price(RUSSIA, Channel.SMS, date(2030, 1, 1)) == RU_SMS_2026


def test_social_delivery_costs_a_tenth_of_the_sms_price_by_default() -> None:
    assert TABLE.price(RUSSIA, Channel.VK, date(2025, 3, 1)) == Decimal("0.42")
    assert TABLE.price(RUSSIA, Channel.OK, date(2026, 3, 1)) == Decimal("0.48")


def test_a_tenth_of_the_sms_price_is_rounded_to_four_places_half_away_from_zero() -> None:
    # the ledger keeps four places: rounded here, once, as PostgreSQL's numeric would round it
    table = PriceTable.of(
        [
            Price("7", Channel.SMS, Decimal("4.5555"), date(2025, 1, 1)),
            Price("77", Channel.SMS, Decimal("4.5565"), date(2025, 1, 1)),
        ]
    )
    assert table.price(RUSSIA, Channel.VK, date(2025, 1, 1)) == Decimal("0.4556")
    assert table.price(KAZAKHSTAN, Channel.OK, date(2025, 1, 1)) == Decimal("0.4557")  # not even


def test_a_social_price_of_its_own_wins_from_its_first_day() -> None:
    assert TABLE.price(KAZAKHSTAN, Channel.VK, date(2025, 5, 31)) == Decimal("0.5")
    assert TABLE.price(KAZAKHSTAN, Channel.VK, date(2025, 6, 1)) == KZ_VK_NEGOTIATED
    assert TABLE.price(KAZAKHSTAN, Channel.OK, date(2025, 6, 1)) == Decimal("0.5")


def test_a_time_is_priced_on_its_utc_day() -> None:
    # 02:00 on 1 January in UTC+3 is still 31 December in UTC: the 2025 price.
    moscow = timezone(timedelta(hours=3))
    assert TABLE.price(RUSSIA, Channel.SMS, datetime(2026, 1, 1, 2, tzinfo=moscow)) == RU_SMS_2025
    assert TABLE.price(RUSSIA, Channel.SMS, datetime(2026, 1, 1, tzinfo=UTC)) == RU_SMS_2026


def test_nothing_is_priced_before_the_first_version_or_outside_the_table() -> None:
    with pytest.raises(UnknownPriceError, match="Russia"):
        TABLE.price(RUSSIA, Channel.SMS, date(2024, 12, 31))
    with pytest.raises(UnknownPriceError, match="Germany"):
        TABLE.price(GERMANY, Channel.VK, date(2026, 1, 1))


def test_a_version_listed_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="listed twice"):
        PriceTable.of(
            [
                Price("7", Channel.SMS, RU_SMS_2025, date(2025, 1, 1)),
                Price("7", Channel.SMS, RU_SMS_2026, date(2025, 1, 1)),
            ]
        )


@pytest.mark.parametrize(
    ("rub", "complaint"),
    [
        ("4.12345", "more than 4 decimal places"),
        ("Infinity", "is not a number"),
        ("NaN", "is not a number"),
        ("100000000", "the most the ledger holds"),
    ],
)
def test_a_price_the_ledger_cannot_hold_exactly_is_refused(rub: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        PriceTable.of([Price("7", Channel.SMS, Decimal(rub), date(2025, 1, 1))])


def test_a_negative_price_or_a_prefix_of_letters_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        PriceTable.of([Price("7", Channel.SMS, Decimal("-1"), date(2025, 1, 1))])
    with pytest.raises(ValueError, match="not digits"):
        PriceTable.of([Price("RU", Channel.SMS, RU_SMS_2025, date(2025, 1, 1))])


def test_a_country_with_no_sms_price_listed_is_one_nothing_could_be_billed_in() -> None:
    # Kazakhstan's first price is still to come on some day: priced from then on
    later = PriceTable.of([Price("77", Channel.SMS, KZ_SMS, date(2099, 1, 1))])

    assert later.without_sms_price([RUSSIA, KAZAKHSTAN, GERMANY]) == (RUSSIA, GERMANY)
    assert TABLE.without_sms_price([RUSSIA, KAZAKHSTAN]) == ()
