"""The notifications that ask for a code by SMS, by number: a partial index, so that the
dispatcher counts the code SMS a number was sent within the limit's window (DESIGN §7; at most
`OWNERSHIP_CODE_SMS_PER_NUMBER` within `OWNERSHIP_CODE_SMS_WINDOW_MINUTES`) by reading that
number's few notifications that asked for one lately, not every code drawn within the window.

`ix_notifications_code_phone` holds each notification whose `reverify` is `sms_code` (its
client asked for a code should the policy re-verify; only those get codes) by its phone and the
end of its TTL: an entry of some 40 bytes each, written once when it is accepted. The others
are not in it, so that accepting one of those writes no more than before. Built once over the
notifications kept (a read of the table; on PostgreSQL, writes to `notifications` wait for the
build, seconds a million notifications). Its condition is in the words of the dispatcher's
count, which it must match.

Revision ID: 0018_code_sms_by_number
Revises: 0017_sms_report_reads
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_code_sms_by_number"
down_revision = "0017_sms_report_reads"
branch_labels = None
depends_on = None

ASKS_A_CODE = "reverify = 'sms_code'"


def upgrade() -> None:
    op.create_index(
        "ix_notifications_code_phone",
        "notifications",
        ["phone", "expires_at"],
        sqlite_where=sa.text(ASKS_A_CODE),
        postgresql_where=sa.text(ASKS_A_CODE),
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_code_phone", table_name="notifications")
