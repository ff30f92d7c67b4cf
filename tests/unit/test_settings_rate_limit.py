"""The clients' rate limit settings: off by default, refused by name out of their range, a blank
burst the default."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipelines.settings import MAX_CLIENT_BURST, MAX_CLIENT_RATE, load_settings


def test_no_rate_limit_is_set_unless_the_operator_sets_one() -> None:
    settings = load_settings()

    assert (settings.client_rate_limit, settings.client_rate_burst) == (0, None)


def test_the_limit_and_burst_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OWNERSHIP_CLIENT_RATE_LIMIT", "2.5")
    monkeypatch.setenv("OWNERSHIP_CLIENT_RATE_BURST", "20")

    settings = load_settings()

    assert (settings.client_rate_limit, settings.client_rate_burst) == (2.5, 20)


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("client_rate_limit", -1, "greater than or equal to 0"),
        ("client_rate_limit", MAX_CLIENT_RATE + 1, "less than or equal to"),
        ("client_rate_limit", "inf", "finite number"),
        ("client_rate_limit", 1e-320, "below one an hour"),  # its wait would hold no integer
        ("client_rate_limit", 1e-5, "below one an hour"),
        ("client_rate_limit", "1e-400", "below one an hour"),  # read as 0.0, which is off
        ("client_rate_limit", "1_e-400", "below one an hour"),  # pydantic takes underscores
        ("client_rate_burst", 0, "greater than or equal to 1"),
        ("client_rate_burst", MAX_CLIENT_BURST + 1, "less than or equal to"),
    ],
)
def test_a_rate_or_burst_out_of_its_range_is_refused_by_name(
    name: str, value: object, said: str
) -> None:
    with pytest.raises(ValidationError, match=said) as refused:
        load_settings(**{name: value})

    assert refused.value.errors()[0]["loc"] == (name,)


def test_a_blank_burst_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OWNERSHIP_CLIENT_RATE_BURST", " ")

    assert load_settings().client_rate_burst is None
