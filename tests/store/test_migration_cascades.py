"""Migrations that drop a column of a table others refer to, on SQLite and PostgreSQL: 0010
(`notifications.next_try_at`) and 0002_webhooks (`clients.webhook_url`) keep every row of
the tables that refer to theirs when they are undone."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import func, inspect, select, text
from sqlalchemy.orm import Session

from store.database import alembic_config, make_engine
from store.tables_notifications import NotificationEventRow
from tests.conftest import DATABASES, fresh_database
from tests.delivery.webhook_helpers import START, notification_calling_back

BEFORE = "0009_expired_waiting_for_sms"
A_CLIENT = (
    "insert into clients (name, consumer_key, secret_encrypted, webhook_secret_encrypted, "
    "allowed_cidrs, created_at) values ('bank', 'BankKey', 'sealed', 'sealed-hook', "
    "'[\"203.0.113.0/24\"]', '2026-11-27 12:00:00')"
)
ITS_NONCE = "insert into nonces (consumer_key, nonce, timestamp) values ('BankKey', 'n-1', 1)"


@pytest.mark.parametrize("kind", DATABASES)
def test_next_try_at_comes_with_0010_and_goes_with_its_downgrade_keeping_the_history(
    kind: str, tmp_path: Path
) -> None:
    with fresh_database(kind, tmp_path) as url:
        engine = make_engine(url)
        try:
            config = alembic_config(engine)
            command.upgrade(config, "heads")
            with engine.begin() as connection:
                connection.execute(text(A_CLIENT))
            notification_calling_back(engine, "BankKey", "https://bank.example/hooks")
            with Session(engine) as session, session.begin():
                session.add(
                    NotificationEventRow(
                        notification_id="ntf_1", status="delivered", at=START, detail={}
                    )
                )
            upgraded = {column["name"] for column in inspect(engine).get_columns("notifications")}

            command.downgrade(config, BEFORE)
            downgraded = {column["name"] for column in inspect(engine).get_columns("notifications")}
            with engine.connect() as connection:
                history = connection.execute(
                    select(func.count()).select_from(NotificationEventRow.__table__)
                ).scalar_one()
        finally:
            engine.dispose()

    assert "next_try_at" in upgraded
    assert "next_try_at" not in downgraded
    # on SQLite, a copied and dropped notifications table would take its history with it
    assert history == 1


@pytest.mark.parametrize("kind", DATABASES)
def test_going_below_the_webhooks_migration_keeps_every_client_and_what_is_theirs(
    kind: str, tmp_path: Path
) -> None:
    # 0002_webhooks' downgrade drops a column of `clients`: copied and dropped on SQLite, the
    # table took its nonces, templates and notifications with it on cascade
    with fresh_database(kind, tmp_path) as url:
        engine = make_engine(url)
        try:
            config = alembic_config(engine)
            command.upgrade(config, "heads")
            with engine.begin() as connection:
                connection.execute(text(A_CLIENT))
                connection.execute(text(ITS_NONCE))
            notification_calling_back(engine, "BankKey", "https://bank.example/hooks")

            command.downgrade(config, "0008_webhook_endpoint_waits@-2")  # below 0002_webhooks
            with engine.connect() as connection:
                kept = [
                    connection.execute(text(f"select count(*) from {table}")).scalar_one()
                    for table in ("clients", "nonces", "notifications")
                ]
        finally:
            engine.dispose()

    assert kept == [1, 1, 1]
