"""The notifications that expired, by fallback: a partial index, so that the sweeper reads those
that wait for their SMS without reading every notification that expired with no fallback, which
stay `expired` for good and only grow in number.

Revision ID: 0009_expired_by_fallback
Revises: 0007_previous_webhook_secret
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_expired_by_fallback"
down_revision = "0007_previous_webhook_secret"
branch_labels = None
depends_on = None

EXPIRED = "status = 'expired'"


def upgrade() -> None:
    op.create_index(
        "ix_notifications_expired_by_fallback",
        "notifications",
        ["fallback", "expires_at"],
        sqlite_where=sa.text(EXPIRED),
        postgresql_where=sa.text(EXPIRED),
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_expired_by_fallback", table_name="notifications")
