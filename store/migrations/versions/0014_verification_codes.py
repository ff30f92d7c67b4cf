"""Re-verification by an SMS code (DESIGN §7): `notifications.reverify`, how a notification
asks (null: the Yes/No prompt), and `verification_codes`, the keyed hash of each code and the
person's entries.

Revision ID: 0014_verification_codes
Revises: 0013_client_notify_policy
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.tables import UtcDateTime

revision = "0014_verification_codes"
down_revision = "0013_client_notify_policy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as table:
        table.add_column(sa.Column("reverify", sa.String(length=8), nullable=True))
    op.create_table(
        "verification_codes",
        sa.Column("notification_id", sa.String(length=40), nullable=False),
        sa.Column("salt", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("issued", sa.Integer(), nullable=False),
        sa.Column("issued_at", UtcDateTime(), nullable=False),
        sa.Column("sms_provider_id", sa.String(length=80), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("entered", sa.JSON(), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["notification_id"], ["notifications.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("notification_id"),
    )


def downgrade() -> None:
    op.drop_table("verification_codes")
    # dropped in place (SQLite 3.35 and later), not by copying the table: dropping
    # `notifications` with foreign keys on would delete their history on cascade
    with op.batch_alter_table("notifications", recreate="never") as table:
        table.drop_column("reverify")
