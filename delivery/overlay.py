"""The live overlay as each process holds it: the re-verification answers given since the
batch, kept in memory so that a check pays a dictionary lookup for them, not a query.

The store's `number_overlay` table is the truth. A process first loads the answers that still
matter (denials up to `DENIALS_KEPT` before the snapshot's time, confirmations within F of now),
then reads on from
the rows recorded since its last read, at most once per `refresh_every`. What this process
learns itself it applies at once (`learn`); what another worker learns shows here within
`refresh_every`. Each read goes back `overlap` before the last one, so that a row committed
late, with a `recorded_at` earlier than rows already read, is still seen.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine, Select, or_, select
from sqlalchemy.exc import SQLAlchemyError

from delivery.records import overlay
from ownership.live import LiveAnswers
from ownership.notifications import FRESHNESS
from pipelines.snapshot import Snapshot

log = logging.getLogger(__name__)
COLUMNS = (overlay.c.phone, overlay.c.denied_at, overlay.c.confirmed_at)
# A No given before the served snapshot's time may not be in it: reported late, or exported
# after the run. The verdict tells whether the batch read it (ownership.live); a No is kept
# this long past the snapshot's time for the batches to read it, then left to them.
DENIALS_KEPT = timedelta(days=30)


def _naive(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC).replace(tzinfo=None)


def _wall_now() -> datetime:
    return datetime.now(UTC)


def _no_snapshot_time() -> datetime | None:
    return None


def snapshot_time(snapshots: Callable[[], Snapshot]) -> datetime | None:
    """The served snapshot's time; None before one is published (then every denial matters)."""
    try:
        return snapshots().as_of
    except Exception:  # the source's own "none yet" error, which lives in the API layer
        return None


class LiveOverlay:
    """The answers learnt since the batch, by the number's int64 key."""

    def __init__(
        self,
        engine: Engine | None,
        now: Callable[[], datetime],
        as_of: Callable[[], datetime | None] = _no_snapshot_time,
        *,
        refresh_every: float = 1.0,
        prune_every: float = 600.0,
        overlap: timedelta = timedelta(seconds=30),
        freshness: timedelta = FRESHNESS,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = _wall_now,
    ) -> None:
        """`now` is the service's clock and `as_of` the served snapshot's time, both naive
        UTC: they choose what the first read loads, and what is forgotten every
        `prune_every` seconds, so that a long-running process holds only what still matters.
        `engine` None: an overlay of this process only, which nothing else writes."""
        self.engine = engine
        self.now = now
        self.as_of = as_of
        self.refresh_every = refresh_every
        self.prune_every = prune_every
        self.overlap = overlap
        self.freshness = freshness
        self._monotonic = monotonic
        self._wall = wall
        self._answers: dict[int, LiveAnswers] = {}
        self._lock = threading.Lock()  # guards _answers' read-modify-writes
        self._reading = threading.Lock()  # one read of the store at a time
        self._read_from: datetime | None = None  # None: nothing read yet
        self._refreshed_at = float("-inf")
        self._pruned_at = monotonic()

    def __len__(self) -> int:
        return len(self._answers)

    def answers(self, key: int) -> LiveAnswers | None:
        """The number's answers since the batch, or None; at most `refresh_every` old."""
        self._maybe_refresh()
        return self._answers.get(key)

    def holding(self, keys: np.ndarray) -> list[int]:
        """The positions in `keys` (int64) of the numbers that have answers: a bulk check's few."""
        self._maybe_refresh()
        known = self._answers
        if not known:
            return []
        return [position for position, key in enumerate(keys.tolist()) if key in known]

    def learn(self, key: int, answers: LiveAnswers) -> None:
        """Answers this process recorded (and committed) itself: seen here at once."""
        with self._lock:
            current = self._answers.get(key)
            self._answers[key] = answers if current is None else current.merged(answers)

    def refresh(self) -> int:
        """Read what is new in the store: at first the answers that still matter, then the
        rows recorded since the last read (less `overlap`). Returns the rows read."""
        with self._reading:
            self._refreshed_at = self._monotonic()
            started = self._wall()
            query = select(*COLUMNS)
            if self._read_from is None:
                fresh_after = (self.now() - self.freshness).replace(tzinfo=UTC)
                as_of = self.as_of()
                denials = (
                    overlay.c.denied_at.is_not(None)
                    if as_of is None
                    else overlay.c.denied_at > (as_of - DENIALS_KEPT).replace(tzinfo=UTC)
                )
                query = query.where(or_(denials, overlay.c.confirmed_at > fresh_after))
            else:
                query = query.where(overlay.c.recorded_at >= self._read_from - self.overlap)
            rows = self._rows(query)
            with self._lock:
                for phone, denied, confirmed in rows:
                    # merged, so that an answer learnt here since the read is not undone
                    row = LiveAnswers(_naive(denied), _naive(confirmed))
                    key = int(phone[1:])
                    current = self._answers.get(key)
                    self._answers[key] = row if current is None else current.merged(row)
            self._read_from = started
            return len(rows)

    def prune(self) -> int:
        """Forget the answers that can no longer change a verdict: denials more than
        `DENIALS_KEPT` before the served snapshot's time, confirmations older than F. Returns
        how many numbers were forgotten."""
        as_of, stale = self.as_of(), self.now() - self.freshness
        denials_read = None if as_of is None else as_of - DENIALS_KEPT

        def matters(answers: LiveAnswers) -> bool:
            denied, confirmed = answers.denied_at, answers.confirmed_at
            return (denied is not None and (denials_read is None or denied > denials_read)) or (
                confirmed is not None and confirmed > stale
            )

        with self._lock:
            forgotten = [key for key, answers in self._answers.items() if not matters(answers)]
            for key in forgotten:
                del self._answers[key]
        return len(forgotten)

    def _rows(self, query: Select[Any]) -> list[Any]:
        if self.engine is None:
            return []
        with self.engine.connect() as connection:
            return list(connection.execute(query).all())

    def _maybe_refresh(self) -> None:
        if self._monotonic() - self._refreshed_at < self.refresh_every or self._reading.locked():
            return  # fresh enough, or another thread is reading right now
        try:
            self.refresh()
            if self._monotonic() - self._pruned_at >= self.prune_every:
                self._pruned_at = self._monotonic()
                self.prune()
        except SQLAlchemyError as error:
            # a store that is down makes the overlay a moment staler, never a check fail
            log.warning("kept the live overlay as it was: %s", error)


def answers_in_store(engine: Engine, key: int) -> LiveAnswers | None:
    """One number's answers straight from the store, for a one-off check (`ownership check`)."""
    with engine.connect() as connection:
        row = connection.execute(
            select(overlay.c.denied_at, overlay.c.confirmed_at).where(overlay.c.phone == f"+{key}")
        ).first()
    return None if row is None else LiveAnswers(_naive(row[0]), _naive(row[1]))
