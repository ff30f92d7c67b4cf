"""Clients and the nonces of their signed calls.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("consumer_key", sa.String(64), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("webhook_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("allowed_cidrs", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clients")),
        sa.UniqueConstraint("name", name=op.f("uq_clients_name")),
        sa.UniqueConstraint("consumer_key", name=op.f("uq_clients_consumer_key")),
    )
    op.create_table(
        "nonces",
        sa.Column("consumer_key", sa.String(64), nullable=False),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consumer_key"],
            ["clients.consumer_key"],
            name=op.f("fk_nonces_consumer_key_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("consumer_key", "nonce", "timestamp", name=op.f("pk_nonces")),
    )
    op.create_index(op.f("ix_nonces_timestamp"), "nonces", ["timestamp"])


def downgrade() -> None:
    op.drop_index(op.f("ix_nonces_timestamp"), table_name="nonces")
    op.drop_table("nonces")
    op.drop_table("clients")
