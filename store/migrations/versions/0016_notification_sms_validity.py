"""`notifications.sms_validity_seconds`: how long a notification's SMS stays worth delivering
once handed to the SMS gateway, as its client chose it (`sms_validity` on `POST /v1/notify`);
null, the service's own (OWNERSHIP_SMS_VALIDITY_SECONDS), which is what every notification
accepted before got.

Added and dropped in place on SQLite (3.35 and later), not by copying the table: dropping
`notifications` with foreign keys on would delete their history on cascade. Undone, the
notifications that chose a validity get the service's again.

Revision ID: 0016_notification_sms_validity
Revises: 0015_notification_retention
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_notification_sms_validity"
down_revision = "0015_notification_retention"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications", recreate="never") as table:
        table.add_column(sa.Column("sms_validity_seconds", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications", recreate="never") as table:
        table.drop_column("sms_validity_seconds")
