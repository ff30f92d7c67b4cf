"""Each process's copy of the live overlay, on SQLite and PostgreSQL: it loads what still
matters, reads on from what other workers record, and survives a store that is down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import Engine, create_engine, update

from delivery import records
from delivery.overlay import LiveOverlay
from ownership.live import LiveAnswers

NOW = datetime(2026, 6, 3, 12)
AS_OF = datetime(2026, 6, 1)
NUMBER, OTHER = "+79031112233", "+79161112244"


def record(engine: Engine, phone: str, result: str, at: datetime) -> None:
    with engine.begin() as connection:
        records.record_verification(
            connection, phone, at.replace(tzinfo=UTC), "prompt", result, None, None
        )


def overlay_of(engine: Engine) -> LiveOverlay:
    return LiveOverlay(engine, lambda: NOW, lambda: AS_OF, refresh_every=0.0)


def test_the_first_read_loads_only_the_answers_that_still_matter(engine: Engine) -> None:
    record(engine, NUMBER, "denied", AS_OF - timedelta(days=31))  # left to the batches
    record(engine, OTHER, "confirmed", NOW - timedelta(days=31))  # no longer fresh
    record(engine, "+79035550011", "denied", AS_OF + timedelta(hours=2))
    record(engine, "+79269998877", "confirmed", NOW - timedelta(days=2))

    overlay = LiveOverlay(engine, lambda: NOW, lambda: AS_OF, refresh_every=3600.0)

    assert overlay.refresh() == 2
    assert overlay.holding(np.array([79031112233, 79161112244, 79035550011, 79269998877])) == [2, 3]
    assert overlay.answers(79035550011) == LiveAnswers(denied_at=AS_OF + timedelta(hours=2))


def test_what_another_worker_records_is_read_on_the_next_refresh(engine: Engine) -> None:
    here, there = overlay_of(engine), overlay_of(engine)
    here.refresh()

    record(engine, NUMBER, "confirmed", NOW - timedelta(hours=3))
    record(engine, NUMBER, "denied", NOW - timedelta(hours=1))

    assert here.answers(79031112233) == LiveAnswers(
        denied_at=NOW - timedelta(hours=1), confirmed_at=NOW - timedelta(hours=3)
    )
    assert there.holding(np.array([79161112244, 79031112233])) == [1]


def test_a_row_committed_late_within_the_overlap_is_still_read(engine: Engine) -> None:
    overlay = overlay_of(engine)
    overlay.refresh()
    record(engine, NUMBER, "denied", NOW)
    with engine.begin() as connection:  # as if its transaction began before the last read
        connection.execute(
            update(records.overlay).values(recorded_at=datetime.now(UTC) - timedelta(seconds=20))
        )

    overlay.refresh()

    assert overlay.answers(79031112233) == LiveAnswers(denied_at=NOW)


def test_what_this_process_learns_shows_at_once_and_a_stale_row_does_not_undo_it(
    engine: Engine,
) -> None:
    overlay = LiveOverlay(engine, lambda: NOW, refresh_every=3600.0)
    record(engine, NUMBER, "confirmed", NOW - timedelta(hours=3))
    overlay.refresh()

    overlay.learn(79031112233, LiveAnswers(denied_at=NOW))
    overlay.refresh()

    assert overlay.answers(79031112233) == LiveAnswers(NOW, NOW - timedelta(hours=3))


def test_a_store_that_is_down_keeps_the_answers_in_hand() -> None:
    down = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    overlay = LiveOverlay(down, lambda: NOW, refresh_every=0.0)
    overlay.learn(79031112233, LiveAnswers(denied_at=NOW))

    assert overlay.answers(79031112233) == LiveAnswers(denied_at=NOW)
    assert overlay.holding(np.array([1, 79031112233])) == [1]


def test_answers_that_no_longer_matter_are_forgotten(engine: Engine) -> None:
    as_of = [AS_OF]
    overlay = LiveOverlay(engine, lambda: NOW, lambda: as_of[0], refresh_every=3600.0)
    overlay.learn(1, LiveAnswers(denied_at=AS_OF + timedelta(hours=1)))
    overlay.learn(2, LiveAnswers(confirmed_at=NOW - timedelta(days=29)))
    overlay.learn(3, LiveAnswers(confirmed_at=NOW - timedelta(days=31)))

    assert overlay.prune() == 1  # the confirmation past F
    as_of[0] = AS_OF + timedelta(days=1)  # a new snapshot, which may not have read it yet
    assert overlay.prune() == 0
    as_of[0] = AS_OF + timedelta(days=31)  # batches have had a month to read the denial
    assert overlay.prune() == 1
    assert overlay.holding(np.array([1, 2, 3])) == [1]
