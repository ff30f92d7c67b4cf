"""Webhook endpoints that could not be reached or asked to be left alone, and until when.

An endpoint's wait holds the events queued while it lasts, not only those pending when it was
found; and the outbox gets an index that finds one client's pending events, for the put-off.

Revision ID: 0008_webhook_endpoint_waits
Revises: 0002_webhooks
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.tables import UtcDateTime

revision = "0008_webhook_endpoint_waits"
down_revision = "0002_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_endpoint_waits",
        sa.Column("client_key", sa.String(64), nullable=False),
        sa.Column("url_digest", sa.String(64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("until", UtcDateTime(), nullable=False),
        sa.Column("asked_until", UtcDateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_key"],
            ["clients.consumer_key"],
            name=op.f("fk_webhook_endpoint_waits_client_key_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("client_key", "url_digest", name=op.f("pk_webhook_endpoint_waits")),
    )
    # leads with client_key, so it serves the client's cascade as the index it replaces did
    op.create_index(
        op.f("ix_webhook_deliveries_client_key_state_next_attempt_at"),
        "webhook_deliveries",
        ["client_key", "state", "next_attempt_at"],
    )
    op.drop_index(op.f("ix_webhook_deliveries_client_key"), table_name="webhook_deliveries")


def downgrade() -> None:
    # the waits are forgotten: events queued for an endpoint still waiting are sent at once, and
    # find it as it is
    op.create_index(op.f("ix_webhook_deliveries_client_key"), "webhook_deliveries", ["client_key"])
    op.drop_index(
        op.f("ix_webhook_deliveries_client_key_state_next_attempt_at"),
        table_name="webhook_deliveries",
    )
    op.drop_table("webhook_endpoint_waits")
