from __future__ import annotations

import phonenumbers
import polars as pl
import pytest

from api.checks import _masks
from ownership.countries import Country, CountryTable, UnknownCountryError
from ownership.numbers import (
    InvalidNumberError,
    NumberProblem,
    e164_to_key,
    key_to_e164,
    mask,
    parse_number,
    parse_sent_number,
)

RU_MOBILE = "+79234567823"
KZ_MOBILE = "+77012345678"
BY_MOBILE = "+375291234567"


def test_a_valid_number_parses_to_e164_and_its_key() -> None:
    number = parse_number("+7 (923) 456-78-23")

    assert number.e164 == RU_MOBILE
    assert number.key == 79234567823


def test_garbage_is_rejected_with_its_reason() -> None:
    with pytest.raises(InvalidNumberError, match="not a valid phone number") as caught:
        parse_number("call me maybe")

    assert caught.value.problem is NumberProblem.UNPARSEABLE


def test_a_number_no_operator_could_issue_is_invalid() -> None:
    with pytest.raises(InvalidNumberError) as caught:
        parse_number("+70000000000")

    assert caught.value.problem is NumberProblem.INVALID


@pytest.mark.parametrize(
    "text", ["+7 923 456-78-23 ext 5", "+79234567823;ext=5", "+7 923 456 78 23 x3"]
)
def test_a_number_with_an_extension_is_refused_not_answered_without_it(text: str) -> None:
    with pytest.raises(InvalidNumberError, match="has an extension") as caught:
        parse_number(text)

    assert caught.value.problem is NumberProblem.EXTENSION


def test_keys_round_trip() -> None:
    assert key_to_e164(e164_to_key(BY_MOBILE)) == BY_MOBILE
    with pytest.raises(InvalidNumberError):
        e164_to_key("79234567823")
    with pytest.raises(ValueError):
        key_to_e164(0)


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        (RU_MOBILE, "+792* *** ** 23"),  # country 7, operator 92(3)
        (BY_MOBILE, "+37529*** ** 67"),  # country 375, operator 29
        ("+380501234567", "+38050*** ** 67"),
        ("+4915112345678", "+4915* *** *** 78"),
        ("+12135551234", "+121* *** ** 34"),
        ("+2906123", "+2*** * 23"),  # Saint Helena, seven digits: three stay hidden
    ],
)
def test_masking_keeps_the_country_the_operator_and_the_last_two_digits(
    number: str, masked: str
) -> None:
    assert mask(number) == masked


def test_a_bulk_masks_each_number_as_the_core_does() -> None:
    examples = [
        phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        for region in sorted(phonenumbers.SUPPORTED_REGIONS)
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)
        if (example := phonenumbers.example_number_for_type(region, kind)) is not None
    ]

    masked = _masks(pl.Series([int(number[1:]) for number in examples], dtype=pl.Int64))

    assert masked.to_list() == [mask(number) for number in examples]


TABLE = CountryTable(
    [
        Country("RU", "Russia", "7", 59, None),
        Country("KZ", "Kazakhstan", "77", 4.8, 2.5),
        Country("BY", "Belarus", "375", 3.2, 2.7),
    ]
)


def test_the_longest_prefix_wins() -> None:
    assert TABLE.country_of(RU_MOBILE).iso == "RU"
    assert TABLE.country_of(KZ_MOBILE).iso == "KZ"
    assert TABLE.country_of(BY_MOBILE).iso == "BY"


def test_a_number_outside_the_table_is_an_error() -> None:
    with pytest.raises(UnknownCountryError):
        TABLE.country_of("+4915112345678")


def test_a_table_refuses_duplicate_prefixes() -> None:
    with pytest.raises(ValueError, match="listed twice"):
        CountryTable([Country("RU", "Russia", "7", 1, None), Country("XX", "X", "7", 1, None)])


@pytest.mark.parametrize(
    "text", ["+79234567823\udc80", "+7923\x004567823", "+79234567823\ue000", "+79234567823\x1c"]
)
def test_a_sent_number_holding_a_control_or_what_is_no_text_is_refused(text: str) -> None:
    with pytest.raises(InvalidNumberError, match="control character or what is no text") as caught:
        parse_sent_number(text)

    assert caught.value.problem is NumberProblem.NOT_TEXT


@pytest.mark.parametrize(
    "text",
    [
        "\u202a+7 923 456 78 23\u202c",  # as a phone's contacts app wraps a copied number
        "\ufeff+79234567823",
        "+79234567823\u200b",
        "+79234567823\r\n",
    ],
)
def test_direction_marks_and_other_signs_that_show_nothing_are_read_past(text: str) -> None:
    assert parse_sent_number(text).e164 == RU_MOBILE
    assert parse_number(text).e164 == RU_MOBILE


def test_no_break_spaces_and_hyphens_between_digits_are_still_read() -> None:
    assert parse_number("+7\u00a0923\u00a0456\u201178\u201123").e164 == RU_MOBILE
