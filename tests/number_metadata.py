"""phonenumbers' metadata as test material: its patterns and numbers near its examples."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

from pipelines.number_ranges import TYPES, region_metadata

DESCS = ("general_desc", *TYPES, "mobile")


def _metadata(country_code: int) -> Iterator[PhoneMetadata]:
    for region in COUNTRY_CODE_TO_REGION_CODE[country_code]:
        yield region_metadata(country_code, region)


def every_pattern() -> Iterator[str]:
    """Every national number, leading digits and national prefix pattern, once each."""
    seen: set[str] = set()
    for country_code in sorted(COUNTRY_CODE_TO_REGION_CODE):
        for metadata in _metadata(country_code):
            descs = (getattr(metadata, name) for name in DESCS)
            found = [desc.national_number_pattern for desc in descs if desc is not None]
            found.append(metadata.leading_digits)
            found.append(metadata.national_prefix_for_parsing)
            for pattern in found:
                if pattern and pattern not in seen:
                    seen.add(pattern)
                    yield pattern


@cache
def example_keys(country_codes: tuple[int, ...] | None = None) -> tuple[int, ...]:
    """The example number of every type of every region, each with every one-digit change,
    a digit less and a digit more: valid numbers and the invalid ones just beside them."""
    keys: set[str] = set()
    codes = country_codes or tuple(sorted(COUNTRY_CODE_TO_REGION_CODE))
    for country_code in codes:
        for metadata in _metadata(country_code):
            for name in DESCS:
                desc = getattr(metadata, name)
                if desc is None or not desc.example_number:
                    continue
                example = f"{country_code}{desc.example_number}"
                keys.update((example, example[:-1], example + "0", example + "7"))
                for at in range(len(str(country_code)), len(example)):
                    keys.update(example[:at] + digit + example[at + 1 :] for digit in "0123456789")
    return tuple(sorted(int(key) for key in keys if 7 <= len(key) <= 15))
