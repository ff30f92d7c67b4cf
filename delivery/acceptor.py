"""Accepted notifications written in batches: the store's group commit, done by the service.

A durable commit on PostgreSQL costs a disk flush, about 2 ms here, so one commit a notification
caps a process at a few hundred a second. Requests hand their rows to one writer thread, which
inserts whatever has gathered (up to `max_batch`, after at most `max_wait`) in one transaction
and wakes each request once its row is committed: the 202 still follows a durable write.

A repeated request_id is not an error in a batch: `ON CONFLICT DO NOTHING` skips it, and its
request is told it was not inserted, so the service answers it as a repeat.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, Insert, insert
from sqlalchemy.dialects import postgresql, sqlite

from delivery import records


@dataclass
class _Pending:
    notification: dict[str, Any]
    event: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    inserted: bool = False
    error: BaseException | None = None


class BatchWriter:
    def __init__(self, engine: Engine, max_batch: int = 256, max_wait: float = 0.002) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._queue: queue.Queue[_Pending] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def insert(self, notification: dict[str, Any], event: dict[str, Any]) -> bool:
        """Insert a notification and its first history row; False if its request_id was
        taken. Returns once the row is committed; raises what the batch's commit raised."""
        pending = _Pending(notification, event)
        self._ensure_running()
        self._queue.put(pending)
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        return pending.inserted

    def _ensure_running(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="notify-batch-writer", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            deadline = time.monotonic() + self.max_wait
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            try:
                self._write(batch)
            except BaseException as error:  # every waiter learns of it, the thread goes on
                for pending in batch:
                    pending.error = error
            finally:
                for pending in batch:
                    pending.done.set()

    def _write(self, batch: list[_Pending]) -> None:
        with self.engine.begin() as connection:
            # one statement compiled once and cached, sent for many rows ("insertmanyvalues")
            statement = _insert_skipping_repeats(connection.dialect.name).returning(
                records.notifications.c.id
            )
            inserted = set(
                connection.execute(statement, [pending.notification for pending in batch]).scalars()
            )
            events = [pending.event for pending in batch if pending.notification["id"] in inserted]
            if events:
                connection.execute(insert(records.events), events)
        for pending in batch:
            pending.inserted = pending.notification["id"] in inserted


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
