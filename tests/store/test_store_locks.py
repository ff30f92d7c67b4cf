"""A store-wide lock: one process at a time does what it guards, on either dialect."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress

import pytest
from sqlalchemy import URL, create_engine, make_url, text
from sqlalchemy.pool import NullPool

from store import lock_watch
from store.database import StoreLockHeldError, held_alone_on_store
from tests.conftest import fresh_postgres_database

KEY = 0x7465_7374  # a key of this test's own


def test_a_second_holder_is_refused_at_once_and_the_lock_is_free_once_released(
    database_url: str,
) -> None:
    with (
        held_alone_on_store(database_url, KEY, "test.lock"),
        pytest.raises(StoreLockHeldError),
        held_alone_on_store(database_url, KEY, "test.lock"),
    ):
        pass

    with held_alone_on_store(database_url, KEY, "test.lock"):
        pass


# PostgreSQL's lock lives as long as its connection: PostgreSQL restarted, a failover, a proxy
# cutting the connection, and it is free for another process to take


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def checked_often(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lock_watch, "LOCK_CHECK_SECONDS", CHECK_SECONDS)


CHECK_SECONDS = 0.1
HOLDER = """
select pid from pg_locks
where locktype = 'advisory' and objsubid = 1 and granted and objid = :key
  and database = (select oid from pg_database where datname = current_database())
"""


def holder_of(url: str, key: int) -> int | None:
    """The process id of the backend holding the advisory lock `key`, or None."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return connection.execute(text(HOLDER), {"key": key}).scalar()
    finally:
        engine.dispose()


def cut_the_connection_holding(url: str, key: int) -> int:
    """End the backend holding the lock `key`, as PostgreSQL's restart would; its id."""
    pid = holder_of(url, key)
    assert pid is not None
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text("select pg_terminate_backend(:pid, 5000)"), {"pid": pid})
    finally:
        engine.dispose()
    return pid


def eventually(holds: Callable[[], object], within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while not holds():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.usefixtures("checked_often")
def test_a_lock_whose_connection_was_cut_is_taken_again_and_still_refuses_a_second_holder(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    told: list[str] = []
    with (
        caplog.at_level(logging.WARNING),
        held_alone_on_store(postgres_url, KEY, "test.lock", told.append),
    ):
        cut = cut_the_connection_holding(postgres_url, KEY)

        assert eventually(lambda: holder_of(postgres_url, KEY) not in (None, cut), within=1)
        with pytest.raises(StoreLockHeldError), held_alone_on_store(postgres_url, KEY, "x"):
            pass

    assert told == []
    assert "the store's test lock's connection was lost; the lock was taken again" in caplog.text
    assert holder_of(postgres_url, KEY) is None  # released on the new connection


@pytest.mark.usefixtures("checked_often")
def test_a_holder_whose_lock_another_took_after_its_connection_was_cut_is_told_it_lost_it(
    postgres_url: str,
) -> None:
    told: list[str] = []
    with ExitStack() as other_side:
        with held_alone_on_store(postgres_url, KEY, "test.lock", told.append):
            other = other_side.enter_context(waiting_for_the_lock(postgres_url, KEY))
            cut_the_connection_holding(postgres_url, KEY)

            assert eventually(lambda: told, within=1)
            assert holder_of(postgres_url, KEY) == other
        assert holder_of(postgres_url, KEY) == other  # the holder's end left it alone

    assert told == [
        "the store's test lock was lost with its connection, and another process took it"
    ]


@contextmanager
def waiting_for_the_lock(url: str, key: int) -> Iterator[int]:
    """Another process's connection, waiting for the lock `key` (granted it the moment it is
    free, before anyone else can try), held until the block ends; its backend's id."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            pid = connection.execute(text("select pg_backend_pid()")).scalar_one()
            take = text("select pg_advisory_lock(:key)")
            waiting = threading.Thread(target=connection.execute, args=(take, {"key": key}))
            waiting.start()
            assert eventually(lambda: waiting_on_a_lock(url, pid))
            yield pid
            waiting.join()
            assert holder_of(url, key) == pid
    finally:
        engine.dispose()


def waiting_on_a_lock(url: str, pid: int) -> bool:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            waiting = "select count(*) from pg_locks where pid = :pid and not granted"
            return bool(connection.execute(text(waiting), {"pid": pid}).scalar())
    finally:
        engine.dispose()


@pytest.mark.usefixtures("checked_often")
def test_a_holder_that_cannot_reach_the_store_gives_the_lock_up_after_a_few_checks(
    postgres_url: str,
) -> None:
    told: list[str] = []
    relay = TcpRelay(make_url(postgres_url))
    with relay, held_alone_on_store(relay.url, KEY, "test.lock", told.append):
        relay.stop()  # a proxy in front of the store ends, with its connections
        cut = time.monotonic()

        assert eventually(lambda: told, within=5)
        given_up = time.monotonic()

    assert told == [
        "the store's test lock was lost with its connection, and the store could not be "
        f"reached for {lock_watch.LOCK_RETAKE_CHECKS} checks"
    ]
    # a few checks' grace, for a restart of PostgreSQL: not at once, nor long after
    assert CHECK_SECONDS * lock_watch.LOCK_RETAKE_CHECKS <= given_up - cut < 3


class TcpRelay:
    """A TCP relay in front of the server of `target`, stopped with its connections."""

    def __init__(self, target: URL) -> None:
        self._target = (target.host or "127.0.0.1", target.port or 5432)
        self._listener = socket.create_server(("127.0.0.1", 0))
        port = self._listener.getsockname()[1]
        self.url = target.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
        self._sockets: list[socket.socket] = [self._listener]
        self._stopped = threading.Event()

    def __enter__(self) -> TcpRelay:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopped.set()
        for each in self._sockets:
            with suppress(OSError):
                each.shutdown(socket.SHUT_RDWR)
            each.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self._target)
            self._sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while chunk := source.recv(65536):
                sink.sendall(chunk)


@pytest.mark.usefixtures("checked_often")
def test_a_holder_that_ends_while_its_lock_is_being_taken_again_is_told_nothing(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    told: list[str] = []
    retaking, go_on = threading.Event(), threading.Event()
    retake = lock_watch.AdvisoryLockWatch._retake

    def slow_retake(self: lock_watch.AdvisoryLockWatch) -> bool | None:
        retaking.set()
        go_on.wait(5)  # a connect that waits out its time-out
        return retake(self)

    monkeypatch.setattr(lock_watch.AdvisoryLockWatch, "_retake", slow_retake)
    with ExitStack() as other_side:
        ending = threading.Thread(target=go_on.set)
        with held_alone_on_store(postgres_url, KEY, "test.lock", told.append):
            other_side.enter_context(waiting_for_the_lock(postgres_url, KEY))
            cut_the_connection_holding(postgres_url, KEY)
            assert retaking.wait(5)
            threading.Timer(0.2, ending.start).start()  # the retake ends as the block does
        ending.join(5)

    assert told == []  # the block's own end, not a loss to tell of
