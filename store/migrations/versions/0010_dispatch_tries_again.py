"""`notifications.next_try_at`: when the dispatcher tries again a notification it could not
carry. Without it, while a network or the SMS gateway could not be reached, every round read
the same oldest notifications waiting for it, and those behind them (by SMS, by the other
network) waited until the first ones' TTL ran out.

Revision ID: 0010_dispatch_tries_again
Revises: 0009_expired_waiting_for_sms
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.tables import UtcDateTime

revision = "0010_dispatch_tries_again"
down_revision = "0009_expired_waiting_for_sms"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as table:
        table.add_column(sa.Column("next_try_at", UtcDateTime(), nullable=True))


def downgrade() -> None:
    # dropped in place (SQLite 3.35 and later), not by copying the table: dropping
    # `notifications` with foreign keys on would delete their history on cascade
    with op.batch_alter_table("notifications", recreate="never") as table:
        table.drop_column("next_try_at")
