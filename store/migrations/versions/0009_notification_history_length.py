"""Notifications' `history_length`: how many entries each one's history holds.

Each move counts the entries it records in the update that makes it, and reads the count back:
a status's webhook carries its place in the history (`sequence`) at no extra read.

Revision ID: 0009_notification_history_length
Revises: 0007_previous_webhook_secret
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_notification_history_length"
down_revision = "0007_previous_webhook_secret"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # added in place, on SQLite too: a copy of `notifications` dropped with foreign keys on
    # would delete its history and its ledger entries on cascade. The default is what the
    # acceptance writes: a process of the release before, during a rolling upgrade, names none
    op.add_column(
        "notifications",
        sa.Column("history_length", sa.Integer(), nullable=False, server_default="1"),
    )
    # the notifications kept before count what their history holds
    op.execute(
        sa.text(
            "update notifications set history_length = (select count(*) from "
            "notification_events where notification_events.notification_id = notifications.id)"
        )
    )


def downgrade() -> None:
    # dropped in place (SQLite 3.35 and later), not by copying the table: see the upgrade
    with op.batch_alter_table("notifications", recreate="never") as table:
        table.drop_column("history_length")
