"""The notifications that expired and wait for their SMS: a partial index, so that the sweeper
reads them without reading every notification that expired with no fallback, which stay
`expired` for good and only grow in number.

Its condition says `status || ''`, not `status`: so that SQLite does not read them by the index
of statuses, which once `ANALYZE`d it prefers by the average of its statistics (reading every
`expired` notification; PostgreSQL takes the partial index either way). The sweeper's read says
the same words, which the index's condition must match.

Revision ID: 0009_expired_waiting_for_sms
Revises: 0007_previous_webhook_secret
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_expired_waiting_for_sms"
down_revision = "0007_previous_webhook_secret"
branch_labels = None
depends_on = None

WAITING_FOR_SMS = "status || '' = 'expired' AND fallback = 'sms'"


def upgrade() -> None:
    op.create_index(
        "ix_notifications_expired_waiting_for_sms",
        "notifications",
        ["expires_at"],
        sqlite_where=sa.text(WAITING_FOR_SMS),
        postgresql_where=sa.text(WAITING_FOR_SMS),
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_expired_waiting_for_sms", table_name="notifications")
