"""int_sms_features: delivered half-periods counted as bits of 62-half-period words, checked by
brute force, and the numbers that may have an SMS gap picked by them.

Half-periods are W/2 = 45 days long, counted from the epoch, so half-period 372, the first of
the seventh word, starts on 2015-10-31: these histories straddle that boundary.
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
HALF_S = WINDOW_S // 2
WORD = 62


def half_period(at: datetime) -> int:
    return int((at - EPOCH).total_seconds()) // HALF_S


def period(at: datetime) -> int:
    return int((at - EPOCH).total_seconds()) // WINDOW_S


def half_period_start(index: int) -> datetime:
    return EPOCH + timedelta(seconds=index * HALF_S)


BOUNDARY = WORD * 6  # half-period 372
MONTHLY = [half_period_start(BOUNDARY - 4) + timedelta(days=30 * step) for step in range(9 * 3)]


def run(
    models: Callable[..., duckdb.DuckDBPyConnection], deliveries: list[datetime]
) -> tuple[dict[str, object], int]:
    """The number's int_sms_features row, and how many rows int_sms_gaps holds."""
    history = History()
    for at in deliveries:
        history.sms(RU_MOBILE, at)
    con = models(history, as_of=AS_OF)
    relation = con.table("int_sms_features")
    (row,) = relation.fetchall()
    gaps = len(con.table("int_sms_gaps").fetchall())
    return dict(zip(relation.columns, row, strict=True)), gaps


@pytest.mark.parametrize(
    ("left_out", "may_have_gap"),
    [
        pytest.param(None, False, id="every half-period across the boundary"),
        pytest.param(BOUNDARY, True, id="the first half-period of a word empty"),
        pytest.param(BOUNDARY - 1, True, id="the last half-period of a word empty"),
    ],
)
def test_delivered_half_periods_across_a_word_boundary_match_a_brute_force_count(
    models: Callable[..., duckdb.DuckDBPyConnection], left_out: int | None, may_have_gap: bool
) -> None:
    deliveries = [at for at in MONTHLY if half_period(at) != left_out and at < AS_OF]
    assert half_period(deliveries[0]) < BOUNDARY - 1 < BOUNDARY < half_period(deliveries[-1])

    row, gaps = run(models, deliveries)

    assert row["delivered"] == len(deliveries)
    assert row["delivered_half_periods"] == len({half_period(at) for at in deliveries})
    assert row["first_delivered_period"] == period(deliveries[0])
    assert row["last_delivered_period"] == period(deliveries[-1])
    assert row["may_have_gap"] is may_have_gap
    # an empty half-period only makes a number a candidate: monthly SMS, one or two left
    # out, are silent for 90 days at most, which is no gap
    assert gaps == 0
