"""What a message's text costs and how it reads: the SMS parts it is sent as (3GPP TS 23.038
and TS 23.040), and the readings moderation matches promotion on, which see through invisible
characters and letters of the other script that look alike."""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property

# SMS sizes (3GPP TS 23.038 and TS 23.040): a message carries 140 octets, i.e. 160 GSM 7-bit
# characters or 70 UCS-2 code units; a part of a concatenated message loses 6 octets to its
# header, leaving 153 or 67.
GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")  # each is sent as an escape and a character
# a run of letters with both a Latin and a Cyrillic one: «Cкидкa» typed with a Latin C and a.
# Tried only where a run starts, so a long run costs its length once, not its square.
MIXED_SCRIPT_WORD = re.compile(r"(?<![^\W\d_])(?=[^\W\d_]*[A-Za-z])(?=[^\W\d_]*[\u0400-\u04ff])")


def sms_parts(text: str) -> int:
    """How many SMS `text` is sent as: GSM 7-bit when every character has a 7-bit code,
    UCS-2 otherwise (any Cyrillic letter), counted in code units."""
    units = septets(text)
    if units >= 0:
        single, part = GSM7_SINGLE, GSM7_PART
    else:
        units, single, part = ucs2_units(text), UCS2_SINGLE, UCS2_PART
    return 1 if units <= single else math.ceil(units / part)


def septets(text: str) -> int:
    """GSM 7-bit septets, an extension character counting two; -1 when `text` needs UCS-2."""
    if not all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text):
        return -1
    return sum(2 if char in GSM7_EXTENSION else 1 for char in text)


def ucs2_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class Lookalikes:
    """Latin and Cyrillic letters that look alike, paired by position. Promotion is matched
    on each script's reading of a text as well as on the text, so «Cкидкa» typed with a Latin
    C and a reads «Скидка»; the text itself is never changed."""

    latin: str = ""
    cyrillic: str = ""

    def __post_init__(self) -> None:
        if len(self.latin) != len(self.cyrillic):
            raise ValueError("look-alike letters come in pairs: as many Latin as Cyrillic")
        for letters in (self.latin, self.cyrillic):
            if len(set(letters)) != len(letters):
                raise ValueError(f"a look-alike letter repeats in {letters!r}")

    @cached_property
    def _disguised_word(self) -> re.Pattern[str]:
        """A word of four letters or more made only of look-alike letters: «ѕаlе» in Cyrillic
        letters may be a Latin word in disguise, though no word mixes the scripts."""
        letters = re.escape(self.latin + self.cyrillic)
        return re.compile(rf"(?<![^\W\d_])[{letters}]{{4,}}(?![^\W\d_])")

    @cached_property
    def _tables(self) -> tuple[dict[int, int], ...]:
        if not self.latin:
            return ()
        return (
            str.maketrans(self.latin, self.cyrillic),
            str.maketrans(self.cyrillic, self.latin),
        )

    def readings(self, text: str) -> tuple[str, ...]:
        """`text`, then its Cyrillic and its Latin reading where they differ from it. Each
        keeps `text`'s length, so an offset in one is an offset in all. Only a text with a
        word that mixes the scripts, or one spelt in look-alike letters alone, is read again:
        the readings would triple what every notification costs."""
        readings = [text]
        if not self.latin or not (
            MIXED_SCRIPT_WORD.search(text) or self._disguised_word.search(text)
        ):
            return tuple(readings)
        for table in self._tables:
            reading = text.translate(table)
            if reading not in readings:
                readings.append(reading)
        return tuple(readings)


# Unicode's default-ignorable code points outside category Cf: a combining grapheme joiner,
# fillers and variation selectors, which show nothing either (DerivedCoreProperties.txt)
IGNORABLE = frozenset(
    chr(code)
    for first, last in (
        (0x034F, 0x034F),
        (0x115F, 0x1160),
        (0x17B4, 0x17B5),
        (0x180B, 0x180F),
        (0x3164, 0x3164),
        (0xFE00, 0xFE0F),
        (0xFFA0, 0xFFA0),
        (0xE0100, 0xE01EF),
    )
    for code in range(first, last + 1)
)


def _shows(char: str) -> bool:
    return char not in IGNORABLE and unicodedata.category(char) != "Cf"


def visible_text(text: str) -> tuple[str, tuple[int, ...]]:
    """`text` without the characters that show nothing yet split a word apart for a regular
    expression: Unicode format characters (category Cf: zero-width spaces and joiners, soft
    hyphens, direction marks) and the other default-ignorable ones (`IGNORABLE`); with the
    offset in `text` of every character kept."""
    kept = tuple(i for i, char in enumerate(text) if _shows(char))
    if len(kept) == len(text):
        return text, kept
    return "".join(text[i] for i in kept), kept
