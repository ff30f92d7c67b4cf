"""Verifications' `recorded_at`: when the store took each result, for the nightly export.

A late report makes the answer's own time old; the store's moment of taking it is not.

Revision ID: 0006_verification_recorded_at
Revises: 0005_one_answer_a_prompt
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.tables import UtcDateTime

revision = "0006_verification_recorded_at"
down_revision = "0005_one_answer_a_prompt"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("verifications") as table:
        table.add_column(sa.Column("recorded_at", UtcDateTime(), nullable=True))
    # when the rows kept before were recorded is not known: their answer's time is the closest.
    # The nightly export of the new code starts with everything anyway (it finds no watermark
    # of its own), so a result an earlier export skipped is exported too.
    op.execute(sa.text("update verifications set recorded_at = ts"))
    # the store's clock by default: a process of the release before, which names no
    # recorded_at, still keeps its results while a rolling upgrade runs beside it
    with op.batch_alter_table("verifications") as table:
        table.alter_column(
            "recorded_at",
            existing_type=UtcDateTime(),
            nullable=False,
            server_default=sa.func.current_timestamp(),
        )
    op.create_index(op.f("ix_verifications_recorded_at"), "verifications", ["recorded_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_verifications_recorded_at"), table_name="verifications")
    with op.batch_alter_table("verifications") as table:
        table.drop_column("recorded_at")
