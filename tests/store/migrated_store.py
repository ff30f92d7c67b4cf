"""A store of either dialect migrated to a given revision, for the tests of one migration: put
rows in at the revision before it, upgrade, downgrade, and look."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect, text

from store.database import alembic_config, make_engine
from tests.conftest import fresh_database


@contextmanager
def store_at(kind: str, folder: Path, revision: str) -> Iterator[tuple[Engine, Config]]:
    """A new database of `kind` migrated to `revision`, with Alembic's configuration for it."""
    with fresh_database(kind, folder) as url:
        engine = make_engine(url)
        try:
            config = alembic_config(engine)
            command.upgrade(config, revision)
            yield engine, config
        finally:
            engine.dispose()


# a client and a nonce of it, at any revision since the clients had webhook secrets
A_CLIENT = (
    "insert into clients (name, consumer_key, secret_encrypted, webhook_secret_encrypted, "
    "allowed_cidrs, created_at) values ('bank', 'BankKey', 'sealed', 'sealed-hook', "
    "'[\"203.0.113.0/24\"]', '2026-11-27 12:00:00')"
)
ITS_NONCE = "insert into nonces (consumer_key, nonce, timestamp) values ('BankKey', 'n-1', 1)"


@dataclass(frozen=True)
class ClientsAcross:
    """What a migration of the clients table did to a client and its nonce, up and down."""

    upgraded: set[str]  # the table's columns after the upgrade
    kept: tuple[Any, ...]  # what `read` found of the client after it
    downgraded: set[str]  # its columns after the downgrade
    clients: int
    nonces: int


def clients_across(kind: str, folder: Path, before: str, after: str, read: str) -> ClientsAcross:
    """A client with a nonce put in at `before`, upgraded to `after`, read by `read`, and
    downgraded to `before` again."""
    with store_at(kind, folder, before) as (engine, config):
        with engine.begin() as connection:
            connection.execute(text(A_CLIENT))
            connection.execute(text(ITS_NONCE))
        command.upgrade(config, after)
        upgraded = {column["name"] for column in inspect(engine).get_columns("clients")}
        with engine.connect() as connection:
            kept = tuple(connection.execute(text(read)).one())
        command.downgrade(config, before)
        downgraded = {column["name"] for column in inspect(engine).get_columns("clients")}
        with engine.connect() as connection:
            nonces = connection.execute(text("select count(*) from nonces")).scalar_one()
            clients = connection.execute(text("select count(*) from clients")).scalar_one()
    return ClientsAcross(upgraded, kept, downgraded, clients, nonces)
