"""`clients.notify_policy`: a client's own notify policy, the validated document of its policy
file (ownership.client_policy; DESIGN §7: "each client can have its own"); null keeps the
service's.

Revision ID: 0013_client_notify_policy
Revises: 0012_client_secret_rotation
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_client_notify_policy"
down_revision = "0012_client_secret_rotation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as table:
        table.add_column(sa.Column("notify_policy", sa.JSON(), nullable=True))


def downgrade() -> None:
    # a client's own policy is dropped: its notifications go by the service's again.
    # Dropped in place (SQLite 3.35 and later), not by copying the table: dropping `clients`
    # with foreign keys on would delete its nonces on cascade, letting their calls be replayed
    with op.batch_alter_table("clients", recreate="never") as table:
        table.drop_column("notify_policy")
