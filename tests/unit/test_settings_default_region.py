"""The default region, the country of phone texts written without a country code: a region
phonenumbers knows, in any case, stored in capitals; anything else refused in one line with
examples; blank, no region at all."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipelines.settings import check_default_region, load_settings

REFUSED = r"is not a region phonenumbers knows; give a two-letter region .* such as RU, KZ or BY"


@pytest.mark.parametrize(("written", "region"), [("ru", "RU"), ("RU", "RU"), (" kz ", "KZ")])
def test_a_region_phonenumbers_knows_is_accepted_in_capitals(written: str, region: str) -> None:
    assert check_default_region(written) == region


@pytest.mark.parametrize("written", ["XX", "RUS", "7", "001", ""])
def test_a_region_phonenumbers_does_not_know_is_refused_with_examples(written: str) -> None:
    with pytest.raises(ValueError, match=REFUSED) as refused:
        check_default_region(written)

    assert "\n" not in str(refused.value)


def test_the_settings_keep_the_region_in_capitals() -> None:
    assert load_settings(default_region="ru").default_region == "RU"


def test_the_settings_refuse_a_region_phonenumbers_does_not_know() -> None:
    with pytest.raises(ValidationError, match=f"default region 'XX' {REFUSED}"):
        load_settings(default_region="XX")


@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_default_region_is_none(blank: str) -> None:
    assert load_settings(default_region=blank).default_region is None


def test_without_the_setting_there_is_no_default_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OWNERSHIP_DEFAULT_REGION", raising=False)

    assert load_settings().default_region is None
