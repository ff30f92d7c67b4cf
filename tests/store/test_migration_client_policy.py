"""Migration 0013 adds the clients' own notify policy and takes it away again, on SQLite and
PostgreSQL, keeping the clients and their nonces either way."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text

from tests.conftest import DATABASES
from tests.store.migrated_store import A_CLIENT, ITS_NONCE, store_at

BEFORE = "0012_client_secret_rotation"


@pytest.mark.parametrize("kind", DATABASES)
def test_the_clients_notify_policy_comes_with_0013_and_goes_with_its_downgrade(
    kind: str, tmp_path: Path
) -> None:
    with store_at(kind, tmp_path, BEFORE) as (engine, config):
        with engine.begin() as connection:
            connection.execute(text(A_CLIENT))
            connection.execute(text(ITS_NONCE))

        command.upgrade(config, "0013_client_notify_policy")
        upgraded = {column["name"] for column in inspect(engine).get_columns("clients")}
        with engine.connect() as connection:
            kept = connection.execute(text("select name, notify_policy from clients")).one()

        command.downgrade(config, BEFORE)
        downgraded = {column["name"] for column in inspect(engine).get_columns("clients")}
        with engine.connect() as connection:
            nonces = connection.execute(text("select count(*) from nonces")).scalar_one()
            clients = connection.execute(text("select count(*) from clients")).scalar_one()

    assert "notify_policy" in upgraded and "notify_policy" not in downgraded
    assert tuple(kept) == ("bank", None)  # a client from before keeps the service's policy
    # on SQLite, a copied and dropped clients table would take its nonces with it on cascade
    assert (clients, nonces) == (1, 1)
