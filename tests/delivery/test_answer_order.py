"""Answers reported out of order, on SQLite and PostgreSQL: the store's overlay of a number keeps
its latest Yes and its latest No, whichever report came last, so that every process that reads
the overlay from the store (a restart, another worker) sees the newest answer."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from delivery import records
from tests.api.service import SUSPICIOUS

ASKED_AT = datetime(2026, 6, 1, 9, tzinfo=UTC)


def answer(engine: Engine, result: str, at: datetime, notification_id: str) -> bool:
    """A report of the person's answer to one prompt, in a transaction of its own."""
    with engine.begin() as connection:
        return records.record_verification(
            connection, SUSPICIOUS, at, "prompt", result, None, notification_id
        )


def overlay_of(engine: Engine) -> tuple[datetime | None, datetime | None]:
    """The number's (denied_at, confirmed_at) as the store holds them."""
    with engine.connect() as connection:
        row = connection.execute(
            select(records.overlay.c.denied_at, records.overlay.c.confirmed_at).where(
                records.overlay.c.phone == SUSPICIOUS
            )
        ).one()
    return row.denied_at, row.confirmed_at


def test_a_late_report_of_an_older_no_leaves_the_newer_no(engine: Engine) -> None:
    older, newer = ASKED_AT, ASKED_AT + timedelta(hours=2)
    assert answer(engine, "denied", newer, "n-2")

    assert answer(engine, "denied", older, "n-1")  # its report was held up

    assert overlay_of(engine) == (newer, None)


def test_a_late_report_of_an_older_yes_leaves_the_newer_yes(engine: Engine) -> None:
    older, newer = ASKED_AT, ASKED_AT + timedelta(days=3)
    assert answer(engine, "confirmed", newer, "n-2")

    assert answer(engine, "confirmed", older, "n-1")

    assert overlay_of(engine) == (None, newer)


def test_a_newer_answer_still_moves_the_overlay_on(engine: Engine) -> None:
    answer(engine, "denied", ASKED_AT, "n-1")
    answer(engine, "confirmed", ASKED_AT + timedelta(hours=1), "n-2")

    answer(engine, "denied", ASKED_AT + timedelta(hours=2), "n-3")

    assert overlay_of(engine) == (ASKED_AT + timedelta(hours=2), ASKED_AT + timedelta(hours=1))


def test_answers_written_at_once_by_several_workers_keep_the_latest(engine: Engine) -> None:
    times = [ASKED_AT + timedelta(minutes=minute) for minute in (7, 3, 11, 5, 2, 9)]
    start = threading.Barrier(len(times))

    def report(index: int, at: datetime) -> None:
        start.wait()
        answer(engine, "denied", at, f"n-{index}")

    workers = [threading.Thread(target=report, args=(index, at)) for index, at in enumerate(times)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)

    assert overlay_of(engine) == (max(times), None)
