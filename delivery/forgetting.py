"""The notifications' retention (OWNERSHIP_NOTIFICATION_RETENTION_DAYS): a notification whose
outcome is older than the retention is forgotten, with its history and its SMS code.

What stays, whatever its age:
- a notification under way (accepted, asking the person, sent, expired waiting for its SMS,
  its SMS sent): it is forgotten only once it has its outcome;
- one a webhook of which still waits to be sent: the dispatcher reads the notification to keep
  the event at the callback_url its client named (and to hold that URL to the private-address
  rule); without it, the event would follow the client's registered URL instead;
- the billing ledger (the bill), the `verifications` results (the batch's input, exported
  nightly) and the live overlay of numbers: none of them is a notification's.

A request whose notification was forgotten is no longer known as a repeat; the retention
exceeds the oldest user action any client may answer (pipelines.settings), so such a repeat is
refused for its stale action rather than sent again. Both moments below are bounded by the
retention: the outcome's, and the acceptance's, which the argument rests on.

Forgetting goes in batches, each its own short transaction, oldest first by the index of the
last move (migration 0015), each batch reading on from where the last one ended; a process
stopping ends after the batch in hand.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Table,
    and_,
    delete,
    func,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.exc import SQLAlchemyError

from delivery import records
from delivery.notify_core import NotifyCore
from ownership.notifications import SETTLED, Fallback, NotificationStatus
from store.tables import UtcDateTime
from store.tables_notifications import VerificationCodeRow
from store.tables_webhooks import DeliveryState, WebhookDeliveryRow

log = logging.getLogger(__name__)

# a batch is forgotten in one transaction: small enough that its locks are held for
# milliseconds (its history, some five rows a notification, goes with it)
BATCH_SIZE = 500
notifications = records.notifications
events = records.events
codes = cast(Table, VerificationCodeRow.__table__)


def has_its_outcome(dialect: str) -> ColumnElement[bool]:
    """The notification has its outcome: settled, or expired without fallback. On SQLite, read
    by the words `status || ''`, as the sweeper's, so that it does not read these (most of the
    table) by the index of statuses, which once `ANALYZE`d it prefers, rather than by the index
    of the last move; PostgreSQL estimates the plain column's share and takes the latter."""
    status: ColumnElement[str] = notifications.c.status
    if dialect == "sqlite":
        status = status.op("||")(literal_column("''"))
    return or_(
        status.in_(sorted(state.value for state in SETTLED)),
        and_(
            status == NotificationStatus.EXPIRED.value,
            notifications.c.fallback == Fallback.NONE.value,
        ),
    )


def _past(connection: Connection, before: datetime) -> ColumnElement[bool]:
    moment = literal(before, UtcDateTime())
    return and_(
        has_its_outcome(connection.dialect.name),
        notifications.c.updated_at < moment,
        notifications.c.created_at < moment,
    )


@dataclass(frozen=True)
class Forgotten:
    """What a run forgot (or, dry, would forget)."""

    notifications: int = 0
    history: int = 0  # entries of their status history
    codes: int = 0  # their SMS codes' rows
    # past the retention with their outcome, kept while a webhook of theirs waits to be sent
    kept_for_webhooks: int = 0
    # told to stop with more to read: a later run goes on
    stopped_early: bool = False

    def __add__(self, other: Forgotten) -> Forgotten:
        return Forgotten(
            self.notifications + other.notifications,
            self.history + other.history,
            self.codes + other.codes,
            self.kept_for_webhooks + other.kept_for_webhooks,
            self.stopped_early or other.stopped_early,
        )


class ForgettingInterrupted(KeyboardInterrupt):
    """A Ctrl-C that stopped a run at once: the batch in hand was rolled back, and `done` is
    what the batches before it forgot."""

    def __init__(self, done: Forgotten) -> None:
        super().__init__()
        self.done = done


class StopAtOnce:
    """An operator's second Ctrl-C: the run stops at once, the batch in hand undone; but a
    batch that is committing commits and is counted first, and once the run has ended the
    press is let go, so that what it forgot is said. The signal handler calls `press`; Python
    runs it in the main thread between statements, whichever thread the signal reached."""

    def __init__(self) -> None:
        self._committing = False
        self._pressed = False
        self._ended = False

    def press(self) -> None:
        if self._ended:
            return
        if self._committing:
            self._pressed = True
            return
        self._ended = True  # a third press while the run says what it did is let go
        raise KeyboardInterrupt

    @contextmanager
    def committing(self) -> Iterator[None]:
        self._committing = True
        try:
            yield
        finally:
            self._committing = False
        if self._pressed:
            self._ended = True
            raise KeyboardInterrupt

    def end(self, forgotten: Forgotten) -> Forgotten:
        self._ended = True
        return forgotten

    @property
    def ended(self) -> bool:
        return self._ended


def forget_notifications_before(
    engine: Engine,
    before: datetime,
    *,
    batch_size: int = BATCH_SIZE,
    stopping: threading.Event | None = None,
    at_once: StopAtOnce | None = None,
    dry_run: bool = False,
) -> Forgotten:
    """Forget the notifications whose outcome, and acceptance, came before `before` (aware),
    with their history and SMS codes, in batches of `batch_size`; `dry_run` counts them and
    forgets none. Stops after the batch in hand once `stopping` is set (`stopped_early`); a
    KeyboardInterrupt (`at_once.press`) stops it at once, as `ForgettingInterrupted` with what
    was done."""
    at_once = at_once or StopAtOnce()
    total = Forgotten()
    with engine.connect() as connection:
        # most hours have nothing to forget: then no batch takes SQLite's write lock, for
        # which every acceptance and report would wait
        if not _next_batch(connection, before, None, 1):
            return at_once.end(total)
    after: tuple[datetime, str] | None = None
    counted_to = after  # where the last batch counted ended: one undone is still there
    try:
        while True:
            if stopping is not None and stopping.is_set():
                with engine.connect() as connection:  # a full last batch left nothing
                    left = _next_batch(connection, before, after, 1)
                return at_once.end(replace(total, stopped_early=bool(left)))
            with engine.connect() as connection:  # closed uncommitted: rolled back
                transaction = connection.begin()
                if not dry_run:
                    # SQLite: the batch is read under the store's write lock, so that no
                    # webhook is enqueued for one of them between the check below and the
                    # deletes
                    records.hold_until_moved(connection)
                batch = _next_batch(connection, before, after, batch_size)
                if not batch:
                    return at_once.end(total)
                after = batch[-1]
                done = _forget(connection, [id_ for _, id_ in batch], before, dry_run)
                with at_once.committing():  # counted if, and only if, it committed
                    transaction.commit()
                    total, counted_to = total + done, after
            if len(batch) < batch_size:
                return at_once.end(total)
    except KeyboardInterrupt as interrupt:
        at_once.end(total)
        remaining = True
        with suppress(SQLAlchemyError), engine.connect() as connection:
            remaining = bool(_next_batch(connection, before, counted_to, 1))
        raise ForgettingInterrupted(replace(total, stopped_early=remaining)) from interrupt


def _next_batch(
    connection: Connection,
    before: datetime,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[tuple[datetime, str]]:
    """The next `limit` candidates, oldest move first, after `after` (the last batch's end):
    a batch whose notifications are kept (a webhook waits) is not read again."""
    query = select(notifications.c.updated_at, notifications.c.id).where(_past(connection, before))
    if after is not None:
        moment, id_ = after
        query = query.where(
            tuple_(notifications.c.updated_at, notifications.c.id)
            > tuple_(literal(moment, UtcDateTime()), literal(id_))
        )
    query = query.order_by(notifications.c.updated_at, notifications.c.id).limit(limit)
    return [(moment, id_) for moment, id_ in connection.execute(query)]


def _forget(connection: Connection, ids: list[str], before: datetime, dry_run: bool) -> Forgotten:
    if connection.dialect.name == "postgresql" and not dry_run:
        # held until the batch commits: a late report moving one of them, or a reply, waits,
        # then finds it gone; one another transaction holds (a reply being enqueued holds its
        # notification) is skipped, for a later run
        ids = list(
            connection.execute(
                select(notifications.c.id)
                .where(
                    records._among(connection, notifications.c.id, ids), _past(connection, before)
                )
                .with_for_update(skip_locked=True)
            ).scalars()
        )
    waiting = _with_webhooks_waiting(connection, ids)
    doomed = [id_ for id_ in ids if id_ not in waiting]
    if not doomed:
        return Forgotten(kept_for_webhooks=len(waiting))
    # each statement reads the conditions again, as a dry run's batch was read unlocked; its
    # history goes before it, and its code, rather than on cascade, so that each is counted
    still_past = select(notifications.c.id).where(
        records._among(connection, notifications.c.id, doomed), _past(connection, before)
    )
    counts = []
    for table, column in (
        (events, events.c.notification_id),
        (codes, codes.c.notification_id),
        (notifications, notifications.c.id),
    ):
        if dry_run:
            count = connection.scalar(
                select(func.count()).select_from(table).where(column.in_(still_past))
            )
        else:
            count = connection.execute(delete(table).where(column.in_(still_past))).rowcount
        counts.append(int(count or 0))
    history, code_rows, forgotten = counts
    return Forgotten(forgotten, history, code_rows, len(waiting))


def _with_webhooks_waiting(connection: Connection, ids: list[str]) -> set[str]:
    """Those of the notifications a webhook event of which waits to be sent: read by the index
    of pending events, however many settled ones the outbox keeps."""
    if not ids:
        return set()
    hooks = WebhookDeliveryRow
    notification_id = hooks.payload["notification_id"].as_string()
    return set(
        connection.execute(
            select(notification_id).where(
                hooks.state == DeliveryState.PENDING.value, notification_id.in_(ids)
            )
        ).scalars()
    )


class Forgetting(NotifyCore):
    def forget_past_retention(
        self, keep: timedelta, batch_size: int = BATCH_SIZE, dry_run: bool = False
    ) -> Forgotten:
        """Forget the notifications whose outcome is older than `keep` by the service's clock
        (the worker's scheduled job); stops after the batch in hand when the process stops."""
        forgotten = forget_notifications_before(
            self.engine,
            self.clock.now() - keep,
            batch_size=batch_size,
            stopping=self.stopping,
            dry_run=dry_run,
        )
        if forgotten.notifications or forgotten.kept_for_webhooks:
            log.info(
                "forgot %d notifications whose outcome is over %d days old (%d history "
                "entries, %d codes); %d kept while a webhook of theirs waits",
                forgotten.notifications,
                keep.days,
                forgotten.history,
                forgotten.codes,
                forgotten.kept_for_webhooks,
            )
        return forgotten
