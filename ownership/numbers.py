"""Phone numbers: parsing, the int64 key used inside the pipeline, masking, country.

Inside the pipeline a number is the integer of its E.164 digits (`+79234567823` →
79234567823): at most 15 digits, so it always fits a signed 64-bit integer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from unicodedata import category

import phonenumbers

MAX_E164_DIGITS = 15
# Unicode's control, surrogate, private-use and unassigned categories; not its format
# characters (Cf: the direction marks a phone's contacts app wraps a copied number in, a BOM,
# a soft hyphen), which phonenumbers skips as a reader's eye does
_NOT_TEXT_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn"})
# the country calling codes phonenumbers knows, 1 to 3 digits; no code is the start of another
COUNTRY_CODES: frozenset[int] = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


class NumberProblem(StrEnum):
    # The text could not be read as a phone number at all.
    UNPARSEABLE = "unparseable"
    # The text reads as a number, but no operator could have issued it.
    INVALID = "invalid"
    # The text names an extension behind the number (`ext 5`): a switchboard's line, which no
    # SMS or social account reaches, and dropping it would answer for another phone.
    EXTENSION = "has an extension"
    # A client's text holds what is no text at all (a control character, a lone surrogate, a
    # private-use or unassigned code point), which phonenumbers would skip: a mangled request.
    NOT_TEXT = "holds a control character or what is no text"


class InvalidNumberError(ValueError):
    """Raised for text that is not a valid phone number, with the reason why."""

    def __init__(self, text: str, problem: NumberProblem) -> None:
        self.text = text
        self.problem = problem
        shown = text if len(text) <= 32 else text[:29] + "..."
        super().__init__(f"{shown!r} is not a valid phone number ({problem.value})")


@dataclass(frozen=True, order=True)
class PhoneNumber:
    """A valid number in E.164 form."""

    e164: str

    @property
    def key(self) -> int:
        return e164_to_key(self.e164)

    @property
    def masked(self) -> str:
        return mask(self.e164)


def parse_number(text: str, default_region: str | None = None) -> PhoneNumber:
    """Parse `text` into a valid number, or raise `InvalidNumberError` saying why.

    Without `default_region` the text must carry its country code (`+7…`); messy spacing,
    dashes and brackets are accepted.
    """
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as error:
        raise InvalidNumberError(text, NumberProblem.UNPARSEABLE) from error
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidNumberError(text, NumberProblem.INVALID)
    if parsed.extension:
        raise InvalidNumberError(text, NumberProblem.EXTENSION)
    return PhoneNumber(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def parse_sent_number(text: str) -> PhoneNumber:
    """`parse_number` of a number a client sent (the API, the command line): also refused when
    the text holds a control character (a tab or line break aside) or what is no text, which
    `parse_number` would skip and answer for the digits around it."""
    if any(category(char) in _NOT_TEXT_CATEGORIES and char not in "\t\n\r" for char in text):
        raise InvalidNumberError(text, NumberProblem.NOT_TEXT)
    return parse_number(text)


def e164_to_key(e164: str) -> int:
    """`+79234567823` → 79234567823. The text must already be E.164."""
    digits = e164[1:] if e164.startswith("+") else ""
    if not digits.isdigit() or len(digits) > MAX_E164_DIGITS or digits[0] == "0":
        raise InvalidNumberError(e164, NumberProblem.UNPARSEABLE)
    return int(digits)


def key_to_e164(key: int) -> str:
    """79234567823 → `+79234567823`."""
    if key <= 0 or key >= 10**MAX_E164_DIGITS:
        raise ValueError(f"{key} is not an E.164 number key")
    return f"+{key}"


def country_code_length(digits: str) -> int:
    """How many of a number's leading digits (E.164, without the `+`) are its country code: 1
    to 3, by the codes phonenumbers knows; 1 for none."""
    for size in (1, 2):
        if int(digits[:size]) in COUNTRY_CODES:
            return size
    return 3 if int(digits[:3]) in COUNTRY_CODES else 1


def mask(e164: str) -> str:
    """The form shown in re-verification: `+79234567823` → `+792* *** ** 23`.

    The country code and the first two national digits stay (they tell the person which
    operator: `+37529*** ** 67`, `+38050*** ** 67`), the last two stay (they tell the number);
    the rest is starred and grouped the way the number is read aloud. At least three digits
    stay hidden: numbers shorter than eight digits keep only their first digit in front.
    """
    digits = e164.lstrip("+")
    if not digits.isdigit() or len(digits) < 6:
        raise InvalidNumberError(e164, NumberProblem.UNPARSEABLE)
    shown = country_code_length(digits) + 2 if len(digits) >= 8 else 1
    head, tail = digits[: min(shown, len(digits) - 5)], digits[-2:]
    hidden = len(digits) - len(head) - len(tail)
    groups = [1] if hidden > 5 else []
    rest = hidden - sum(groups)
    groups += [3, rest - 3] if rest > 3 else [rest]
    stars = " ".join("*" * size for size in groups if size)
    first, _, others = stars.partition(" ")
    return f"+{head}{first} {others} {tail}".replace("  ", " ")
