"""Message templates and their moderation.

Revision ID: 0002_templates
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_templates"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "templates",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("client_key", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("samples", sa.JSON(), nullable=False),
        sa.Column("tail", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("rules_version", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending_moderation', 'approved', 'rejected')",
            name=op.f("ck_templates_status"),
        ),
        sa.CheckConstraint(
            "category IN ('otp', 'transaction', 'order_status', 'service')",
            name=op.f("ck_templates_category"),
        ),
        sa.ForeignKeyConstraint(
            ["client_key"],
            ["clients.consumer_key"],
            name=op.f("fk_templates_client_key_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_templates")),
    )
    op.create_index(
        op.f("ix_templates_client_key_created_at"), "templates", ["client_key", "created_at"]
    )
    op.create_index(op.f("ix_templates_status_created_at"), "templates", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_templates_status_created_at"), table_name="templates")
    op.drop_index(op.f("ix_templates_client_key_created_at"), table_name="templates")
    op.drop_table("templates")
