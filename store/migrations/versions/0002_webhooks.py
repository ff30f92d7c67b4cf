"""Webhooks: the clients' default webhook URL and the outbox of webhook deliveries.

Revision ID: 0002_webhooks
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_webhooks"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("webhook_url", sa.Text(), nullable=True))
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("client_key", sa.String(64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), server_default="pending", nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'delivered', 'given_up')",
            name=op.f("ck_webhook_deliveries_state"),
        ),
        sa.ForeignKeyConstraint(
            ["client_key"],
            ["clients.consumer_key"],
            name=op.f("fk_webhook_deliveries_client_key_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("event_id", name=op.f("uq_webhook_deliveries_event_id")),
    )
    op.create_index(
        op.f("ix_webhook_deliveries_state_next_attempt_at"),
        "webhook_deliveries",
        ["state", "next_attempt_at"],
    )
    op.create_index(op.f("ix_webhook_deliveries_client_key"), "webhook_deliveries", ["client_key"])
    op.create_index(
        op.f("ix_webhook_deliveries_finished_at"), "webhook_deliveries", ["finished_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_webhook_deliveries_finished_at"), table_name="webhook_deliveries")
    op.drop_index(op.f("ix_webhook_deliveries_client_key"), table_name="webhook_deliveries")
    op.drop_index(
        op.f("ix_webhook_deliveries_state_next_attempt_at"), table_name="webhook_deliveries"
    )
    op.drop_table("webhook_deliveries")
    # dropped in place (SQLite 3.35 and later), not by copying the table: dropping `clients`
    # with foreign keys on would delete, on cascade, everything of its clients (nonces,
    # templates, notifications and their history)
    with op.batch_alter_table("clients", recreate="never") as batch:
        batch.drop_column("webhook_url")
