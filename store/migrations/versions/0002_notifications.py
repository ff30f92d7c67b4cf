"""Notifications and their history, verification results, the number overlay, the ledger.

Revision ID: 0002_notifications
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.tables import UtcDateTime

revision = "0002_notifications"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("client_key", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("country", sa.String(8), nullable=True),
        sa.Column("template_id", sa.String(40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("action_type", sa.String(32), nullable=False),
        sa.Column("action_at", UtcDateTime(), nullable=False),
        sa.Column("sensitive", sa.Boolean(), nullable=False),
        sa.Column("mobile_only", sa.Boolean(), nullable=False),
        sa.Column("fallback", sa.String(8), nullable=False),
        sa.Column("callback_url", sa.Text(), nullable=True),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("policy_case", sa.String(32), nullable=False),
        sa.Column("number_status", sa.String(16), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("channel", sa.String(8), nullable=True),
        sa.Column("provider_id", sa.String(80), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_key"],
            ["clients.consumer_key"],
            name=op.f("fk_notifications_client_key_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint(
            "client_key", "request_id", name=op.f("uq_notifications_client_key_request_id")
        ),
    )
    op.create_index(
        op.f("ix_notifications_status_expires_at"), "notifications", ["status", "expires_at"]
    )
    op.create_index(op.f("ix_notifications_provider_id"), "notifications", ["provider_id"])
    op.create_table(
        "notification_events",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("notification_id", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_notification_events_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_events")),
    )
    op.create_index(
        op.f("ix_notification_events_notification_id"), "notification_events", ["notification_id"]
    )
    op.create_table(
        "verifications",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("ts", UtcDateTime(), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("account_id", sa.String(80), nullable=True),
        sa.Column("notification_id", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verifications")),
    )
    op.create_index(op.f("ix_verifications_phone"), "verifications", ["phone"])
    op.create_index(op.f("ix_verifications_ts"), "verifications", ["ts"])
    op.create_table(
        "number_overlay",
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("denied_at", UtcDateTime(), nullable=True),
        sa.Column("confirmed_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_number_overlay")),
    )
    op.create_table(
        "billing_ledger",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("notification_id", sa.String(40), nullable=False),
        sa.Column("client_key", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("country", sa.String(8), nullable=True),
        sa.Column("price", sa.Numeric(12, 4), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("delivered_at", UtcDateTime(), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_billing_ledger_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_ledger")),
        sa.UniqueConstraint("notification_id", name=op.f("uq_billing_ledger_notification_id")),
    )
    op.create_index(op.f("ix_billing_ledger_client_key"), "billing_ledger", ["client_key"])
    op.create_index(op.f("ix_billing_ledger_month"), "billing_ledger", ["month"])


def downgrade() -> None:
    op.drop_table("billing_ledger")
    op.drop_table("number_overlay")
    op.drop_table("verifications")
    op.drop_table("notification_events")
    op.drop_table("notifications")
