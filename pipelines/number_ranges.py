"""The valid numbers of every country as ranges of int64 keys, from phonenumbers' metadata.

The batch reads 10^8 phone texts and cannot ask phonenumbers about each one. A strict E.164
text (`+79234567823`) becomes its key in SQL; whether the number is valid is then a lookup in
sorted, disjoint ranges of keys, made here once from the metadata of the installed phonenumbers.

A key is valid when `phonenumbers.parse("+<key>")` is a valid number (`is_valid_number`) whose
E.164 form is that same key. The ranges follow phonenumbers' own steps for such a text:
- parsing strips a national prefix (the `0` of `+49 0 30 …`) when the rest is still a possible
  number, and the key then names another number: such keys are left out of the ranges (the
  batch mends them to the number phonenumbers reads, pipelines.ingest.check_numbers);
- a country code shared by several regions (`+7`, `+1`) goes to the first region whose leading
  digits match, or whose patterns accept the number;
- that region's general pattern and one of its number types must accept the number.

Every pattern is stepped as an automaton (pipelines.digit_patterns), so a whole block of keys
that share a prefix gets one verdict without listing them. Where a national prefix pattern is
beyond these steps (capturing groups, transformations, alternatives of different lengths: 18
countries, Argentina and Belarus among them), the keys it could strip are marked `ask`, and the
batch asks phonenumbers about each such number.

    python -m pipelines.number_ranges   # rewrites data/number_ranges.csv
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, REGION_CODE_FOR_NON_GEO_ENTITY, PhoneMetadata

from pipelines.digit_patterns import DIGITS, DigitPattern, States
from pipelines.paths import DATA_DIR

RANGES_FILE = DATA_DIR / "number_ranges.csv"
# the generated file's first line names the phonenumbers whose metadata it holds
VERSION_LINE = "# phonenumbers {version}"
# the keys of strict E.164 texts: 7 to 15 digits (pipelines/sql/checks/macros.sql, e164_key)
MIN_DIGITS, MAX_DIGITS = 7, 15
# phonenumbers' shortest national significant number
MIN_NATIONAL = 2
# the number types `_number_type_helper` tries before mobile, which it tries only where the
# region's mobile and fixed-line patterns differ (`_Country._region`)
TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
)


class Verdict(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    # the national prefix pattern is beyond the automata: phonenumbers decides
    ASK = "ask"


@dataclass(frozen=True)
class KeyRange:
    low: int
    high: int
    verdict: Verdict


class _Patterns:
    """The automata one country code needs, numbered; a walk keeps one state set for each."""

    def __init__(self) -> None:
        self.automata: list[DigitPattern] = []

    def add(self, pattern: str, ignore_end_anchors: bool = False) -> int:
        self.automata.append(DigitPattern.compile(pattern, ignore_end_anchors))
        return len(self.automata) - 1


def region_metadata(country_code: int, region: str) -> PhoneMetadata:
    """The metadata of a region (`001` for a non-geographic country code such as +800)."""
    if region == REGION_CODE_FOR_NON_GEO_ENTITY:
        found = PhoneMetadata.metadata_for_nongeo_region(country_code)
    else:
        found = PhoneMetadata.metadata_for_region(region)
    if found is None:
        raise ValueError(f"phonenumbers has no metadata for {region} (+{country_code})")
    return found


def _desc_matcher(
    patterns: _Patterns, desc: phonenumbers.PhoneNumberDesc | None, length: int
) -> int | None:
    """`_is_number_matching_desc` for numbers of one length: an automaton, or None for never."""
    if desc is None or not desc.national_number_pattern:
        return None
    if desc.possible_length and length not in desc.possible_length:
        return None
    return patterns.add(desc.national_number_pattern)


def _fixed_length(pattern: str) -> int | None:
    """The length of every match of a national prefix pattern of digits and classes, or None."""
    if set(pattern) & set("()|?*+{$"):
        return None
    return len(re.sub(r"\[[^]]*\]", "0", pattern).replace("\\d", "0"))


@dataclass(frozen=True)
class _Region:
    claim_prefix: int | None  # leading digits, matched as a prefix
    general: int | None
    types: tuple[int, ...]


class _Country:
    """The verdict on every national number of one length under one country code."""

    def __init__(self, country_code: int, length: int) -> None:
        self.patterns = _Patterns()
        regions = COUNTRY_CODE_TO_REGION_CODE[country_code]
        self.regions = [self._region(country_code, region, length) for region in regions]
        self.shared = len(regions) > 1
        main = region_metadata(country_code, regions[0])
        self.prefix: int | None = None
        self.prefix_exact = False
        self.after_prefix: int | None = None
        self.general_pattern: int | None = None
        prefix = main.national_prefix_for_parsing
        if prefix:
            self._national_prefix(main, prefix, length)

    def _region(self, country_code: int, region: str, length: int) -> _Region:
        metadata = region_metadata(country_code, region)
        general = _desc_matcher(self.patterns, metadata.general_desc, length)
        types = [_desc_matcher(self.patterns, getattr(metadata, name), length) for name in TYPES]
        if not metadata.same_mobile_and_fixed_line_pattern:
            types.append(_desc_matcher(self.patterns, metadata.mobile, length))
        claim = None
        if metadata.leading_digits is not None:
            claim = self.patterns.add(metadata.leading_digits)
        return _Region(claim, general, tuple(index for index in types if index is not None))

    def _national_prefix(self, main: PhoneMetadata, prefix: str, length: int) -> None:
        """`_maybe_strip_national_prefix_carrier_code` as automata, where it can be."""
        fixed = _fixed_length(prefix)
        desc = main.general_desc
        general = desc.national_number_pattern if desc else None
        if fixed and not main.national_prefix_transform_rule and desc and general:
            lengths, local = desc.possible_length, desc.possible_length_local_only
            rest = length - fixed
            # the caller keeps the stripped number unless it is too short, local only or of an
            # impossible length (`_test_number_length`)
            kept = rest in lengths or (rest > max(lengths) and rest not in local)
            if kept:
                self.prefix = self.patterns.add(prefix)
                self.prefix_exact = True
                self.general_pattern = self.patterns.add(general)
                self.after_prefix = self.patterns.add(f"\\d{{{fixed}}}(?:{general})")
            return
        # beyond these steps: where it may match (`$` read as nothing widens that), phonenumbers
        # judges
        self.prefix = self.patterns.add(prefix, ignore_end_anchors=True)

    def verdict(self, states: tuple[States, ...], prefixed: frozenset[int]) -> Verdict:
        """The verdict on one whole number, from the automata's states after its digits."""

        def full(index: int | None) -> bool:
            return index is not None and self.patterns.automata[index].accepts(states[index])

        def valid_in(region: _Region) -> bool:
            return full(region.general) and any(full(index) for index in region.types)

        chosen = self.regions[0]
        if self.shared:
            for region in self.regions:
                if region.claim_prefix is not None:
                    if region.claim_prefix in prefixed:
                        break
                elif valid_in(region):
                    break
            else:
                return Verdict.INVALID
            chosen = region
        if not valid_in(chosen):
            return Verdict.INVALID
        if self.prefix is None or self.prefix not in prefixed:
            return Verdict.VALID
        if not self.prefix_exact:
            return Verdict.ASK
        # parsing strips the prefix unless the number was viable and the rest is not
        kept_whole = full(self.general_pattern) and not full(self.after_prefix)
        return Verdict.VALID if kept_whole else Verdict.INVALID

    def prefix_automata(self) -> frozenset[int]:
        """The automata matched as a prefix: once they accept, the rest of the number is free."""
        claims = {region.claim_prefix for region in self.regions if region.claim_prefix is not None}
        return frozenset(claims | ({self.prefix} if self.prefix is not None else set()))


# where the automata are after some digits: one state set each, and the prefix automata that
# have matched along the way
Position = tuple[tuple[States, ...], frozenset[int]]


class _Walk:
    """The digits of one country code and length, walked as a tree of shared prefixes."""

    def __init__(self, country: _Country) -> None:
        self.country = country
        self.automata = country.patterns.automata
        self.prefix_automata = country.prefix_automata()
        self._shared: dict[tuple[Position, int], str] = {}

    def start(self) -> Position:
        states = tuple(automaton.start for automaton in self.automata)
        # leading digits may match nothing at all; a national prefix that matches nothing
        # strips nothing, so it counts only once a digit is read
        claims = frozenset(
            region.claim_prefix
            for region in self.country.regions
            if region.claim_prefix is not None
            and self.automata[region.claim_prefix].accepts(states[region.claim_prefix])
        )
        return self._forget(states, claims), claims

    def step(self, position: Position, digit: int) -> Position:
        states, prefixed = position
        stepped = tuple(
            automaton.step(state, digit)
            for automaton, state in zip(self.automata, states, strict=True)
        )
        matched = frozenset(
            index for index in self.prefix_automata if self.automata[index].accepts(stepped[index])
        )
        return self._forget(stepped, matched), prefixed | matched

    def shared(self, position: Position, left: int) -> str:
        """The verdict on every number `left` digits below `position`, or "" where they differ.

        Kept per position: the numbers below equal positions are alike, which is what makes
        whole blocks of numbers cost one visit.
        """
        key = (position, left)
        found = self._shared.get(key)
        if found is None:
            if left == 0:
                found = self.country.verdict(*position)
            else:
                verdicts = {self.shared(self.step(position, d), left - 1) for d in DIGITS}
                found = verdicts.pop() if len(verdicts) == 1 else ""
            self._shared[key] = found
        return found

    def ranges(self, position: Position, digits: str, left: int) -> Iterator[KeyRange]:
        """The ranges below `position`, whose digits so far are `digits`."""
        verdict = self.shared(position, left)
        if verdict:
            if verdict != Verdict.INVALID:
                low = int(digits + "0" * left)
                yield KeyRange(low, low + 10**left - 1, Verdict(verdict))
            return
        for digit in DIGITS:
            yield from self.ranges(self.step(position, digit), digits + str(digit), left - 1)

    @staticmethod
    def _forget(states: tuple[States, ...], matched: frozenset[int]) -> tuple[States, ...]:
        """Empty the states of the prefix automata that matched: they need not run on."""
        if not matched:
            return states
        return tuple(frozenset() if at in matched else state for at, state in enumerate(states))


def country_ranges(country_code: int) -> Iterator[KeyRange]:
    """The ranges of keys under one country code, in order, each with one verdict."""
    code = str(country_code)
    for length in range(max(MIN_NATIONAL, MIN_DIGITS - len(code)), MAX_DIGITS - len(code) + 1):
        walk = _Walk(_Country(country_code, length))
        yield from walk.ranges(walk.start(), code, length)


def merged(ranges: Iterator[KeyRange]) -> Iterator[KeyRange]:
    pending: KeyRange | None = None
    for found in ranges:
        if pending and pending.verdict == found.verdict and pending.high + 1 == found.low:
            pending = KeyRange(pending.low, found.high, found.verdict)
            continue
        if pending:
            yield pending
        pending = found
    if pending:
        yield pending


def all_ranges() -> list[KeyRange]:
    """Every country's ranges, sorted by key."""
    found = [
        found
        for country_code in sorted(COUNTRY_CODE_TO_REGION_CODE)
        for found in merged(country_ranges(country_code))
    ]
    return sorted(found, key=lambda found: found.low)


def write(ranges: list[KeyRange], target: Path) -> None:
    header = (
        VERSION_LINE.format(version=phonenumbers.__version__),
        "# Valid phone numbers as ranges of int64 keys (the digits of E.164), low and high",
        "# included; 'ask': only phonenumbers can judge. Generated by",
        "# `python -m pipelines.number_ranges` from phonenumbers' metadata: do not edit.",
        "# Column contract: data/schemas/number_ranges.yaml",
        "low,high,verdict",
    )
    rows = (f"{found.low},{found.high},{found.verdict.value}" for found in ranges)
    target.write_text("\n".join((*header, *rows)) + "\n", encoding="utf-8")


def file_version(path: Path = RANGES_FILE) -> str:
    """The phonenumbers version a ranges file was generated from."""
    with path.open(encoding="utf-8") as file:
        first = file.readline().strip()
    prefix = VERSION_LINE.format(version="")
    return first[len(prefix) :] if first.startswith(prefix) else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=RANGES_FILE,
        help=f"the file to write (default {RANGES_FILE}); commit it with the phonenumbers pin",
    )
    args = parser.parse_args(argv)
    ranges = all_ranges()
    write(ranges, args.out)
    print(f"{len(ranges):,} ranges from phonenumbers {phonenumbers.__version__} → {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
