"""`notifications.ended_by_no_at`: when a No its number's holder said to another notification
ended this one while a social network still held it (sent and not delivered, or asking and
not answered). Its TTL is cut to that moment's processing, and the sweeper withdraws it and
sends it by SMS, saying `denied` where a TTL that ran out says `ttl_ran_out`. Null for every
notification before, and for every one no No ended.

Added and dropped in place on SQLite (3.35 and later), not by copying the table: dropping
`notifications` with foreign keys on would delete their history on cascade. Undone, the
notifications a No ended and not yet swept are told `ttl_ran_out` instead.

Revision ID: 0022_notification_ended_by_no
Revises: 0021_ledger_prices_rounded
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.tables import UtcDateTime

revision = "0022_notification_ended_by_no"
down_revision = "0021_ledger_prices_rounded"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications", recreate="never") as table:
        table.add_column(sa.Column("ended_by_no_at", UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications", recreate="never") as table:
        table.drop_column("ended_by_no_at")
