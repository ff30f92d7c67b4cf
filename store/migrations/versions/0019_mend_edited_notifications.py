"""Stores migrated by a build whose revisions of the notifications' branch were later changed
under the same id get what the code needs: on PostgreSQL, `verification_codes.salt` as text
(0014 made it varchar(64) until 2a8550c, 2026-11-28: a sealed salt is longer, and every code
drawn on such a store failed to be kept); and `notifications.sms_valid_until` where it is
missing (0016 lacked it until 611b2e1, 2026-11-29; 0017 adds it now, but a store may have
passed 0017 another way). Each step looks at the store first: a no-op on every store made by
this release's revisions, and run twice, it finds nothing left to do.

Undone, nothing is taken back: the schema it leaves is the one the revisions before it mean.

Revision ID: 0019_mend_edited_notifications
Revises: 0018_code_sms_by_number
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.tables import UtcDateTime

revision = "0019_mend_edited_notifications"
down_revision = "0018_code_sms_by_number"
branch_labels = None
depends_on = None


def upgrade() -> None:
    found = sa.inspect(op.get_bind())
    salt = {column["name"]: column for column in found.get_columns("verification_codes")}["salt"]
    # SQLite keeps any length in a VARCHAR: only a length PostgreSQL enforces needs widening
    if op.get_bind().dialect.name == "postgresql" and getattr(salt["type"], "length", None):
        op.alter_column("verification_codes", "salt", type_=sa.Text(), existing_type=salt["type"])
    notifications = {column["name"] for column in found.get_columns("notifications")}
    if "sms_valid_until" not in notifications:
        with op.batch_alter_table("notifications", recreate="never") as table:
            table.add_column(sa.Column("sms_valid_until", UtcDateTime(), nullable=True))


def downgrade() -> None:
    pass
