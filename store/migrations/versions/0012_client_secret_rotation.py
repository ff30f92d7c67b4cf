"""Clients' previous OAuth consumer secret, which still verifies their calls until a time after
a rotation (`ownership clients rotate-secret`), so a client can deploy the new one without a
refused call.

Revision ID: 0012_client_secret_rotation
Revises: 0011_client_action_age
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.tables import UtcDateTime

revision = "0012_client_secret_rotation"
down_revision = "0011_client_action_age"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as table:
        table.add_column(sa.Column("previous_secret_encrypted", sa.Text(), nullable=True))
        table.add_column(sa.Column("previous_secret_until", UtcDateTime(), nullable=True))


def downgrade() -> None:
    # a previous secret still in its overlap stops verifying: the current one goes on.
    # Dropped in place (SQLite 3.35 and later), not by copying the table: dropping `clients`
    # with foreign keys on would delete its nonces on cascade, letting their calls be replayed
    with op.batch_alter_table("clients", recreate="never") as table:
        table.drop_column("previous_secret_until")
        table.drop_column("previous_secret_encrypted")
