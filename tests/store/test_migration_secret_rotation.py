"""Migration 0012 adds the clients' previous consumer secret and takes it away again, on SQLite
and PostgreSQL, keeping the clients and their nonces either way."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text

from tests.conftest import DATABASES
from tests.store.migrated_store import store_at
from tests.store.test_migration_previous_webhook_secret import A_CLIENT, ITS_NONCE

BEFORE = "0011_client_action_age"
ROTATION_COLUMNS = {"previous_secret_encrypted", "previous_secret_until"}


@pytest.mark.parametrize("kind", DATABASES)
def test_the_previous_consumer_secret_comes_with_0012_and_goes_with_its_downgrade(
    kind: str, tmp_path: Path
) -> None:
    with store_at(kind, tmp_path, BEFORE) as (engine, config):
        with engine.begin() as connection:
            connection.execute(text(A_CLIENT))
            connection.execute(text(ITS_NONCE))

        command.upgrade(config, "0012_client_secret_rotation")
        upgraded = {column["name"] for column in inspect(engine).get_columns("clients")}
        with engine.connect() as connection:
            kept = connection.execute(
                text(
                    "select secret_encrypted, previous_secret_encrypted, "
                    "previous_secret_until from clients"
                )
            ).one()

        command.downgrade(config, BEFORE)
        downgraded = {column["name"] for column in inspect(engine).get_columns("clients")}
        with engine.connect() as connection:
            nonces = connection.execute(text("select count(*) from nonces")).scalar_one()
            clients = connection.execute(text("select count(*) from clients")).scalar_one()

    assert upgraded >= ROTATION_COLUMNS
    assert tuple(kept) == ("sealed", None, None)
    assert not ROTATION_COLUMNS & downgraded
    # on SQLite, a copied and dropped clients table would take its nonces with it on cascade
    assert (clients, nonces) == (1, 1)
