"""The notify path's state as an operator watches it, read from the store.

The work is done by whichever process runs the jobs (the API with `--jobs`, or `ownership
worker`), so counters kept in one process would miss the others'. The store holds the truth for
all of them: what is still under way, what the sweeper has let run past its TTL, and what the
clients have not yet been told. Every query reads an index over the rows still under way or
pending (notifications by status and expiry, webhooks by state), so its cost follows the work
in flight, and the week's `expired` rows, to tell those whose SMS waits from those without
fallback.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select

from delivery import records
from ownership.notifications import AWAITING, SETTLED, Fallback, NotificationStatus
from store.tables_webhooks import DeliveryState, WebhookDeliveryRow

# Past its TTL by more than this, an awaiting notification should have been swept: the sweeper
# runs every few seconds, and a claim whose channel call is under way is left a minute
SWEEP_GRACE = timedelta(minutes=2)
# Under way: waiting for the network, the person, the SMS gateway or the SMS report. An
# `expired` notification is under way only while its fallback SMS waits (the SMS gateway was
# down when the sweeper tried it); without fallback, `expired` is its outcome. Expired ones
# are looked for over this last stretch only, so that the query reads a range of the index,
# not every notification that ever expired without fallback.
UNDER_WAY = tuple(status.value for status in NotificationStatus if status not in SETTLED)
EXPIRED = NotificationStatus.EXPIRED.value
SMS_WAIT_LOOKBACK = timedelta(days=7)


@dataclass(frozen=True)
class NotifyFigures:
    # notifications under way, by status (UNDER_WAY)
    under_way: dict[str, int]
    # past their TTL by more than SWEEP_GRACE, still awaiting the network, the person or the
    # fallback SMS's sending
    overdue: int
    # webhook events not yet delivered, and the age of the oldest, in seconds
    webhooks_pending: int
    oldest_webhook_seconds: float | None


def notify_figures(engine: Engine, now: datetime) -> NotifyFigures:
    table = records.notifications
    hooks = WebhookDeliveryRow
    awaiting_sms = (
        (table.c.status == EXPIRED)
        & (table.c.expires_at >= now - SMS_WAIT_LOOKBACK)
        & (table.c.fallback == Fallback.SMS.value)
    )
    under_way = table.c.status.in_([status for status in UNDER_WAY if status != EXPIRED])
    waiting = table.c.status.in_([status.value for status in AWAITING]) | awaiting_sms
    with engine.connect() as connection:
        counted = connection.execute(
            select(table.c.status, func.count())
            .where(under_way | awaiting_sms)
            .group_by(table.c.status)
        )
        counts = {str(status): int(count) for status, count in counted}
        overdue = connection.scalar(
            select(func.count()).where(waiting, table.c.expires_at < now - SWEEP_GRACE)
        )
        pending, oldest = connection.execute(
            select(func.count(), func.min(hooks.created_at)).where(
                hooks.state == DeliveryState.PENDING.value
            )
        ).one()
    return NotifyFigures(
        under_way={status: counts.get(status, 0) for status in UNDER_WAY},
        overdue=int(overdue or 0),
        webhooks_pending=int(pending),
        oldest_webhook_seconds=(now - oldest).total_seconds() if oldest is not None else None,
    )
