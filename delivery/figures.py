"""The notify path's state as an operator watches it, read from the store.

The work is done by whichever process runs the jobs (the API with `--jobs`, or `ownership
worker`), so counters kept in one process would miss the others'. The store holds the truth for
all of them: what is still under way, what the sweeper has let run past its TTL, and what the
clients have not yet been told. Every query runs on an index (notifications by status and
expiry, webhooks by state).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select

from delivery import records
from ownership.notifications import AWAITING, SETTLED, NotificationStatus
from store.tables_webhooks import DeliveryState, WebhookDeliveryRow

# Past its TTL by more than this, an awaiting notification should have been swept: the sweeper
# runs every few seconds, and a claim whose channel call is under way is left a minute
SWEEP_GRACE = timedelta(minutes=2)
UNSETTLED = tuple(status.value for status in NotificationStatus if status not in SETTLED)


@dataclass(frozen=True)
class NotifyFigures:
    # notifications whose outcome is not yet known, by status (`expired` counts until its SMS
    # is sent, or for good when it had no fallback)
    unsettled: dict[str, int]
    # awaiting the network or the person, past their TTL by more than SWEEP_GRACE
    overdue: int
    # webhook events not yet delivered, and the age of the oldest, in seconds
    webhooks_pending: int
    oldest_webhook_seconds: float | None


def notify_figures(engine: Engine, now: datetime) -> NotifyFigures:
    table = records.notifications
    hooks = WebhookDeliveryRow
    with engine.connect() as connection:
        counted = connection.execute(
            select(table.c.status, func.count())
            .where(table.c.status.in_(UNSETTLED))
            .group_by(table.c.status)
        )
        unsettled = {str(status): int(count) for status, count in counted}
        overdue = connection.scalar(
            select(func.count()).where(
                table.c.status.in_([status.value for status in AWAITING]),
                table.c.expires_at < now - SWEEP_GRACE,
            )
        )
        pending, oldest = connection.execute(
            select(func.count(), func.min(hooks.created_at)).where(
                hooks.state == DeliveryState.PENDING.value
            )
        ).one()
    return NotifyFigures(
        unsettled={status: unsettled.get(status, 0) for status in UNSETTLED},
        overdue=int(overdue or 0),
        webhooks_pending=int(pending),
        oldest_webhook_seconds=(now - oldest).total_seconds() if oldest is not None else None,
    )
