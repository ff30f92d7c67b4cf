"""Stores migrated by a build whose revisions of the webhooks' branch were later changed under
the same id get what the code needs: `webhook_endpoint_waits.asked_until` in place of
`asked` (0008 made a flag until ac88346, 2026-11-28: on such a store every webhook dispatch
failed, and a wait could not be recorded, the flag being required), and the outbox's index by
`finished_at` (0002_webhooks lacked it until b086b36), by which settled events are forgotten.

A wait the endpoint asked for lasted, then, until its `until`: that is its `asked_until`; one
not asked for has none. Each step looks at the store first: a no-op on every store made by this
release's revisions, and run twice, it finds nothing left to do.

Undone, nothing is taken back: the schema it leaves is the one the revisions before it mean.

Revision ID: 0020_mend_webhook_endpoint_waits
Revises: 0008_webhook_endpoint_waits
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.tables import UtcDateTime

revision = "0020_mend_webhook_endpoint_waits"
down_revision = "0008_webhook_endpoint_waits"
branch_labels = None
depends_on = None

FINISHED_AT = "ix_webhook_deliveries_finished_at"


def upgrade() -> None:
    found = sa.inspect(op.get_bind())
    waits = {column["name"] for column in found.get_columns("webhook_endpoint_waits")}
    if "asked_until" not in waits:
        with op.batch_alter_table("webhook_endpoint_waits", recreate="never") as table:
            table.add_column(sa.Column("asked_until", UtcDateTime(), nullable=True))
    if "asked" in waits:
        op.execute(sa.text("update webhook_endpoint_waits set asked_until = until where asked"))
        # dropped in place (SQLite 3.35 and later); no table refers to the waits anyway
        with op.batch_alter_table("webhook_endpoint_waits", recreate="never") as table:
            table.drop_column("asked")
    if FINISHED_AT not in {index["name"] for index in found.get_indexes("webhook_deliveries")}:
        op.create_index(FINISHED_AT, "webhook_deliveries", ["finished_at"])


def downgrade() -> None:
    pass
