"""What a message's text costs and how it reads: the SMS parts it is sent as (3GPP TS 23.038
and TS 23.040), and the readings moderation matches promotion on, which see through invisible
characters and letters of the other script that look alike."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, cached_property

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
GSM7_EXTENSION_CHAR = re.compile("[" + re.escape("".join(sorted(GSM7_EXTENSION))) + "]")
SURROGATE_PAIR = re.compile("[\U00010000-\U0010ffff]")  # two UTF-16 units
# searched, not tested a character at a time: samples of a submission reach ten million
NOT_GSM7 = re.compile("[^" + re.escape("".join(sorted(GSM7_BASIC | GSM7_EXTENSION))) + "]")
# a run of letters with both a Latin and a Cyrillic one: «Cкидкa» typed with a Latin C and a.
# Tried only where a run starts, so a long run costs its length once, not its square.
MIXED_SCRIPT_WORD = re.compile(r"(?<![^\W\d_])(?=[^\W\d_]*[A-Za-z])(?=[^\W\d_]*[\u0400-\u04ff])")
# what no message may carry: control characters other than tab, new line and carriage return
# mean nothing in an SMS or a post, and the bidirectional embeddings, overrides and isolates
# show text in another order than it is stored and read by moderation (an advert written
# backwards after U+202E shows as an advert). The marks LRM, RLM and ALM reorder too (a digit
# group after an RLM moves: "12<RLM>34<RLM>56" shows as 125634), and so do the deprecated
# format controls U+206A to U+206F.
UNSHOWABLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u206f]"
)
UNSHOWABLE_RULE = (
    "control characters other than tab, new line and carriage return, and the bidirectional "
    "controls (U+061C, U+200E, U+200F, U+202A to U+202E, U+2066 to U+206F) are not allowed"
)


def refuse_unshowable(text: str) -> str:
    """`text`, or a ValueError naming the first character no message may carry."""
    found = UNSHOWABLE.search(text)
    if found is not None:
        raise ValueError(f"{UNSHOWABLE_RULE}: U+{ord(found.group()):04X} at {found.start()}")
    return text


def sms_parts(text: str) -> int:
    """How many SMS `text` is sent as: GSM 7-bit when every character has a 7-bit code,
    UCS-2 otherwise (any Cyrillic letter), counted in code units. A part never ends between
    the two septets of an extension character (an escape and the character) or the two units
    of a UTF-16 surrogate pair (an emoji): a phone could not read either half alone, so such
    a pair at a part's end moves whole to the next part."""
    units = septets(text)
    if units >= 0:
        single, part, pairs = GSM7_SINGLE, GSM7_PART, GSM7_EXTENSION_CHAR
    else:
        units, single, part, pairs = ucs2_units(text), UCS2_SINGLE, UCS2_PART, SURROGATE_PAIR
    if units <= single:
        return 1
    # a pair's first unit is at its character's index plus one for every pair before it
    pair_starts = {match.start() + before for before, match in enumerate(pairs.finditer(text))}
    if not pair_starts:
        return math.ceil(units / part)
    parts, at = 0, 0
    while at < units:
        end = at + part
        at = end - 1 if end - 1 in pair_starts else end
        parts += 1
    return parts


def septets(text: str) -> int:
    """GSM 7-bit septets, an extension character counting two; -1 when `text` needs UCS-2."""
    if NOT_GSM7.search(text):
        return -1
    return len(text) + sum(1 for _ in GSM7_EXTENSION_CHAR.finditer(text))


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


# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt), the unassigned ones
# included: a font shows nothing for them, and one assigned later would be no safer. Most are
# format characters (category Cf), all of which are dropped too.
IGNORABLE = frozenset(
    chr(code)
    for first, last in (
        (0x00AD, 0x00AD),
        (0x034F, 0x034F),
        (0x061C, 0x061C),
        (0x115F, 0x1160),
        (0x17B4, 0x17B5),
        (0x180B, 0x180F),
        (0x200B, 0x200F),
        (0x202A, 0x202E),
        (0x2060, 0x206F),
        (0x3164, 0x3164),
        (0xFE00, 0xFE0F),
        (0xFEFF, 0xFEFF),
        (0xFFA0, 0xFFA0),
        (0xFFF0, 0xFFF8),
        (0x1BCA0, 0x1BCA3),
        (0x1D173, 0x1D17A),
        (0xE0000, 0xE0FFF),
    )
    for code in range(first, last + 1)
)
# combining marks that take no room of their own: non-spacing (a stress mark, an accent) and
# enclosing ones
MARKS = frozenset({"Mn", "Me"})
# the marks the rules spell: й and ё are и and е with a breve and a diaeresis once decomposed
SPELT_MARKS = frozenset({"и\u0306", "И\u0306", "е\u0308", "Е\u0308"})


def _hidden(char: str) -> bool:
    return char in IGNORABLE or unicodedata.category(char) == "Cf"


def _altered(char: str) -> bool:
    """Whether `visible_text` drops `char`, joins it to the character before it or reads it
    otherwise than as written."""
    if char in IGNORABLE or unicodedata.category(char) in ("Cf", "Mn", "Mc", "Me"):
        return True
    return not unicodedata.is_normalized("NFKD", char) and char not in "йЙёЁ"


@cache
def _altered_chars() -> frozenset[str]:
    """Every character `_altered`, so that a text with none (most) is found so at C speed
    and taken as it is. Built once, on first use: such characters lie in planes 0 to 2 and
    in the tags and selectors of plane 14 alone."""
    planes = (range(0xD800), range(0xE000, 0x30000), range(0xE0000, 0xE1000))
    return frozenset(chr(code) for codes in planes for code in codes if _altered(chr(code)))


def _plain(cluster: str) -> str:
    """A character and the marks that follow it as matching reads them: in compatibility form
    (NFKD, so «ＳＡＬＥ» and «𝐒𝐀𝐋𝐄» read SALE), without its marks but those of й and ё,
    composed again (NFC)."""
    kept, base = [], ""
    for char in unicodedata.normalize("NFKD", cluster):
        if unicodedata.category(char) not in MARKS:
            kept.append(char)
            base = char
        elif base + char in SPELT_MARKS:
            kept.append(char)
    return unicodedata.normalize("NFC", "".join(kept))


def visible_text(text: str) -> tuple[str, Sequence[int], Sequence[int]]:
    """`text` as a reader sees it, for a regular expression to match: without the characters
    that show nothing yet split a word apart (Unicode format characters, category Cf:
    zero-width spaces and joiners, soft hyphens, direction marks; and the other
    default-ignorable ones, `IGNORABLE`), without accents and other combining marks but
    those of й and ё (a stress mark in «Ски́дка», «ѝ» for «и», text in NFD), and in
    compatibility form (full-width and mathematical letters). With, for every character,
    where what it reads starts and ends in `text`."""
    altered = _altered_chars()
    if altered.isdisjoint(text):
        return text, range(len(text)), range(1, len(text) + 1)
    clusters: list[tuple[int, list[str]]] = []  # where each starts, its character and marks
    ends: list[int] = []
    for at, char in enumerate(text):
        if char in altered and _hidden(char):
            continue
        if clusters and char in altered and unicodedata.category(char)[0] == "M":
            clusters[-1][1].append(char)
            ends[-1] = at + 1
        else:
            clusters.append((at, [char]))
            ends.append(at + 1)
    pieces: list[str] = []
    starts_read: list[int] = []
    ends_read: list[int] = []
    for (start, chars), end in zip(clusters, ends, strict=True):
        read = chars[0] if len(chars) == 1 and chars[0] not in altered else _plain("".join(chars))
        pieces.append(read)
        starts_read.extend([start] * len(read))
        ends_read.extend([end] * len(read))
    return "".join(pieces), tuple(starts_read), tuple(ends_read)
