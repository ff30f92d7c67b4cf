"""int_sms_features: delivered periods counted as bits of 63-period words, checked by brute force.

Periods are counted from the epoch (W = 90 days), so period 189, the first of the fourth word,
starts on 2016-07-28: these histories straddle that boundary.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import duckdb
import pytest

from ownership.rules import RuleSettings
from tests.factories import RU_MOBILE, History

AS_OF = datetime(2017, 6, 1)
EPOCH = datetime(1970, 1, 1)
WINDOW_S = RuleSettings().possession_window_days * 86400
WORD = 63


def period(at: datetime) -> int:
    return int((at - EPOCH).total_seconds()) // WINDOW_S


def period_start(index: int) -> datetime:
    return EPOCH + timedelta(seconds=index * WINDOW_S)


BOUNDARY = WORD * 3  # period 189
MONTHLY = [period_start(BOUNDARY - 4) + timedelta(days=30 * step) for step in range(9 * 3)]


def features(
    models: Callable[..., duckdb.DuckDBPyConnection], deliveries: list[datetime]
) -> dict[str, object]:
    history = History()
    for at in deliveries:
        history.sms(RU_MOBILE, at)
    relation = models(history, as_of=AS_OF).table("int_sms_features")
    (row,) = relation.fetchall()
    return dict(zip(relation.columns, row, strict=True))


@pytest.mark.parametrize(
    ("left_out", "gap"),
    [
        pytest.param(None, False, id="every period across the boundary"),
        pytest.param(BOUNDARY, True, id="the first period of a word empty"),
        pytest.param(BOUNDARY - 1, True, id="the last period of a word empty"),
    ],
)
def test_delivered_periods_across_a_word_boundary_match_a_brute_force_count(
    models: Callable[..., duckdb.DuckDBPyConnection], left_out: int | None, gap: bool
) -> None:
    deliveries = [at for at in MONTHLY if period(at) != left_out and at < AS_OF]
    assert period(deliveries[0]) < BOUNDARY - 1 < BOUNDARY < period(deliveries[-1])

    row = features(models, deliveries)

    assert row["delivered"] == len(deliveries)
    assert row["delivered_periods"] == len({period(at) for at in deliveries})
    assert row["first_delivered_period"] == period(deliveries[0])
    assert row["last_delivered_period"] == period(deliveries[-1])
    assert row["has_gap"] is gap
