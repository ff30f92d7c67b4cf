"""Migration 0007 adds the clients' previous webhook secret and takes it away again, on SQLite
and PostgreSQL, keeping the clients and their nonces either way."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import DATABASES
from tests.store.migrated_store import clients_across

BEFORE = "0006_verification_recorded_at"
PREVIOUS_SECRET_COLUMNS = {"previous_webhook_secret_encrypted", "previous_webhook_secret_until"}


@pytest.mark.parametrize("kind", DATABASES)
def test_the_previous_webhook_secret_comes_with_0007_and_goes_with_its_downgrade(
    kind: str, tmp_path: Path
) -> None:
    across = clients_across(
        kind,
        tmp_path,
        BEFORE,
        "heads",
        "select webhook_secret_encrypted, previous_webhook_secret_encrypted, "
        "previous_webhook_secret_until from clients",
    )

    assert across.upgraded >= PREVIOUS_SECRET_COLUMNS
    assert across.kept == ("sealed-hook", None, None)
    assert not PREVIOUS_SECRET_COLUMNS & across.downgraded
    # on SQLite, a copied and dropped clients table would take its nonces with it on cascade
    assert (across.clients, across.nonces) == (1, 1)
