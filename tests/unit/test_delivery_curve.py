"""The social simulator's delays match the published figures (DESIGN §7, §11)."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from delivery.channels.curves import (
    PUBLISHED_DELIVERY,
    PiecewiseLogUniform,
    SocialCurve,
    SocialOutcome,
)

DRAWS = 100_000
TOLERANCE = 0.01  # one percentage point
PUBLISHED_DELIVERED = {
    timedelta(minutes=1): 0.42,
    timedelta(hours=1): 0.60,
    timedelta(hours=24): 0.90,
}
PUBLISHED_READ_WITHIN_A_DAY = 0.85  # of the notifications sent


@pytest.fixture(scope="module")
def outcomes() -> list[SocialOutcome]:
    curve = SocialCurve()
    rng = random.Random(20261127)
    return [curve.draw(rng) for _ in range(DRAWS)]


@pytest.mark.parametrize("within", list(PUBLISHED_DELIVERED))
def test_delivered_shares_match_the_published_curve(
    outcomes: list[SocialOutcome], within: timedelta
) -> None:
    delivered = sum(
        1 for o in outcomes if o.delivered_after is not None and o.delivered_after <= within
    )
    assert delivered / DRAWS == pytest.approx(PUBLISHED_DELIVERED[within], abs=TOLERANCE)


def test_the_rest_is_never_delivered(outcomes: list[SocialOutcome]) -> None:
    never = sum(1 for o in outcomes if o.delivered_after is None)
    assert never / DRAWS == pytest.approx(0.10, abs=TOLERANCE)
    assert all(o.delivered_after <= timedelta(hours=24) for o in outcomes if o.delivered_after)


def test_85_percent_of_those_sent_are_read_within_a_day(outcomes: list[SocialOutcome]) -> None:
    read = sum(1 for o in outcomes if o.read_after is not None and o.read_after <= timedelta(1))
    assert read / DRAWS == pytest.approx(PUBLISHED_READ_WITHIN_A_DAY, abs=TOLERANCE)


def test_a_message_is_read_only_after_it_is_delivered(outcomes: list[SocialOutcome]) -> None:
    pairs = [(o.delivered_after, o.read_after) for o in outcomes if o.read_after is not None]
    assert all(delivered is not None and read >= delivered for delivered, read in pairs)


def test_the_curve_passes_through_its_knots() -> None:
    for seconds, share in PUBLISHED_DELIVERY.knots:
        assert PUBLISHED_DELIVERY.share_within(seconds) == pytest.approx(share)
        if share < PUBLISHED_DELIVERY.final_share:
            assert PUBLISHED_DELIVERY.at_share(share) == pytest.approx(seconds)
    assert PUBLISHED_DELIVERY.at_share(0.95) is None


def test_the_curve_is_log_uniform_between_knots() -> None:
    # halfway in log-time between 1 min and 1 h (7.75 min) lies halfway between 42 % and 60 %
    assert PUBLISHED_DELIVERY.share_within((60 * 3600) ** 0.5) == pytest.approx(0.51)


def test_draws_are_the_same_under_the_same_seed() -> None:
    curve = SocialCurve()
    first = [curve.draw(random.Random(7)) for _ in range(3)]
    again = [curve.draw(random.Random(7)) for _ in range(3)]
    assert first == again


def test_curves_that_do_not_increase_are_refused() -> None:
    with pytest.raises(ValueError, match="increase"):
        PiecewiseLogUniform(((1.0, 0.0), (60.0, 0.5), (30.0, 0.6)))
    with pytest.raises(ValueError, match="read"):
        SocialCurve(read_share=0.95)
