"""What the store holds about one number, shown or erased on its holder's request (a data
subject's rights of access and erasure; the retention, `delivery.forgetting`, goes by age).

Erased: the number's notifications that have their outcome, with their status history, their
SMS codes and the webhook events sent about them (replies' texts among them). Kept, and said:
- notifications under way, and those a webhook of which still waits to be sent: erased by a
  later run, once they end (the same rule as the retention's);
- the number's re-verification answers (`verifications`, the overlay): a No is what keeps a
  bank's messages away from the account of the number's previous holder; erasing it would
  send them there again;
- the billing ledger, which holds no number (a channel, a country and a price).
The batch's own files (the history's events, the scores and the snapshot) are the operator's
to edit: the next scoring run reads what the history holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, delete, func, select

from delivery import records
from delivery.forgetting import codes, has_its_outcome
from store.tables import ClientRow
from store.tables_webhooks import DeliveryState, WebhookDeliveryRow

notifications, events, verifications, overlay = (
    records.notifications,
    records.events,
    records.verifications,
    records.overlay,
)
hooks = cast(Table, WebhookDeliveryRow.__table__)


@dataclass(frozen=True)
class Erased:
    """What an erasure removed (or, dry, would remove), and what it kept."""

    notifications: int = 0
    history: int = 0
    codes: int = 0
    webhook_events: int = 0
    # kept: not yet at their outcome, or with a webhook still waiting to be sent
    kept_under_way: int = 0
    kept_for_webhooks: int = 0
    # the re-verification answers kept on purpose (see the module)
    answers_kept: int = 0


def held_about(engine: Engine, phone: str) -> dict[str, Any]:
    """Everything the store holds about `phone` (E.164): its notifications, each with its
    client's name and its status history, its re-verification answers and its live overlay."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(notifications, ClientRow.name.label("client"))
            .join(ClientRow, ClientRow.consumer_key == notifications.c.client_key, isouter=True)
            .where(notifications.c.phone == phone)
            .order_by(notifications.c.created_at, notifications.c.id)
        ).mappings()
        held = [
            {
                "id": row["id"],
                "client": row["client"],
                "request_id": row["request_id"],
                "template_id": row["template_id"],
                "text": row["text"],
                "status": row["status"],
                "channel": row["channel"],
                "created_at": row["created_at"],
                "updated_at": row["updated_at"],
                "history": records.history(connection, row["id"]),
            }
            for row in list(rows)
        ]
        answers = connection.execute(
            select(
                verifications.c.ts,
                verifications.c.method,
                verifications.c.result,
                verifications.c.account_id,
                verifications.c.notification_id,
            )
            .where(verifications.c.phone == phone)
            .order_by(verifications.c.ts, verifications.c.id)
        ).mappings()
        answered = [dict(answer) for answer in answers]
        live = connection.execute(
            select(overlay.c.confirmed_at, overlay.c.denied_at).where(overlay.c.phone == phone)
        ).mappings()
        found = live.first()
    return {
        "phone": phone,
        "notifications": held,
        "verifications": answered,
        "overlay": dict(found) if found is not None else None,
    }


def erase_number(engine: Engine, phone: str, *, dry_run: bool = False) -> Erased:
    """Erase what the store holds about `phone` (E.164) that may go (see the module), in one
    transaction; `dry_run` counts it and erases nothing."""
    with engine.connect() as connection:
        transaction = connection.begin()
        if not dry_run:
            # SQLite: under the store's write lock, so that no webhook is enqueued for one of
            # them between the check and the deletes
            records.hold_until_moved(connection)
        erased = _erase(connection, phone, dry_run)
        if dry_run:
            transaction.rollback()
        else:
            transaction.commit()
    return erased


def _erase(connection: Connection, phone: str, dry_run: bool) -> Erased:
    ended = select(notifications.c.id).where(
        notifications.c.phone == phone, has_its_outcome(connection.dialect.name)
    )
    if connection.dialect.name == "postgresql" and not dry_run:
        # held until the erasure commits: a late report waits, then finds it gone
        ended = ended.with_for_update(skip_locked=True)
    ids = list(connection.execute(ended).scalars())
    held = connection.scalar(
        select(func.count()).select_from(notifications).where(notifications.c.phone == phone)
    )
    hook_of = hooks.c.payload["notification_id"].as_string()
    waiting = set(
        connection.execute(
            select(hook_of).where(
                hooks.c.state == DeliveryState.PENDING.value, hook_of.in_(ids or [""])
            )
        ).scalars()
    )
    doomed = [id_ for id_ in ids if id_ not in waiting]
    counts = []
    for table, column in (
        (events, events.c.notification_id),
        (codes, codes.c.notification_id),
        (hooks, hook_of),
        (notifications, notifications.c.id),
    ):
        chosen = column.in_(doomed or [""])
        if dry_run:
            count = connection.scalar(select(func.count()).select_from(table).where(chosen))
        else:
            count = connection.execute(delete(table).where(chosen)).rowcount
        counts.append(int(count or 0))
    history, code_rows, webhook_events, erased = counts
    answers = connection.scalar(
        select(func.count()).select_from(verifications).where(verifications.c.phone == phone)
    )
    return Erased(
        notifications=erased,
        history=history,
        codes=code_rows,
        webhook_events=webhook_events,
        kept_under_way=int(held or 0) - len(ids),
        kept_for_webhooks=len(waiting),
        answers_kept=int(answers or 0),
    )
