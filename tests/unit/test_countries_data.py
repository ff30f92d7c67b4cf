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
