"""The back-off of failed webhooks: exponential waits, jitter within bounds, a day at most."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from delivery.webhooks.retry import DEFAULT_DELAYS, RetrySchedule

CREATED = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def attempt_times(schedule: RetrySchedule) -> list[timedelta]:
    """When each attempt starts if every one fails at once (offsets from creation)."""
    times: list[timedelta] = []
    moment: datetime | None = CREATED
    attempts = 0
    while moment is not None:
        times.append(moment - CREATED)
        attempts += 1
        moment = schedule.next_attempt(created_at=CREATED, attempts=attempts, failed_at=moment)
    return times


def test_an_endpoint_down_all_day_gets_eleven_attempts_within_24_hours() -> None:
    times = attempt_times(RetrySchedule(jitter=0))

    assert [t.total_seconds() for t in times[:5]] == [0, 5, 35, 155, 755]
    assert len(times) == 11
    assert times[-1] == timedelta(hours=23, minutes=42, seconds=35)


def test_the_waits_grow_then_repeat_the_last() -> None:
    schedule = RetrySchedule(jitter=0)

    waits = [schedule.delay_after(n) for n in range(1, 13)]

    assert waits[: len(DEFAULT_DELAYS)] == list(DEFAULT_DELAYS)
    assert waits[len(DEFAULT_DELAYS) :] == [DEFAULT_DELAYS[-1]] * 3
    assert all(a < b for a, b in itertools.pairwise(DEFAULT_DELAYS))


def test_jitter_spreads_a_wait_within_its_share() -> None:
    schedule = RetrySchedule(jitter=0.1, rng=random.Random(7))

    waits = {schedule.delay_after(2) for _ in range(200)}

    assert len(waits) > 100
    assert all(timedelta(seconds=27) <= wait <= timedelta(seconds=33) for wait in waits)


def test_a_shorter_window_gives_up_sooner() -> None:
    times = attempt_times(RetrySchedule(give_up_after=timedelta(minutes=1), jitter=0))

    assert [t.total_seconds() for t in times] == [0, 5, 35]


@pytest.mark.parametrize("kwargs", [{"delays": ()}, {"delays": (timedelta(0),)}, {"jitter": 1.0}])
def test_a_schedule_that_cannot_work_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RetrySchedule(**kwargs)  # type: ignore[arg-type]
