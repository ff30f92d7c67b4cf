"""Watching a store-wide lock held on PostgreSQL (`store.database.held_alone_on_store`).

A session advisory lock lives as long as its connection: PostgreSQL restarted, a failover, a
proxy or firewall cutting the connection, and the lock is gone, free for another process to
take, while the process that took it would run on as if it held it. A thread checks the lock's
connection every `LOCK_CHECK_SECONDS`; on a loss it takes the lock again on a new connection,
or tells the holder that it lost it (`on_lost`), who must stop doing what the lock guards.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

# how often the lock's connection is checked: a loss is noticed within this many seconds
LOCK_CHECK_SECONDS = 3.0
# While the store cannot be reached, the lock cannot be taken again, nor can another process
# take it; the jobs fail anyway without the store, but the channel simulators keep in memory
# what they took, lost if the process stops. So a PostgreSQL restart or failover of a few
# seconds is ridden out: the lock is tried again at each of this many checks before it is
# given up as lost. No longer: the store may be out of this process's reach only (a network
# cut), and another process may hold the lock meanwhile.
LOCK_RETAKE_CHECKS = 3

# libpq's timeouts on the lock's connection, so that a check on a connection cut without a
# word (a firewall dropping its packets) fails within seconds instead of TCP's minutes
LOCK_CONNECTION_TIMEOUTS: dict[str, int] = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,  # milliseconds
}

# whether this connection's backend holds the advisory lock of one bigint key (pg_locks shows
# its high and low halves as classid and objid, objsubid 1; a key is the database's own)
STILL_HELD = """
select count(*) from pg_locks
where locktype = 'advisory' and pid = pg_backend_pid() and objsubid = 1 and granted
  and (classid::bigint << 32) | objid::bigint = :key
"""
# the backend holding the lock, with its start: ours if they are those of the connection lost
HOLDER = """
select locks.pid, activity.backend_start
from pg_locks as locks join pg_stat_activity as activity on activity.pid = locks.pid
where locks.locktype = 'advisory' and locks.objsubid = 1 and locks.granted
  and locks.database = (select oid from pg_database where datname = current_database())
  and (locks.classid::bigint << 32) | locks.objid::bigint = :key
"""
BACKEND = "select pid, backend_start from pg_stat_activity where pid = pg_backend_pid()"


def warn_lost(why: str) -> None:
    """What a holder that asks for nothing else learns of a loss: a warning."""
    log.warning("%s", why)


class AdvisoryLockWatch:
    """Checks that `connection` still holds the advisory lock `key` of the store `engine`,
    from a daemon thread, until `stop()`; takes it again on a new connection when that one
    was lost, or calls `on_lost` (from that thread) with a sentence saying why it could not."""

    def __init__(
        self,
        engine: Engine,
        connection: Connection,
        key: int,
        name: str,
        on_lost: Callable[[str], None],
    ) -> None:
        self._engine = engine
        self._connection: Connection | None = connection
        self._backend = _backend_of(connection)
        self._key = key
        self._name = name.removesuffix(".lock")  # its lock file's name on SQLite
        self._on_lost = on_lost
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"lock-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> Connection | None:
        """Stop watching: the connection holding the lock now, or None when it was lost."""
        self._stopping.set()
        if self._thread is not threading.current_thread():  # on_lost may end the block
            self._thread.join()
        return self._connection

    def _watch(self) -> None:
        failed = 0  # retakes that failed for want of the store
        while not self._stopping.wait(LOCK_CHECK_SECONDS):
            if failed == 0 and self._still_held():
                continue
            retaken = self._retake()
            if retaken:
                log.warning(
                    "the store's %s lock's connection was lost; the lock was taken again",
                    self._name,
                )
                failed = 0
                continue
            failed += 1
            if retaken is None and failed < LOCK_RETAKE_CHECKS:
                continue
            self._let_go()
            if self._stopping.is_set():  # the block ended meanwhile: it holds nothing now
                return
            because = (
                "another process took it"
                if retaken is False
                else f"the store could not be reached for {failed} checks"
            )
            self._on_lost(
                f"the store's {self._name} lock was lost with its connection, and {because}"
            )
            return

    def _still_held(self) -> bool:
        connection = self._connection
        if connection is None:
            return False
        try:
            held = connection.execute(text(STILL_HELD), {"key": self._key}).scalar()
            connection.commit()
        except DBAPIError:
            return False
        return bool(held)

    def _retake(self) -> bool | None:
        """Take the lock on a new connection: True when taken, False when another process
        holds it, None when it cannot be known (the store cannot be reached)."""
        self._let_go()
        try:
            connection = self._engine.connect()
        except DBAPIError:
            return None
        try:
            taken = self._try_lock(connection)
            if not taken and self._held_by_the_lost_backend(connection):
                # the server has not yet noticed that our old connection is gone (cut without
                # a word): that backend is ours, and ended here
                taken = self._try_lock(connection)
        except DBAPIError:
            _close_quietly(connection)
            return None
        if not taken:
            _close_quietly(connection)
            return False
        self._connection = connection
        self._backend = _backend_of(connection)
        return True

    def _try_lock(self, connection: Connection) -> bool:
        taken = connection.execute(text("select pg_try_advisory_lock(:key)"), {"key": self._key})
        held = bool(taken.scalar())
        connection.commit()
        return held

    def _held_by_the_lost_backend(self, connection: Connection) -> bool:
        holder = connection.execute(text(HOLDER), {"key": self._key}).first()
        if holder is None or self._backend is None or tuple(holder) != self._backend:
            return False
        connection.execute(text("select pg_terminate_backend(:pid, 5000)"), {"pid": holder[0]})
        connection.commit()
        return True

    def _let_go(self) -> None:
        if self._connection is not None:
            _close_quietly(self._connection)
            self._connection = None


def _backend_of(connection: Connection) -> tuple[int, datetime] | None:
    """The backend's process id and start, which name it even once its id is reused."""
    try:
        row = connection.execute(text(BACKEND)).first()
        connection.commit()
    except DBAPIError:
        return None
    return None if row is None else (row[0], row[1])


def _close_quietly(connection: Connection) -> None:
    with suppress(DBAPIError):
        connection.close()
