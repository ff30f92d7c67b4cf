"""Migration 0012 adds the clients' previous consumer secret and takes it away again, on SQLite
and PostgreSQL, keeping the clients and their nonces either way."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import DATABASES
from tests.store.migrated_store import clients_across

BEFORE = "0011_client_action_age"
ROTATION_COLUMNS = {"previous_secret_encrypted", "previous_secret_until"}


@pytest.mark.parametrize("kind", DATABASES)
def test_the_previous_consumer_secret_comes_with_0012_and_goes_with_its_downgrade(
    kind: str, tmp_path: Path
) -> None:
    across = clients_across(
        kind,
        tmp_path,
        BEFORE,
        "0012_client_secret_rotation",
        "select secret_encrypted, previous_secret_encrypted, previous_secret_until from clients",
    )

    assert across.upgraded >= ROTATION_COLUMNS
    assert across.kept == ("sealed", None, None)
    assert not ROTATION_COLUMNS & across.downgraded
    # on SQLite, a copied and dropped clients table would take its nonces with it on cascade
    assert (across.clients, across.nonces) == (1, 1)
