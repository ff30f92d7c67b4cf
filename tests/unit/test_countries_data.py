"""The shipped country table (data/countries.csv) against the brief's figures (DESIGN §11)."""

from __future__ import annotations

from pipelines.reference import load_countries


def test_the_shipped_table_places_the_brief_countries() -> None:
    table = load_countries()

    assert len(table) == 12
    assert table.country_of("+77012345678").name == "Kazakhstan"
    assert table.country_of("+79234567823").vk_monthly_users_m == 59
    assert table.country_of("+79234567823").ok_monthly_users_m is None
    assert table.country_of("+998901234567").ok_monthly_users_m == 1.8


def test_vk_takes_its_audience_share_of_the_social_traffic() -> None:
    table = load_countries()

    assert table.country_of("+77012345678").vk_share_of_social == 4.8 / (4.8 + 2.5)
    # The brief gives Russia no OK figure: the networks' global 107 : 71 ratio stands in.
    assert table.country_of("+79234567823").vk_share_of_social == 107 / (107 + 71)
