"""Migration 0007 adds the clients' previous webhook secret and takes it away again, on SQLite
and PostgreSQL, keeping the clients and their nonces either way."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text

from tests.conftest import DATABASES
from tests.store.migrated_store import store_at

BEFORE = "0006_verification_recorded_at"
PREVIOUS_SECRET_COLUMNS = {"previous_webhook_secret_encrypted", "previous_webhook_secret_until"}
A_CLIENT = (
    "insert into clients (name, consumer_key, secret_encrypted, webhook_secret_encrypted, "
    "allowed_cidrs, created_at) values ('bank', 'BankKey', 'sealed', 'sealed-hook', "
    "'[\"203.0.113.0/24\"]', '2026-11-27 12:00:00')"
)
ITS_NONCE = "insert into nonces (consumer_key, nonce, timestamp) values ('BankKey', 'n-1', 1)"


@pytest.mark.parametrize("kind", DATABASES)
def test_the_previous_webhook_secret_comes_with_0007_and_goes_with_its_downgrade(
    kind: str, tmp_path: Path
) -> None:
    with store_at(kind, tmp_path, BEFORE) as (engine, config):
        with engine.begin() as connection:
            connection.execute(text(A_CLIENT))
            connection.execute(text(ITS_NONCE))

        command.upgrade(config, "heads")
        upgraded = {column["name"] for column in inspect(engine).get_columns("clients")}
        with engine.connect() as connection:
            kept = connection.execute(
                text(
                    "select webhook_secret_encrypted, previous_webhook_secret_encrypted, "
                    "previous_webhook_secret_until from clients"
                )
            ).one()

        command.downgrade(config, BEFORE)
        downgraded = {column["name"] for column in inspect(engine).get_columns("clients")}
        with engine.connect() as connection:
            nonces = connection.execute(text("select count(*) from nonces")).scalar_one()
            clients = connection.execute(text("select count(*) from clients")).scalar_one()

    assert upgraded >= PREVIOUS_SECRET_COLUMNS
    assert tuple(kept) == ("sealed-hook", None, None)
    assert not PREVIOUS_SECRET_COLUMNS & downgraded
    # on SQLite, a copied and dropped clients table would take its nonces with it on cascade
    assert (clients, nonces) == (1, 1)
