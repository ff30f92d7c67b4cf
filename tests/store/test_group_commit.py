"""Group commit: many callers' writes in one transaction a batch, and one item the database
refuses failing only its own caller. The writer with a recording fake, then the notify path's
batch writer on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from delivery import records
from delivery.acceptor import BatchWriter
from store.clients import register_client
from store.group_commit import GroupWriter
from store.secrets import SecretCipher

POISONED = "poisoned"
# long enough that a writer lingers until its batch is full, never so long that a test waits
LINGER = 30.0


class RecordingBatches:
    """A `write_batch` that records each batch it is given and refuses any holding POISONED,
    as a database refuses a whole transaction for one row."""

    def __init__(self, error: Exception | None = None) -> None:
        self.batches: list[list[str]] = []
        self.error = error

    def __call__(self, items: list[str]) -> Sequence[str]:
        self.batches.append(list(items))
        if self.error is not None:
            raise self.error
        if POISONED in items:
            raise ValueError(f"cannot store {POISONED!r}")
        return [item.upper() for item in items]


def writer_of(batches: RecordingBatches, size: int) -> GroupWriter[str, str]:
    """A writer that gathers exactly `size` items into its first batch."""
    return GroupWriter(batches, name="test-writer", max_batch=size, max_wait=LINGER)


def test_a_batch_of_callers_is_written_in_one_transaction() -> None:
    batches = RecordingBatches()
    writer = writer_of(batches, 3)

    futures = [writer.submit(item) for item in ("a", "b", "c")]

    assert [future.result(timeout=LINGER) for future in futures] == ["A", "B", "C"]
    assert batches.batches == [["a", "b", "c"]]


def test_an_item_that_fails_fails_its_caller_alone_and_the_others_get_their_outcomes() -> None:
    batches = RecordingBatches()
    writer = writer_of(batches, 3)

    first, poisoned, last = (writer.submit(item) for item in ("a", POISONED, "b"))

    assert first.result(timeout=LINGER) == "A"
    assert last.result(timeout=LINGER) == "B"
    with pytest.raises(ValueError, match=POISONED):
        poisoned.result(timeout=LINGER)
    assert batches.batches == [["a", POISONED, "b"], ["a"], [POISONED], ["b"]]


def test_an_item_failing_alone_is_not_written_again() -> None:
    batches = RecordingBatches()
    writer = writer_of(batches, 1)

    with pytest.raises(ValueError, match=POISONED):
        writer.write(POISONED)

    assert batches.batches == [[POISONED]]


def test_a_failure_of_the_store_itself_reaches_every_caller_at_once() -> None:
    down = OperationalError("INSERT", {}, ConnectionRefusedError("the store is down"))
    batches = RecordingBatches(error=down)
    writer = writer_of(batches, 3)

    futures = [writer.submit(item) for item in ("a", "b", "c")]

    for future in futures:
        with pytest.raises(OperationalError):
            future.result(timeout=LINGER)
    assert batches.batches == [["a", "b", "c"]]


def test_the_writer_goes_on_after_a_failed_batch() -> None:
    batches = RecordingBatches()
    writer = writer_of(batches, 1)

    with pytest.raises(ValueError, match=POISONED):
        writer.write(POISONED)

    assert writer.write("a") == "A"


# the notify path's batch writer, on each store

NOW = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


def notification_rows(client_key: str, number: int, text: str = "Order A-17 is ready") -> Any:
    """A notification row as the notify service accepts it, and its first history row."""
    notification_id = f"ntf_{number:024d}"
    notification = {
        "id": notification_id,
        "client_key": client_key,
        "request_id": f"r-{number}",
        "request_hash": "0" * 64,
        "phone": "+79234567823",
        "country": "7",
        "template_id": "tpl_order",
        "text": text,
        "action_type": "order",
        "action_at": NOW - timedelta(minutes=5),
        "sensitive": False,
        "mobile_only": False,
        "fallback": "sms",
        "callback_url": None,
        "decision": "deliver",
        "policy_case": "fresh_owner",
        "number_status": "verified",
        "reasons": [],
        "status": "accepted",
        "channel": None,
        "provider_id": None,
        "created_at": NOW,
        "expires_at": NOW + timedelta(hours=1),
        "updated_at": NOW,
        "answer": {"id": notification_id, "action": "deliver", "status": "accepted"},
    }
    event = {"notification_id": notification_id, "status": "accepted", "at": NOW, "detail": {}}
    return notification, event


async def insert_together(writer: BatchWriter, rows: list[Any]) -> list[bool | BaseException]:
    """Each row's outcome, the rows handed to the writer at once, as concurrent requests do."""
    inserts = (writer.insert_async(notification, event) for notification, event in rows)
    return await asyncio.gather(*inserts, return_exceptions=True)


def stored(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(select(records.notifications.c.request_id)).scalars())


@pytest.fixture
def client_key(sessions: sessionmaker[Session], cipher: SecretCipher) -> str:
    with sessions.begin() as session:
        return register_client(session, "bank", ["127.0.0.0/8"], cipher).key


def test_a_row_the_store_refuses_fails_only_its_own_request_on_each_store(
    engine: Engine, client_key: str
) -> None:
    writer = BatchWriter(engine, max_batch=3, max_wait=LINGER)
    rows = [
        notification_rows(client_key, 1),
        notification_rows("no-such-client", 2),  # its client is unknown: a foreign key fails
        notification_rows(client_key, 3),
    ]

    first, refused, last = asyncio.run(insert_together(writer, rows))

    assert (first, last) == (True, True)
    assert isinstance(refused, IntegrityError)
    assert stored(engine) == {"r-1", "r-3"}
    with engine.connect() as connection:
        events = select(func.count()).select_from(records.events)
        assert connection.execute(events).scalar() == 2


def test_a_nul_character_on_postgresql_fails_only_its_own_request(
    engine: Engine, client_key: str
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite stores a NUL character; PostgreSQL's text cannot")
    writer = BatchWriter(engine, max_batch=3, max_wait=LINGER)
    rows = [
        notification_rows(client_key, 1),
        notification_rows(client_key, 2, text="Order A\x0017 is ready"),
        notification_rows(client_key, 3),
    ]

    first, refused, last = asyncio.run(insert_together(writer, rows))

    assert (first, last) == (True, True)
    assert isinstance(refused, DataError)
    assert stored(engine) == {"r-1", "r-3"}
