"""Migration 0016 gives each notification an SMS validity of its own and its SMS's deadline, on
SQLite and PostgreSQL: the notifications accepted before keep the service's validity (null) and
have no deadline (null: a report awaited from the last move, as before), and undone, the
columns go with every notification and its history kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text
from sqlalchemy.orm import Session

from store.tables_notifications import NotificationEventRow
from tests.api.service import NOW
from tests.conftest import DATABASES
from tests.delivery.webhook_helpers import START, notification_calling_back
from tests.store.migrated_store import A_CLIENT, store_at

BEFORE = "0015_notification_retention"
SMS_VALIDITY = "0016_notification_sms_validity"
FIVE_MINUTES = 300


def columns_of_notifications(engine: Engine) -> set[str]:
    return {str(column["name"]) for column in inspect(engine).get_columns("notifications")}


def validities(engine: Engine) -> list[tuple[object, object]]:
    with engine.connect() as connection:
        query = "select sms_validity_seconds, sms_valid_until from notifications order by id"
        return [(row[0], row[1]) for row in connection.execute(text(query))]


def kept(engine: Engine) -> tuple[int, int]:
    with engine.connect() as connection:
        return (
            int(connection.execute(text("select count(*) from notifications")).scalar_one()),
            int(connection.execute(text("select count(*) from notification_events")).scalar_one()),
        )


@pytest.mark.parametrize("kind", DATABASES)
def test_0016_leaves_earlier_notifications_to_the_services_validity_and_undone_keeps_them(
    kind: str, tmp_path: Path
) -> None:
    with store_at(kind, tmp_path, BEFORE) as (engine, config):
        with engine.begin() as connection:
            connection.execute(text(A_CLIENT))
        notification_calling_back(engine, "BankKey", "https://bank.example/hooks")
        with Session(engine) as session, session.begin():
            session.add(
                NotificationEventRow(
                    notification_id="ntf_1", status="delivered", at=START, detail={}
                )
            )

        command.upgrade(config, SMS_VALIDITY)
        before_it = validities(engine)
        with engine.begin() as connection:  # one that chose a validity, as accepted now
            connection.execute(
                text(
                    "update notifications set sms_validity_seconds = :seconds, "
                    "sms_valid_until = :until where id = 'ntf_1'"
                ),
                {"seconds": FIVE_MINUTES, "until": NOW},
            )
        chosen = validities(engine)

        command.downgrade(config, BEFORE)
        downgraded = columns_of_notifications(engine)
        after_downgrade = kept(engine)
        command.upgrade(config, SMS_VALIDITY)  # again, over what the downgrade left
        upgraded_again = validities(engine)

    assert before_it == [(None, None)]  # the service's own, as it was
    assert chosen[0][0] == FIVE_MINUTES and chosen[0][1] is not None
    assert not {"sms_validity_seconds", "sms_valid_until"} & downgraded
    assert after_downgrade == (1, 1)  # on SQLite, not deleted on cascade by a copied table
    assert upgraded_again == [(None, None)]
