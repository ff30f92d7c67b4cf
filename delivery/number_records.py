"""What the store holds about one number, shown or erased on its holder's request (a data
subject's rights of access and erasure; the retention, `delivery.forgetting`, goes by age).

Erased: the number's notifications that have their outcome, with their status history, their
SMS codes and the webhook events sent about them (replies' texts among them). Kept, and said:
- notifications under way, and those a webhook of which still waits to be sent: erased by a
  later run, once they end (the same rule as the retention's);
- those whose request its client could still send again (the user action it answers is no
  older than the client may answer): a repeat finds the notification and is answered as the
  first time; erased, it would be sent again. Erased by a run once that age has passed;
- the number's re-verification answers (`verifications`, the overlay): a No is what keeps a
  bank's messages away from the account of the number's previous holder; erasing it would
  send them there again;
- the billing ledger, which holds no number (a channel, a country and a price).
The batch's own files (the history's events, the scores and the snapshot) are the operator's
to edit: the next scoring run reads what the history holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, delete, func, select

from delivery import records
from delivery.forgetting import codes, has_its_outcome
from delivery.webhooks.events import WebhookEventType
from ownership.notifications import MAX_ACTION_AGE
from store.tables import ClientRow
from store.tables_webhooks import DeliveryState, WebhookDeliveryRow

notifications, events, verifications, overlay = (
    records.notifications,
    records.events,
    records.verifications,
    records.overlay,
)
hooks = cast(Table, WebhookDeliveryRow.__table__)
# ids an IN list names at most: PostgreSQL takes 65,535 parameters a statement
IDS_A_STATEMENT = 5_000


@dataclass(frozen=True)
class Erased:
    """What an erasure removed (or, dry, would remove), and what it kept."""

    notifications: int = 0
    history: int = 0
    codes: int = 0
    webhook_events: int = 0
    # kept: not yet at their outcome (or held by another transaction), with a webhook still
    # waiting to be sent, or whose request could still be repeated
    kept_under_way: int = 0
    kept_for_webhooks: int = 0
    kept_repeatable: int = 0
    # the re-verification answers kept on purpose (see the module)
    answers_kept: int = 0


# what `show` gives of a notification: what the person was sent and why, without the client's
# own callback URL and the request's hash
SHOWN = (
    "id",
    "request_id",
    "template_id",
    "text",
    "country",
    "action_type",
    "action_at",
    "sensitive",
    "decision",
    "policy_case",
    "number_status",
    "reasons",
    "status",
    "channel",
    "created_at",
    "updated_at",
    "ended_by_no_at",
)


def held_about(engine: Engine, phone: str) -> dict[str, Any]:
    """Everything the store holds about `phone` (E.164): its notifications, each with its
    client's name, its status history and the replies the person wrote to it, its
    re-verification answers and its live overlay."""
    with engine.connect() as connection:
        rows = [
            dict(row)
            for row in connection.execute(
                select(*(notifications.c[name] for name in SHOWN), ClientRow.name.label("client"))
                .join(ClientRow, ClientRow.consumer_key == notifications.c.client_key, isouter=True)
                .where(notifications.c.phone == phone)
                .order_by(notifications.c.created_at, notifications.c.id)
            ).mappings()
        ]
        of_number = select(notifications.c.id).where(notifications.c.phone == phone)
        history: dict[str, list[dict[str, Any]]] = {}
        for step in connection.execute(
            select(events.c.notification_id, events.c.status, events.c.at, events.c.detail)
            .where(events.c.notification_id.in_(of_number))
            .order_by(events.c.id)
        ).mappings():
            history.setdefault(step["notification_id"], []).append(
                {"status": step["status"], "at": step["at"], "detail": step["detail"]}
            )
        replies: dict[str, list[dict[str, Any]]] = {}
        for payload in connection.execute(
            select(hooks.c.payload)
            .where(hooks.c.event_type == WebhookEventType.NOTIFICATION_REPLY.value)
            .where(hooks.c.payload["notification_id"].as_string().in_(of_number))
            .order_by(hooks.c.id)
        ).scalars():  # the webhook's `data`, as the outbox keeps it
            replies.setdefault(str(payload.get("notification_id")), []).append(
                {key: payload.get(key) for key in ("text", "at", "channel")}
            )
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
    held = [
        {**row, "history": history.get(row["id"], []), "replies": replies.get(row["id"], [])}
        for row in rows
    ]
    return {
        "phone": phone,
        "notifications": held,
        "verifications": answered,
        "overlay": dict(found) if found is not None else None,
    }


def erase_number(engine: Engine, phone: str, now: datetime, *, dry_run: bool = False) -> Erased:
    """Erase what the store holds about `phone` (E.164) that may go at `now` (the service's
    clock; see the module), in one transaction; `dry_run` counts it and erases nothing."""
    with engine.connect() as connection:
        transaction = connection.begin()
        if not dry_run:
            # SQLite: under the store's write lock, so that no webhook is enqueued for one of
            # them between the check and the deletes
            records.hold_until_moved(connection)
        erased = _erase(connection, phone, now, dry_run)
        if dry_run:
            transaction.rollback()
        else:
            transaction.commit()
    return erased


def _erase(connection: Connection, phone: str, now: datetime, dry_run: bool) -> Erased:
    ended = (
        select(notifications.c.id, notifications.c.action_at, ClientRow.max_action_age_days)
        .join(ClientRow, ClientRow.consumer_key == notifications.c.client_key, isouter=True)
        .where(notifications.c.phone == phone, has_its_outcome(connection.dialect.name))
    )
    if connection.dialect.name == "postgresql" and not dry_run:
        # held until the erasure commits: a late report waits, then finds it gone
        ended = ended.with_for_update(of=notifications, skip_locked=True)
    found = list(connection.execute(ended))
    repeatable = {
        id_
        for id_, action_at, days in found
        if action_at > now - (MAX_ACTION_AGE if days is None else timedelta(days=days))
    }
    held = connection.scalar(
        select(func.count()).select_from(notifications).where(notifications.c.phone == phone)
    )
    hook_of = hooks.c.payload["notification_id"].as_string()
    of_number = select(notifications.c.id).where(notifications.c.phone == phone)
    waiting = set(
        connection.execute(
            select(hook_of).where(
                hooks.c.state == DeliveryState.PENDING.value, hook_of.in_(of_number)
            )
        ).scalars()
    ) & {id_ for id_, _, _ in found}
    doomed = [id_ for id_, _, _ in found if id_ not in waiting and id_ not in repeatable]
    counts = [0, 0, 0, 0]
    for start in range(0, len(doomed), IDS_A_STATEMENT):
        chosen_ids = doomed[start : start + IDS_A_STATEMENT]
        for index, (table, column) in enumerate(
            (
                (events, events.c.notification_id),
                (codes, codes.c.notification_id),
                (hooks, hook_of),
                (notifications, notifications.c.id),
            )
        ):
            chosen = column.in_(chosen_ids)
            if dry_run:
                count = connection.scalar(select(func.count()).select_from(table).where(chosen))
            else:
                count = connection.execute(delete(table).where(chosen)).rowcount
            counts[index] += int(count or 0)
    history, code_rows, webhook_events, erased = counts
    answers = connection.scalar(
        select(func.count()).select_from(verifications).where(verifications.c.phone == phone)
    )
    return Erased(
        notifications=erased,
        history=history,
        codes=code_rows,
        webhook_events=webhook_events,
        kept_under_way=int(held or 0) - len(found),
        kept_for_webhooks=len(waiting),
        kept_repeatable=len(repeatable - waiting),
        answers_kept=int(answers or 0),
    )
