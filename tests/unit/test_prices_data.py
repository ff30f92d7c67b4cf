"""The shipped price list (data/prices.csv) and its loader."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from ownership.channels import Channel
from pipelines.paths import DATA_DIR
from pipelines.reference import load_countries, load_prices, load_served_prices

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
        ("7,fax,4.5,2025-01-01", "line 3: channel 'fax' is not allowed"),
        ("7,sms,cheap,2025-01-01", "line 3: price_rub 'cheap' is not a plain decimal number"),
        ("7,sms,4.5,first of May", "line 3: valid_from 'first of May' is not a day"),
        ("7,sms,,2025-01-01", "line 3: price_rub is empty"),
        ("7,sms,-4.5,2025-01-01", "line 3: price_rub '-4.5' is negative"),
        ("7,sms,4.12345,2025-01-01", "line 3: price_rub '4.12345' has more than 4 decimal places"),
        ("7,sms,Infinity,2025-01-01", "line 3: price_rub 'Infinity' is not a plain decimal"),
        ("7,sms,NaN,2025-01-01", "line 3: price_rub 'NaN' is not a plain decimal"),
        ("7,sms,4.5E+3,2025-01-01", r"line 3: price_rub '4\.5E\+3' is not a plain decimal"),
        ('7,sms,"4,50",2025-01-01', "line 3: price_rub '4,50' is not a plain decimal"),
        ("7,sms,123456789.5,2025-01-01", "line 3: price_rub '123456789.5' is not below"),
        ("78,sms,4.5,2025-01-01", "line 3: prefix '78' is no country's prefix in countries.csv"),
    ],
)
def test_a_bad_row_is_refused_naming_its_file_line_and_value(
    tmp_path: Path, row: str, complaint: str
) -> None:
    path = tmp_path / "prices.csv"
    path.write_text("# a comment: line 1\n" + HEADER + row + "\n")
    with pytest.raises(ValueError, match=complaint) as refused:
        load_prices(path)
    assert str(refused.value).startswith(f"{path}, line 3: ")


def test_a_bad_price_is_refused_saying_what_is_allowed(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(HEADER + "7,sms,4.12345,2025-01-01\n")
    with pytest.raises(ValueError, match=r"at most 4 places, as 4\.50"):
        load_prices(path)


def test_a_file_with_other_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text("prefix,channel,price\n7,sms,4.5\n")
    with pytest.raises(ValueError, match="expected"):
        load_prices(path)


def test_the_served_countries_all_have_an_sms_price_in_the_shipped_list() -> None:
    assert load_served_prices(load_countries()).without_sms_price(load_countries()) == ()


def test_a_price_list_leaving_a_served_country_unpriced_is_refused_naming_it(
    tmp_path: Path,
) -> None:
    shipped = (DATA_DIR / "prices.csv").read_text()
    path = tmp_path / "prices.csv"
    path.write_text(
        "".join(line for line in shipped.splitlines(True) if not line.startswith("374,"))
    )

    with pytest.raises(ValueError, match=r"no SMS price for Armenia \(\+374\), served by"):
        load_served_prices(load_countries(), path)
