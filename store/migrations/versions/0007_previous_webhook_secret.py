"""Clients' previous webhook secret, which also signs until a time after a renewal.

A client verifies with the secret it has deployed; while it deploys a renewed one, deliveries
carry a signature under each.

Revision ID: 0007_previous_webhook_secret
Revises: 0006_verification_recorded_at
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.tables import UtcDateTime

revision = "0007_previous_webhook_secret"
down_revision = "0006_verification_recorded_at"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as table:
        table.add_column(sa.Column("previous_webhook_secret_encrypted", sa.Text(), nullable=True))
        table.add_column(sa.Column("previous_webhook_secret_until", UtcDateTime(), nullable=True))


def downgrade() -> None:
    # a previous secret still in its overlap stops signing: the current one goes on.
    # Dropped in place (SQLite 3.35 and later), not by copying the table: dropping `clients`
    # with foreign keys on would delete its nonces on cascade, letting their calls be replayed
    with op.batch_alter_table("clients", recreate="never") as table:
        table.drop_column("previous_webhook_secret_until")
        table.drop_column("previous_webhook_secret_encrypted")
