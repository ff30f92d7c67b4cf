"""Migration 0015 indexes the notifications by their last move and lets the billing ledger
outlive them, on SQLite and PostgreSQL; undone, the index goes and every bill stays."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text

from tests.conftest import DATABASES
from tests.delivery.webhook_helpers import notification_calling_back
from tests.store.migrated_store import A_CLIENT, store_at

BEFORE = "0014_verification_codes"
RETENTION = "0015_notification_retention"
ITS_BILL = (
    "insert into billing_ledger (notification_id, client_key, channel, country, price, "
    "currency, delivered_at, month) values ('ntf_1', 'BankKey', 'vk', 'RU', 0.45, 'RUB', "
    "'2026-11-27 12:00:00', '2026-11')"
)


def indexes_of_notifications(engine: Engine) -> set[str]:
    return {str(index["name"]) for index in inspect(engine).get_indexes("notifications")}


def bills(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("select count(*) from billing_ledger")).scalar_one())


@pytest.mark.parametrize("kind", DATABASES)
def test_0015_lets_a_bill_outlive_its_notification_and_its_downgrade_keeps_every_bill(
    kind: str, tmp_path: Path
) -> None:
    with store_at(kind, tmp_path, BEFORE) as (engine, config):
        with engine.begin() as connection:
            connection.execute(text(A_CLIENT))
        notification_calling_back(engine, "BankKey", "https://bank.example/hooks")
        with engine.begin() as connection:
            connection.execute(text(ITS_BILL))

        command.upgrade(config, RETENTION)
        upgraded = indexes_of_notifications(engine)
        ledger_keys = inspect(engine).get_foreign_keys("billing_ledger")
        with engine.begin() as connection:  # forgotten, as the retention forgets it
            connection.execute(text("delete from notifications where id = 'ntf_1'"))
        bills_after_forgetting = bills(engine)

        command.downgrade(config, BEFORE)
        downgraded = indexes_of_notifications(engine)
        bills_after_downgrade = bills(engine)
        command.upgrade(config, RETENTION)  # again, over the ledger the downgrade left

    assert "ix_notifications_updated_at_id" in upgraded
    assert "ix_notifications_updated_at_id" not in downgraded
    assert ledger_keys == []
    assert (bills_after_forgetting, bills_after_downgrade) == (1, 1)
