"""The notifications' retention (OWNERSHIP_NOTIFICATION_RETENTION_DAYS): an index of the
notifications by their last move (and id), which the worker's forgetting reads oldest first and
in batches, from where the last batch ended, instead of reading the whole table; and the
billing ledger no longer refers to its notifications, so that a bill outlives the notifications
it counts (before, deleting a notification deleted its ledger row on cascade).

Undone, the index goes and the ledger's foreign key is not put back: the rows whose
notification was forgotten would break it (PostgreSQL refuses to add it, and SQLite's copy of
the table refuses them), and the release before never deletes a notification, so it does not
miss the cascade.

Revision ID: 0015_notification_retention
Revises: 0014_verification_codes
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_notification_retention"
down_revision = "0014_verification_codes"
branch_labels = None
depends_on = None

LEDGER_FOLLOWS_NOTIFICATIONS = "fk_billing_ledger_notification_id_notifications"


def upgrade() -> None:
    op.create_index(op.f("ix_notifications_updated_at_id"), "notifications", ["updated_at", "id"])
    if _ledger_follows_notifications():  # not after a downgrade, which left it off
        # on SQLite, by copying `billing_ledger`, which no table refers to: nothing cascades
        with op.batch_alter_table("billing_ledger") as table:
            table.drop_constraint(LEDGER_FOLLOWS_NOTIFICATIONS, type_="foreignkey")


def downgrade() -> None:
    op.drop_index(op.f("ix_notifications_updated_at_id"), table_name="notifications")


def _ledger_follows_notifications() -> bool:
    keys = sa.inspect(op.get_bind()).get_foreign_keys("billing_ledger")
    return any(key["referred_table"] == "notifications" for key in keys)
