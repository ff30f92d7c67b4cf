"""Digit patterns stepped as automata agree with Python's regular expressions."""

from __future__ import annotations

import random
import re

import pytest

from pipelines.digit_patterns import DigitPattern, PatternSyntaxError
from tests.number_metadata import every_pattern, example_keys


@pytest.mark.parametrize(
    ("pattern", "digits", "matches"),
    [
        ("9\\d{9}", "9234567823", True),
        ("9\\d{9}", "923456782", False),
        ("9\\d{9}", "8234567823", False),
        ("(?:3[0-2]|4)5?6", "306", True),
        ("(?:3[0-2]|4)5?6", "4556", False),
        ("[13-5]\\d{1,3}", "5", False),
        ("[13-5]\\d{1,3}", "5123", True),
        ("[13-5]\\d{1,3}", "21", False),
        ("1(?:0|23)*", "1023230", True),
        ("1(?:0|23)+", "1", False),
        ("(?:)7", "7", True),
    ],
)
def test_a_pattern_matches_what_the_regular_expression_fully_matches(
    pattern: str, digits: str, matches: bool
) -> None:
    assert DigitPattern.compile(pattern).matches(digits) is matches
    assert bool(re.fullmatch(pattern, digits)) is matches


@pytest.mark.parametrize(
    "pattern",
    [
        "(?=1)2",
        "\\w",
        "[a-c]",
        "1.",
        "(12",
        "12)",
        "^1",
        "1\\d{2}?",  # lazy: re reads exactly two digits, not an optional pair
        "1+?",
        "1{ 2}",  # literal text to re
        "1{,2}",
        "1{2",
        "[5-3]",
        "[]",
        "\u0663",  # ARABIC-INDIC DIGIT THREE, a digit to str.isdigit
    ],
)
def test_syntax_beyond_digits_is_refused_not_misread(pattern: str) -> None:
    with pytest.raises(PatternSyntaxError):
        DigitPattern.compile(pattern)


def test_an_end_anchor_is_read_as_nothing_only_when_asked() -> None:
    with pytest.raises(PatternSyntaxError):
        DigitPattern.compile("([89]\\d{5})$|0")

    widened = DigitPattern.compile("([89]\\d{5})$|0", ignore_end_anchors=True)

    assert widened.matches("812345")
    assert widened.matches("0")


def test_every_pattern_of_phonenumbers_metadata_agrees_with_re_on_numbers_near_examples() -> None:
    rng = random.Random(5)
    samples = [str(key) for key in example_keys()]
    for pattern in every_pattern():
        # national prefix patterns may end in `$`, which the ranges read as nothing
        widened = pattern.replace("$", "")
        automaton = DigitPattern.compile(pattern, ignore_end_anchors=True)
        for digits in rng.sample(samples, 100):
            # the patterns read national numbers: try every tail of the key
            for start in range(4):
                tail = digits[start:]
                assert automaton.matches(tail) is bool(re.fullmatch(widened, tail)), (
                    pattern,
                    tail,
                )
