"""Verifications looked up by notification: a prompt's answer is kept once, even when late.

Revision ID: 0004_verification_lookup
Revises: 0003_overlay_recorded_at
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0004_verification_lookup"
down_revision = "0003_overlay_recorded_at"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f("ix_verifications_notification_id"), "verifications", ["notification_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_verifications_notification_id"), table_name="verifications")
