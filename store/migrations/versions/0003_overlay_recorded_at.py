"""The number overlay's `recorded_at`, from which each process's copy of it reads on.

Revision ID: 0003_overlay_recorded_at
Revises: 0002_notifications
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.tables import UtcDateTime

revision = "0003_overlay_recorded_at"
down_revision = "0002_notifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("number_overlay") as table:
        table.add_column(sa.Column("recorded_at", UtcDateTime(), nullable=True))
    op.create_index(op.f("ix_number_overlay_recorded_at"), "number_overlay", ["recorded_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_number_overlay_recorded_at"), table_name="number_overlay")
    with op.batch_alter_table("number_overlay") as table:
        table.drop_column("recorded_at")
