"""The SMS awaiting their reports: two partial indexes, so that the sweeper reads those whose
report is overdue, and the claims for SMS its gateway has not confirmed, without reading every
SMS awaiting its report (tens of thousands on a busy day, each compared row by row).

`ix_notifications_sms_report_due` holds each `sms_sent` notification by its `sms_valid_until`,
past which its report is awaited until the time-out (null for one claimed before there were
deadlines: a few, read by their last move); `ix_notifications_sms_unconfirmed` the `sms_sent`
ones without the gateway's id, by their last move. Their conditions say `status || ''`, as
0009's, so that SQLite does not read them by the index of statuses; the sweeper's reads say the
same words.

Revision ID: 0017_sms_report_reads
Revises: 0016_notification_sms_validity
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.tables import UtcDateTime

revision = "0017_sms_report_reads"
down_revision = "0016_notification_sms_validity"
branch_labels = None
depends_on = None

SMS_SENT = "status || '' = 'sms_sent'"
SMS_UNCONFIRMED = f"{SMS_SENT} AND coalesce(provider_id, '') = ''"


def upgrade() -> None:
    # a store migrated by a build whose 0016 made only `sms_validity_seconds` (be34961,
    # 2026-11-29, before 611b2e1 added `sms_valid_until` to it) gets the column here, null for
    # every notification as 0016 leaves it; a no-op on every other store
    columns = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("notifications")}
    if "sms_valid_until" not in columns:
        with op.batch_alter_table("notifications", recreate="never") as table:
            table.add_column(sa.Column("sms_valid_until", UtcDateTime(), nullable=True))
    op.create_index(
        "ix_notifications_sms_report_due",
        "notifications",
        ["sms_valid_until"],
        sqlite_where=sa.text(SMS_SENT),
        postgresql_where=sa.text(SMS_SENT),
    )
    op.create_index(
        "ix_notifications_sms_unconfirmed",
        "notifications",
        ["updated_at"],
        sqlite_where=sa.text(SMS_UNCONFIRMED),
        postgresql_where=sa.text(SMS_UNCONFIRMED),
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_sms_unconfirmed", table_name="notifications")
    op.drop_index("ix_notifications_sms_report_due", table_name="notifications")
