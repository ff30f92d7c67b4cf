"""The valid number ranges (data/number_ranges.csv) say what phonenumbers says, number by number."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable

import phonenumbers
import pytest

from ownership.numbers import InvalidNumberError, parse_number
from pipelines.number_ranges import KeyRange, Verdict, country_ranges, file_version, merged
from pipelines.reference import load_number_ranges
from tests.number_metadata import example_keys

# the countries of the brief's audience table (DESIGN §11)
AUDIENCE_CODES = (7, 380, 375, 1, 90, 994, 998, 49, 373, 996, 374)

RU_MOBILE = 79234567823
RU_ALL_ZEROS = 70000000000  # well-formed E.164, but no operator issues it
SPB_LANDLINE = 78122345678  # +7 812: the leading 8 is the city's, not a national prefix
DE_WITH_NATIONAL_PREFIX = 490301234567  # +49 0 30…: the 0 is dialled at home, not in E.164
BY_TOLL_FREE = 375800123456  # +375 800: Belarus's national prefix pattern may apply ('ask')


class ShippedRanges:
    def __init__(self, ranges: list[KeyRange]) -> None:
        self.ranges = ranges
        self.lows = [found.low for found in ranges]

    def verdict(self, key: int) -> Verdict:
        at = bisect.bisect_right(self.lows, key) - 1
        if at >= 0 and key <= self.ranges[at].high:
            return self.ranges[at].verdict
        return Verdict.INVALID

    def disagreements(self, keys: Iterable[int]) -> list[int]:
        """The keys whose verdict is not phonenumbers' ('ask' leaves it to phonenumbers)."""
        return [
            key
            for key in keys
            if (verdict := self.verdict(key)) is not Verdict.ASK
            and (verdict is Verdict.VALID) is not phonenumbers_says_valid(key)
        ]


@pytest.fixture(scope="module")
def shipped() -> ShippedRanges:
    return ShippedRanges(load_number_ranges())


def phonenumbers_says_valid(key: int) -> bool:
    try:
        return parse_number(f"+{key}").key == key
    except InvalidNumberError:
        return False


def test_the_shipped_ranges_come_from_the_installed_phonenumbers() -> None:
    assert file_version() == phonenumbers.__version__


def test_the_shipped_ranges_are_sorted_and_disjoint(shipped: ShippedRanges) -> None:
    ranges = shipped.ranges
    assert all(found.low <= found.high for found in ranges)
    assert all(before.high < after.low for before, after in itertools.pairwise(ranges))


@pytest.mark.parametrize("country_code", [7, 375, 49])
def test_the_shipped_ranges_are_what_the_generator_makes_now(
    shipped: ShippedRanges, country_code: int
) -> None:
    code = str(country_code)
    shipped_here = [found for found in shipped.ranges if str(found.low).startswith(code)]

    assert shipped_here == list(merged(country_ranges(country_code)))


@pytest.mark.parametrize(
    ("key", "verdict"),
    [
        (RU_MOBILE, Verdict.VALID),
        (RU_ALL_ZEROS, Verdict.INVALID),
        (SPB_LANDLINE, Verdict.VALID),
        (DE_WITH_NATIONAL_PREFIX, Verdict.INVALID),
        (BY_TOLL_FREE, Verdict.ASK),
    ],
)
def test_named_numbers_get_their_verdict(
    shipped: ShippedRanges, key: int, verdict: Verdict
) -> None:
    assert shipped.verdict(key) is verdict
    if verdict is not Verdict.ASK:
        assert phonenumbers_says_valid(key) is (verdict is Verdict.VALID)


def test_numbers_near_every_example_get_phonenumbers_verdict(shipped: ShippedRanges) -> None:
    assert shipped.disagreements(example_keys(AUDIENCE_CODES)) == []


def test_numbers_at_the_edges_of_the_ranges_get_phonenumbers_verdict(
    shipped: ShippedRanges,
) -> None:
    edges = {
        key
        for found in shipped.ranges[::7]
        for key in (found.low - 1, found.low, found.high, found.high + 1)
        if 7 <= len(str(key)) <= 15
    }
    assert shipped.disagreements(sorted(edges)) == []
