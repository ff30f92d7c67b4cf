"""Countries of numbers and their social-network audience (DESIGN §11).

The table itself is data (`data/countries.csv`); the shell reads it and hands the rows in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

# DESIGN §11: VK 107 M and OK 71 M monthly users; their ratio splits the social audience of a
# country whose table row lacks one of the two figures.
GLOBAL_VK_USERS_M = 107.0
GLOBAL_OK_USERS_M = 71.0


@dataclass(frozen=True)
class Country:
    iso: str
    name: str
    # The leading E.164 digits that place a number in this country. Kazakhstan's `77` is
    # longer than Russia's `7`, and the longest prefix wins.
    prefix: str
    # Monthly users in millions, from the product brief; None where the brief has no figure.
    vk_monthly_users_m: float | None
    ok_monthly_users_m: float | None

    @property
    def vk_share_of_social(self) -> float:
        """VK's part of the country's social audience, VK : OK; where the brief gives only one
        of the two figures, the networks' global ratio."""
        vk, ok = self.vk_monthly_users_m, self.ok_monthly_users_m
        if vk is None or ok is None:
            vk, ok = GLOBAL_VK_USERS_M, GLOBAL_OK_USERS_M
        return vk / (vk + ok) if vk + ok else 0.0


class UnknownCountryError(LookupError):
    pass


class CountryTable:
    """Countries keyed by E.164 prefix, answering by longest prefix."""

    def __init__(self, countries: Iterable[Country]) -> None:
        self._by_prefix: dict[str, Country] = {}
        for country in countries:
            if not country.prefix.isdigit():
                raise ValueError(f"country {country.iso}: prefix {country.prefix!r} is not digits")
            if country.prefix in self._by_prefix:
                raise ValueError(f"prefix {country.prefix} is listed twice")
            self._by_prefix[country.prefix] = country
        self._longest = max((len(prefix) for prefix in self._by_prefix), default=0)

    def __iter__(self) -> Iterator[Country]:
        return iter(self._by_prefix.values())

    def __len__(self) -> int:
        return len(self._by_prefix)

    def country_of(self, e164: str) -> Country:
        """The country of an E.164 number, or `UnknownCountryError` outside the table."""
        digits = e164.lstrip("+")
        for length in range(min(self._longest, len(digits)), 0, -1):
            country = self._by_prefix.get(digits[:length])
            if country is not None:
                return country
        raise UnknownCountryError(f"no country in the table for {e164[:4]}…")
