"""Accepted notifications written in batches: the store's group commit, done by the service.

A durable commit on PostgreSQL costs a disk flush, about 2 ms here, so one commit a notification
caps a process at a few hundred a second. Requests hand their rows to one writer thread
(store.group_commit), which inserts whatever has gathered (up to `max_batch`, lingering at most
`max_wait` for more) in one transaction and wakes each request once its row is committed: the
202 still follows a durable write. A row the database refuses fails only its own request: the
writer writes a failed batch's rows again one at a time.

A repeated request_id is not an error in a batch: `ON CONFLICT DO NOTHING` skips it, and its
request is told it was not inserted, so the service answers it as a repeat.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Insert, insert
from sqlalchemy.dialects import postgresql, sqlite

from delivery import records
from store.group_commit import GroupWriter

Row = dict[str, Any]


class BatchWriter:
    def __init__(self, engine: Engine, max_batch: int = 256, max_wait: float = 0.002) -> None:
        self.engine = engine
        self._writer: GroupWriter[tuple[Row, Row], bool] = GroupWriter(
            self._write, name="notify-batch-writer", max_batch=max_batch, max_wait=max_wait
        )

    def insert(self, notification: Row, event: Row) -> bool:
        """Insert a notification and its first history row; False if its request_id was
        taken. Returns once the row is committed; raises what writing the row raised."""
        return self._writer.write((notification, event))

    async def insert_async(self, notification: Row, event: Row) -> bool:
        """The same, awaited on the event loop without holding a thread."""
        return await self._writer.write_async((notification, event))

    def _write(self, batch: list[tuple[Row, Row]]) -> list[bool]:
        with self.engine.begin() as connection:
            # one statement compiled once and cached, sent for many rows ("insertmanyvalues")
            statement = _insert_skipping_repeats(connection.dialect.name).returning(
                records.notifications.c.id
            )
            inserted = set(
                connection.execute(statement, [notification for notification, _ in batch]).scalars()
            )
            events = [event for notification, event in batch if notification["id"] in inserted]
            if events:
                connection.execute(insert(records.events), events)
        return [notification["id"] in inserted for notification, _ in batch]


def _insert_skipping_repeats(dialect: str) -> Insert:
    if dialect == "postgresql":
        return postgresql.insert(records.notifications).on_conflict_do_nothing(
            index_elements=["client_key", "request_id"]
        )
    if dialect == "sqlite":
        return sqlite.insert(records.notifications).on_conflict_do_nothing(
            index_elements=["client_key", "request_id"]
        )
    raise NotImplementedError(f"the store runs on SQLite or PostgreSQL, not {dialect}")
