"""Migrations that drop a column of a table others refer to, on SQLite and PostgreSQL: 0010
(`notifications.next_try_at`), 0002_webhooks (`clients.webhook_url`), 0012
(`clients.previous_secret_…`), 0013 (`clients.notify_policy`), 0014
(`notifications.reverify`) and 0016 (`notifications.sms_validity_seconds`) keep every row of
the tables that refer to theirs when they are undone. On SQLite, a table copied and dropped
with foreign keys on takes those rows with it, on cascade."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from store.database import alembic_config, make_engine
from store.tables_notifications import NotificationEventRow
from tests.conftest import DATABASES, fresh_database
from tests.delivery.webhook_helpers import START, notification_calling_back
from tests.store.migrated_store import A_CLIENT, ITS_NONCE

KEPT = ("clients", "nonces", "notifications", "notification_events")


@contextmanager
def a_store_in_use(kind: str, folder: Path) -> Iterator[tuple[Engine, Config]]:
    """A store at this release's heads with a client, its nonce, and a notification with an
    entry of its history."""
    with fresh_database(kind, folder) as url:
        engine = make_engine(url)
        try:
            config = alembic_config(engine)
            command.upgrade(config, "heads")
            with engine.begin() as connection:
                connection.execute(text(A_CLIENT))
                connection.execute(text(ITS_NONCE))
            notification_calling_back(engine, "BankKey", "https://bank.example/hooks")
            with Session(engine) as session, session.begin():
                session.add(
                    NotificationEventRow(
                        notification_id="ntf_1", status="delivered", at=START, detail={}
                    )
                )
            yield engine, config
        finally:
            engine.dispose()


def counts(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        return [
            connection.execute(text(f"select count(*) from {table}")).scalar_one() for table in KEPT
        ]


@pytest.mark.parametrize("kind", DATABASES)
@pytest.mark.parametrize(
    "below",
    [
        "0009_expired_waiting_for_sms",
        "0008_webhook_endpoint_waits@-2",
        "0011_client_action_age",
        "0012_client_secret_rotation",
        "0013_client_notify_policy",
        "0015_notification_retention",
    ],
    ids=[
        "0010 undone",
        "0002_webhooks undone",
        "0012 undone",
        "0013 undone",
        "0014 undone",
        "0016 undone",
    ],
)
def test_undoing_a_migration_keeps_every_client_and_what_is_theirs(
    kind: str, below: str, tmp_path: Path
) -> None:
    with a_store_in_use(kind, tmp_path) as (engine, config):
        command.downgrade(config, below)

        assert counts(engine) == [1, 1, 1, 1]
