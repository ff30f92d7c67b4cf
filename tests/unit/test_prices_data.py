"""The shipped price list (data/prices.csv) and its loader."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from ownership.channels import Channel
from pipelines.reference import load_countries, load_prices

SYNTH_HISTORY_END = date(2026, 11, 1)
HEADER = "prefix,channel,price_rub,valid_from\n"


def test_every_country_served_has_an_sms_price_over_the_synthetic_history() -> None:
    prices = load_prices()
    for country in load_countries():
        for day in (date(2024, 11, 1), SYNTH_HISTORY_END):
            sms = prices.price(country, Channel.SMS, day)
            assert sms > 0
            assert prices.price(country, Channel.VK, day) == sms / 10


def test_the_loader_reads_comments_decimals_and_days(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text("# a comment\n" + HEADER + "7,sms,4.5,2025-01-01\n7,ok,0.3,2025-02-01\n")
    prices = load_prices(path)
    russia = load_countries().country_of("+79234567823")

    assert prices.price(russia, Channel.OK, date(2025, 1, 31)) == Decimal("0.45")
    assert prices.price(russia, Channel.OK, date(2025, 2, 1)) == Decimal("0.3")


@pytest.mark.parametrize(
    ("row", "complaint"),
    [
        ("7,fax,4.5,2025-01-01", "channel 'fax' is not allowed"),
        ("7,sms,cheap,2025-01-01", "row 1"),
        ("7,sms,4.5,first of May", "row 1"),
        ("7,sms,,2025-01-01", "price_rub is empty"),
        ("7,sms,-4.5,2025-01-01", "negative"),
    ],
)
def test_a_bad_row_is_refused_naming_it(tmp_path: Path, row: str, complaint: str) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(HEADER + row + "\n")
    with pytest.raises(ValueError, match=complaint):
        load_prices(path)


def test_a_file_with_other_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text("prefix,channel,price\n7,sms,4.5\n")
    with pytest.raises(ValueError, match="expected"):
        load_prices(path)
