"""The store's answers to an operator looking into clients' webhooks: each client's backlog in
the outbox and its endpoints' waits, read in a few grouped queries, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, event, update

from delivery.webhooks.endpoints import EndpointWait, remember_wait
from delivery.webhooks.outbox import Backlog, backlogs
from store.clients import clients_webhooks
from store.database import session_factory
from store.secrets import SecretCipher
from store.tables_webhooks import WebhookDeliveryRow
from tests.delivery.webhook_helpers import SHOP_HOOKS, START, enqueue_status, register_shop

LATER = START + timedelta(minutes=5)


def settle(engine: Engine, event_id: str, **values: Any) -> None:
    with engine.begin() as connection:
        table = WebhookDeliveryRow
        connection.execute(update(table).where(table.event_id == event_id).values(**values))


@contextmanager
def statements_counted(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements run on `engine` meanwhile."""
    run: list[str] = []

    def count(*args: Any) -> None:
        run.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield run
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_backlog_counts_each_clients_pending_events_apart_and_those_due_among_them(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    bank = register_shop(engine, cipher, name="bank")
    settle(engine, enqueue_status(engine, shop.key, START), state="delivered", finished_at=START)
    settle(engine, enqueue_status(engine, shop.key, START), state="given_up", finished_at=START)
    for _ in range(2):
        enqueue_status(engine, shop.key, START)
    settle(engine, enqueue_status(engine, shop.key, START), next_attempt_at=LATER)
    enqueue_status(engine, bank.key, START - timedelta(seconds=1))

    with engine.connect() as connection:
        every = backlogs(connection, now=START)
        shops = backlogs(connection, now=START, client_keys=[shop.key])

    assert every == {
        shop.key: Backlog(pending=3, due=2, next_attempt_at=START),
        bank.key: Backlog(pending=1, due=1, next_attempt_at=START - timedelta(seconds=1)),
    }
    assert shops == {shop.key: every[shop.key]}


def test_the_webhooks_of_any_number_of_clients_are_read_in_three_statements(
    engine: Engine, cipher: SecretCipher
) -> None:
    def with_clients(count: int) -> int:
        for n in range(count):
            client = register_shop(engine, cipher, name=f"shop-{count}-{n}")
            enqueue_status(engine, client.key, START)
            wait = EndpointWait(LATER, LATER, "HTTP 429")
            with engine.begin() as connection:
                remember_wait(connection, client_key=client.key, url=SHOP_HOOKS, wait=wait)
        with session_factory(engine)() as session, statements_counted(engine) as run:
            shown = clients_webhooks(session, START)
        assert all(client.waits and client.backlog.pending == 1 for client in shown)
        return len(run)

    assert with_clients(2) == with_clients(20) == 3
