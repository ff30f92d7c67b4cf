"""The store's answers to an operator looking into clients' webhooks: each client's backlog in
the outbox and its endpoints' waits with what each holds back, read in a few grouped queries,
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, event, text, update

from delivery.webhooks.endpoints import (
    EndpointWait,
    LiveWait,
    live_waits,
    put_off_due,
    remember_wait,
)
from delivery.webhooks.outbox import Backlog, backlogs
from store.client_webhooks import clients_webhooks
from store.clients import register_client
from store.database import session_factory
from store.secrets import SecretCipher
from store.tables_webhooks import WebhookDeliveryRow
from tests.delivery.webhook_helpers import (
    SHOP_HOOKS,
    START,
    enqueue_status,
    notification_calling_back,
    register_shop,
)

LATER = START + timedelta(minutes=5)
OLD_HOOKS = "https://shop.example/old-hooks"
CALLBACK = "https://shop.example/orders/callback"
# collations that order names otherwise than Python does (case and punctuation aside first)
POSTGRES_COLLATIONS = ("und-x-icu", "en-US-x-icu", "en_US.utf8")


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


def test_a_wait_holds_the_pending_events_a_dispatcher_sends_to_its_url_now(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)  # moved from OLD_HOOKS to SHOP_HOOKS since
    with session_factory(engine).begin() as session:
        bank = register_client(session, "bank", ["203.0.113.0/24"], cipher)  # no URL of its own
    notification_calling_back(engine, shop.key, CALLBACK)  # ntf_1, of every status event here
    enqueue_status(engine, shop.key, START, url=OLD_HOOKS)  # follows the shop to SHOP_HOOKS
    enqueue_status(engine, shop.key, START, url=SHOP_HOOKS)
    enqueue_status(engine, shop.key, START, url=CALLBACK)  # named: stays at CALLBACK
    settle(engine, enqueue_status(engine, shop.key, START), state="delivered", finished_at=START)
    enqueue_status(engine, bank.key, START, url=OLD_HOOKS)  # nowhere else to go
    waits = [(shop.key, url) for url in (OLD_HOOKS, SHOP_HOOKS, CALLBACK)]
    waits += [(bank.key, url) for url in (OLD_HOOKS, SHOP_HOOKS)]
    for client, url in waits:
        with engine.begin() as connection:
            remember_wait(connection, client_key=client, url=url, wait=EndpointWait(LATER))

    with engine.connect() as connection:
        shown = live_waits(connection, now=START)
    held = {(live.url, live.holds) for live in shown[shop.key]}
    held_by_bank = {(live.url, live.holds) for live in shown[bank.key]}
    # as many as a dispatcher that found the endpoint so would put off with it
    put_off = {}
    for client, url in waits:
        with engine.connect() as connection, connection.begin() as transaction:
            put_off[client, url], _ = put_off_due(
                connection,
                client_key=client,
                url=url,
                until=LATER,
                now=START,
                window=timedelta(days=1),
                asked_until=None,
            )
            transaction.rollback()

    assert held == {(OLD_HOOKS, 0), (SHOP_HOOKS, 2), (CALLBACK, 1)}
    assert held_by_bank == {(OLD_HOOKS, 1), (SHOP_HOOKS, 0)}
    assert {(url, put_off[shop.key, url]) for _, url in waits[:3]} == held
    assert {(url, put_off[bank.key, url]) for _, url in waits[3:]} == held_by_bank
    assert shown[shop.key][0] == LiveWait(SHOP_HOOKS, EndpointWait(LATER), 2)  # URLs in order


def test_clients_are_in_pythons_order_of_their_names_whatever_the_databases_collation(
    engine: Engine, cipher: SecretCipher
) -> None:
    names = ["bank", "Shop", "a-c", "ab", "_z", "Zed"]
    with session_factory(engine)() as session:
        if engine.dialect.name == "postgresql":
            # a database made with another locale orders names so (rolled back below)
            collation = session.scalar(
                text("SELECT collname FROM pg_collation WHERE collname = ANY(:names) LIMIT 1"),
                {"names": list(POSTGRES_COLLATIONS)},
            )
            assert collation is not None, "no collation with a language's order to test with"
            session.execute(
                text(
                    f'ALTER TABLE clients ALTER COLUMN name TYPE varchar(100) COLLATE "{collation}"'
                )
            )
        for name in names:
            register_client(session, name, ["203.0.113.0/24"], cipher)
        shown = [client.name for client in clients_webhooks(session, START)]
        session.rollback()

    assert shown == sorted(names) == ["Shop", "Zed", "_z", "a-c", "ab", "bank"]
