"""Migration 0021 rounds the billing ledger's prices of more than four places, written before
the core rounded them, as PostgreSQL's numeric(12, 4) kept them: half away from zero. A
month's bill of such a store is then the same on SQLite as on PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from delivery import records
from tests.conftest import DATABASES
from tests.store.migrated_store import store_at

BEFORE = "0019_mend_edited_notifications"
ROUNDED = "0021_ledger_prices_rounded"
# a tenth of 4.5555 (twice: each entry of a price is rounded) and of 4.5565, as billed
# before: five places, each a tie at the fifth
UNROUNDED = ("0.45555", "0.45555", "0.45565")
ENTRY = (
    "insert into billing_ledger (notification_id, client_key, channel, country, price, "
    "currency, delivered_at, month) values (:id, 'BankKey', 'vk', '7', :price, 'RUB', "
    "'2026-11-02 10:00:00', '2026-11')"
)


@pytest.mark.parametrize("kind", DATABASES)
def test_0021_rounds_the_ledgers_prices_half_away_from_zero_on_either_store(
    kind: str, tmp_path: Path
) -> None:
    with store_at(kind, tmp_path, BEFORE) as (engine, config):
        with engine.begin() as connection:
            for number, price in enumerate(UNROUNDED):
                # bound as a float, as SQLite's driver was handed the decimal
                connection.execute(text(ENTRY), {"id": f"ntf_{number}", "price": float(price)})

        command.upgrade(config, ROUNDED)
        command.upgrade(config, "heads")  # and again, finding nothing left to round

        with engine.connect() as connection:
            bill = records.billing_report(connection, "BankKey", "2026-11")

    assert [(line["price"], line["delivered"], line["amount"]) for line in bill] == [
        (Decimal("0.4556"), 2, Decimal("0.9112")),
        (Decimal("0.4557"), 1, Decimal("0.4557")),
    ]
