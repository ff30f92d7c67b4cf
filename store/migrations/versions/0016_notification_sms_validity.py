"""`notifications.sms_validity_seconds`: how long a notification's SMS stays worth delivering
from when it is first claimed for SMS, as its client chose it (`sms_validity` on
`POST /v1/notify`); null, the service's own (OWNERSHIP_SMS_VALIDITY_SECONDS), which is what
every notification accepted before got. And `notifications.sms_valid_until`: the moment its
SMS stops being worth delivering, set once at that first claim; null for every notification
before (one whose SMS was sent has its report awaited from its last move, as before).

Added and dropped in place on SQLite (3.35 and later), not by copying the table: dropping
`notifications` with foreign keys on would delete their history on cascade. Undone, the
notifications that chose a validity get the service's again, and their SMS's report is awaited
from their last move.

Revision ID: 0016_notification_sms_validity
Revises: 0015_notification_retention
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.tables import UtcDateTime

revision = "0016_notification_sms_validity"
down_revision = "0015_notification_retention"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications", recreate="never") as table:
        table.add_column(sa.Column("sms_validity_seconds", sa.Integer(), nullable=True))
        table.add_column(sa.Column("sms_valid_until", UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications", recreate="never") as table:
        table.drop_column("sms_valid_until")
        table.drop_column("sms_validity_seconds")
