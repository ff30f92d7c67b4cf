"""Migration 0010 adds `notifications.next_try_at` and takes it away again, on SQLite and
PostgreSQL, keeping every notification and its history either way."""

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
