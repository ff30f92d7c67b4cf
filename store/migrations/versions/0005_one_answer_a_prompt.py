"""A prompt takes one answer: verifications unique by notification among Yes and No results.

Revision ID: 0005_one_answer_a_prompt
Revises: 0004_verification_lookup
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_one_answer_a_prompt"
down_revision = "0004_verification_lookup"
branch_labels = None
depends_on = None

ONE_ANSWER = "result in ('confirmed', 'denied')"


def upgrade() -> None:
    # a store migrated by a build whose 0004 made the unique index below (cb74a97, 2026-11-27,
    # before this revision was split from 0004) has neither the plain index nor the need of it:
    # each step is skipped where its outcome is already there, a no-op on every other store
    indexes = {index["name"] for index in sa.inspect(op.get_bind()).get_indexes("verifications")}
    # the unique index below serves the lookups by notification the plain one served
    if op.f("ix_verifications_notification_id") in indexes:
        op.drop_index(op.f("ix_verifications_notification_id"), table_name="verifications")
    # an answer recorded twice before (two reports at once) is kept once, the first
    op.execute(
        sa.text(
            "delete from verifications where notification_id is not null and "
            f"{ONE_ANSWER} and id not in (select min(id) from verifications "
            f"where notification_id is not null and {ONE_ANSWER} group by notification_id)"
        )
    )
    if "uq_verifications_one_answer" in indexes:
        return
    op.create_index(
        "uq_verifications_one_answer",
        "verifications",
        ["notification_id"],
        unique=True,
        sqlite_where=sa.text(ONE_ANSWER),
        postgresql_where=sa.text(ONE_ANSWER),
    )


def downgrade() -> None:
    op.drop_index("uq_verifications_one_answer", table_name="verifications")
    op.create_index(op.f("ix_verifications_notification_id"), "verifications", ["notification_id"])
