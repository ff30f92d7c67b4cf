"""Prices of delivered messages by country, channel and time (DESIGN §7, "Billing").

The table itself is versioned reference data (`data/prices.csv`); the shell reads it and hands
the rows in. Billing and the analysts' cost comparisons ask the same `PriceTable.price`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

from ownership.channels import Channel
from ownership.countries import Country

# DESIGN §7: social delivery defaults to a tenth of the SMS price.
SOCIAL_SHARE_OF_SMS = Decimal("0.1")
# The ledger keeps a price to 4 decimal places in 12 digits (store: Numeric(12, 4)). A price is
# rounded to them once, here, before it is billed: left to the store, PostgreSQL rounds each
# entry and SQLite sums the unrounded ones, so one traffic got two bills.
PRICE_PLACES = 4
PRICE_DIGITS = 12
PRICE_QUANTUM = Decimal(1).scaleb(-PRICE_PLACES)
PRICE_LIMIT = Decimal(10) ** (PRICE_DIGITS - PRICE_PLACES)  # the first price it cannot hold


def ledger_price(rub: Decimal) -> Decimal:
    """`rub` to the ledger's 4 decimal places, half away from zero, as PostgreSQL's numeric
    rounds (0.45555 is 0.4556)."""
    return rub.quantize(PRICE_QUANTUM, rounding=ROUND_HALF_UP)


def price_problem(rub: Decimal) -> str | None:
    """Why the ledger cannot hold `rub` as it is, or None: each billed price must be kept
    exactly, so a listed price is refused rather than rounded."""
    if not rub.is_finite():
        return "is not a number"
    if rub < 0:
        return "is negative"
    if rub >= PRICE_LIMIT:
        return f"is not below {PRICE_LIMIT:,}, the most the ledger holds"
    if rub != rub.quantize(PRICE_QUANTUM):
        return f"has more than {PRICE_PLACES} decimal places"
    return None


@dataclass(frozen=True)
class Price:
    """One row of the price list: from `valid_from` (a UTC day) until the next row of the same
    country and channel, a delivered message costs `rub`."""

    prefix: str  # the country's leading E.164 digits, as in the country table
    channel: Channel
    rub: Decimal
    valid_from: date


class UnknownPriceError(LookupError):
    """No SMS price holds for the country at that time, so nothing can be billed."""


@dataclass(frozen=True)
class PriceTable:
    prices: tuple[Price, ...]
    # (prefix, channel) -> days the price changed, ascending, and the price from each
    _index: dict[tuple[str, Channel], tuple[tuple[date, ...], tuple[Decimal, ...]]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        rows: dict[tuple[str, Channel], dict[date, Decimal]] = {}
        for price in self.prices:
            if not price.prefix.isdigit():
                raise ValueError(f"price of {price.channel}: prefix {price.prefix!r} is not digits")
            problem = price_problem(price.rub)
            if problem is not None:
                raise ValueError(f"price of {price.channel} in +{price.prefix} {problem}")
            versions = rows.setdefault((price.prefix, price.channel), {})
            if price.valid_from in versions:
                raise ValueError(
                    f"price of {price.channel} in +{price.prefix} from {price.valid_from} "
                    "is listed twice"
                )
            versions[price.valid_from] = price.rub
        index = {
            key: (tuple(sorted(versions)), tuple(versions[day] for day in sorted(versions)))
            for key, versions in rows.items()
        }
        object.__setattr__(self, "_index", index)

    @classmethod
    def of(cls, prices: Iterable[Price]) -> PriceTable:
        return cls(tuple(prices))

    def price(self, country: Country, channel: Channel, at: datetime | date) -> Decimal:
        """The price of one message delivered through `channel` to a number of `country` at
        `at` (a UTC time, or a UTC day), to the ledger's places. A social channel without a
        price of its own at that time costs `SOCIAL_SHARE_OF_SMS` of the SMS price, rounded
        (`ledger_price`)."""
        day = _utc_day(at)
        listed = self._listed(country.prefix, channel, day)
        if listed is not None:
            return listed
        sms = self._listed(country.prefix, Channel.SMS, day)
        if sms is None:
            raise UnknownPriceError(f"no SMS price for {country.name} (+{country.prefix}) on {day}")
        return sms if channel is Channel.SMS else ledger_price(sms * SOCIAL_SHARE_OF_SMS)

    def without_sms_price(self, countries: Iterable[Country]) -> tuple[Country, ...]:
        """The countries nothing delivered to could be billed, today or any day after: a price
        holds until its next version and never ends, so those with no SMS price listed at all.
        (One whose first price is still to come is priced from that day on.)"""
        return tuple(
            country
            for country in countries
            if self._listed(country.prefix, Channel.SMS, date.max) is None
        )

    def _listed(self, prefix: str, channel: Channel, day: date) -> Decimal | None:
        versions = self._index.get((prefix, channel))
        if versions is None:
            return None
        days, rubs = versions
        position = bisect_right(days, day)
        return rubs[position - 1] if position else None


def _utc_day(at: datetime | date) -> date:
    if isinstance(at, datetime):
        return (at.astimezone(UTC) if at.tzinfo else at).date()
    return at
