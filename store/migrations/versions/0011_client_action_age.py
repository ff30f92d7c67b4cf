"""`clients.max_action_age_days`: how old a user action a client's notifications may answer
(DESIGN §7: three days unless the client is allowed more); null keeps the service's default.

Revision ID: 0011_client_action_age
Revises: 0010_dispatch_tries_again
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_client_action_age"
down_revision = "0010_dispatch_tries_again"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as table:
        table.add_column(sa.Column("max_action_age_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    # dropped in place (SQLite 3.35 and later), not by copying the table: dropping `clients`
    # with foreign keys on would delete, on cascade, everything of its clients (nonces, whose
    # calls could then be replayed, templates, notifications and their history)
    with op.batch_alter_table("clients", recreate="never") as table:
        table.drop_column("max_action_age_days")
