"""The notify path's records in the store: notifications move only by conditional updates.

A transition names the statuses it may leave: `UPDATE … WHERE id = :id AND status IN (…)`.
Two actors racing for one notification (a late delivery receipt and the TTL sweeper, say)
both try; the database lets exactly one of them move it, on SQLite and on PostgreSQL alike.
The winner holds the row until it commits, so the entries it records follow every earlier
one: their places in the history, counted after them, are their webhooks' `sequence`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    Table,
    and_,
    any_,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from ownership.notifications import NotificationStatus
from store.tables_notifications import (
    LedgerRow,
    NotificationEventRow,
    NotificationRow,
    NumberOverlayRow,
    VerificationRow,
)

notifications = cast(Table, NotificationRow.__table__)
events = cast(Table, NotificationEventRow.__table__)
ledger = cast(Table, LedgerRow.__table__)
overlay = cast(Table, NumberOverlayRow.__table__)
verifications = cast(Table, VerificationRow.__table__)
# the results that are the person's own answer; a prompt takes one
ANSWERS = ("confirmed", "denied")
# the results a re-verification ends with before its TTL: an answer, or an SMS code's last
# wrong entry
ENDED_BY_THE_PERSON = (*ANSWERS, "failed")


def transition(
    connection: Connection,
    notification_id: str,
    leaving: Iterable[NotificationStatus],
    to: NotificationStatus,
    at: datetime,
    detail: dict[str, Any] | None = None,
    *,
    given_back: ColumnElement[bool] | None = None,
    on_channel: str | None = None,
    before_entry: Callable[[], object] | None = None,
    **fields: Any,
) -> int | None:
    """Move the notification to `to` if it is in one of `leaving` (or `given_back`, and on
    `on_channel` if given: see `set_status`); record it in the history. Returns the entry's
    place in the history (1 for the first), its webhook's `sequence`. `before_entry` runs once
    the row moved, under the move's hold on it, before its entry is recorded: what it records
    comes first.

    None when another actor moved it first: the caller's event came too late and is ignored.
    """
    if not set_status(
        connection,
        notification_id,
        leaving,
        to,
        at,
        given_back=given_back,
        on_channel=on_channel,
        **fields,
    ):
        return None
    if before_entry is not None:
        before_entry()
    record_event(connection, notification_id, to, at, detail)
    return history_lengths(connection, [notification_id])[notification_id]


class AsRead(NamedTuple):
    """What a notification's row held when an actor read it, of what another actor's claim,
    give-back or answer changes: a move conditional on it finds the row as read."""

    channel: str | None
    provider_id: str | None
    decision: str

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> AsRead:
        return cls(row["channel"], row["provider_id"], row["decision"])


def set_status(
    connection: Connection,
    notification_id: str,
    leaving: Iterable[NotificationStatus],
    to: NotificationStatus,
    at: datetime,
    *,
    given_back: ColumnElement[bool] | None = None,
    on_channel: str | None = None,
    unexpired: bool = False,
    as_read: AsRead | None = None,
    claimed_at: datetime | None = None,
    **fields: Any,
) -> bool:
    """Move the notification to `to` if it is in one of `leaving`, without a history entry: a
    claim given back when its channel did not take the message (refused, or unreachable), which
    the client never needs to hear of. `given_back` (from `given_back`) widens `leaving` to a
    claim given back after a time-out; `on_channel` holds the move to a notification on that
    channel; `unexpired` to one whose TTL has not run out at `at`; `as_read` to one still as
    the caller read it (no other actor claimed it and gave it back, nor did an answer change
    its decision, meanwhile); `claimed_at` to the claim made at that moment, not one another
    actor renewed since (the sweeper takes over a claim older than its time-out). All are read
    in the one conditional update, so no other actor slips between."""
    moving: ColumnElement[bool] = notifications.c.status.in_([s.value for s in leaving])
    if given_back is not None:
        moving = or_(moving, given_back)
    if on_channel is not None:
        moving = and_(moving, notifications.c.channel == on_channel)
    if unexpired:
        moving = and_(moving, notifications.c.expires_at > at)
    if as_read is not None:
        for name, value in as_read._asdict().items():
            column = notifications.c[name]
            moving = and_(moving, column.is_(None) if value is None else column == value)
    if claimed_at is not None:
        moving = and_(moving, notifications.c.updated_at == claimed_at)
    result = connection.execute(
        update(notifications)
        .where(notifications.c.id == notification_id)
        .where(moving)
        .values(status=to.value, updated_at=at, **fields)
    )
    return bool(result.rowcount == 1)


def given_back(
    statuses: Iterable[NotificationStatus], channels: Iterable[str], decision: str | None = None
) -> ColumnElement[bool]:
    """A claim on one of `channels` given back, untold, to one of `statuses` after the channel's
    answer never came (a time-out): the channel may have taken the message all the same, and
    its reports about it stand."""
    condition = and_(
        notifications.c.status.in_([status.value for status in statuses]),
        notifications.c.channel.in_(list(channels)),
    )
    return condition if decision is None else and_(condition, notifications.c.decision == decision)


def set_status_many(
    connection: Connection,
    notification_ids: list[str],
    leaving: Iterable[NotificationStatus],
    to: NotificationStatus,
    at: datetime,
    *,
    claimed_at: datetime | None = None,
    **fields: Any,
) -> set[str]:
    """`set_status` for many notifications in one statement (`claimed_at` as there); returns
    the ids that moved."""
    if not notification_ids:
        return set()
    moving: ColumnElement[bool] = notifications.c.status.in_([s.value for s in leaving])
    if claimed_at is not None:
        moving = and_(moving, notifications.c.updated_at == claimed_at)
    return set(
        connection.execute(
            update(notifications)
            .where(_among(connection, notifications.c.id, notification_ids))
            .where(moving)
            .values(status=to.value, updated_at=at, **fields)
            .returning(notifications.c.id)
        ).scalars()
    )


def told_ids(
    connection: Connection, notification_ids: list[str], status: NotificationStatus
) -> set[str]:
    """Those of the notifications whose history holds `status` already."""
    if not notification_ids:
        return set()
    return set(
        connection.execute(
            select(events.c.notification_id)
            .where(_among(connection, events.c.notification_id, notification_ids))
            .where(events.c.status == status.value)
        ).scalars()
    )


def record_event(
    connection: Connection,
    notification_id: str,
    status: NotificationStatus,
    at: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    """A status the notification reached, in its history. Only after a move of the row in the
    same transaction (`set_status`, or the insert of a new notification): the row it holds
    until commit orders the entries, which each webhook's `sequence` counts on."""
    connection.execute(
        insert(events).values(
            notification_id=notification_id, status=status.value, at=at, detail=detail or {}
        )
    )


def history_lengths(connection: Connection, notification_ids: list[str]) -> dict[str, int]:
    """How many entries each notification's history holds: the place of its latest entry.

    Read in the transaction that moved them, after their entries: a move's update holds the
    notification's row until it commits, and every entry is written under such a move, so the
    count is the history as `history` lists it (by id) up to this move's last entry, whatever
    release the other writers run."""
    if not notification_ids:
        return {}
    counted = connection.execute(
        select(events.c.notification_id, func.count())
        .where(_among(connection, events.c.notification_id, notification_ids))
        .group_by(events.c.notification_id)
    )
    return {notification_id: int(count) for notification_id, count in counted}


def transition_many(
    connection: Connection,
    notification_ids: list[str],
    leaving: Iterable[NotificationStatus],
    to: NotificationStatus,
    at: datetime,
    detail: dict[str, Any] | None = None,
    *,
    passing: tuple[tuple[NotificationStatus, dict[str, Any]], ...] = (),
    **fields: Any,
) -> dict[str, int]:
    """`transition` for many notifications in three statements; returns the ids that moved,
    each with the place of its entry for `to` in its history (those of `passing` just before).

    `passing` are statuses the notifications go through on the way to `to` within this
    transaction, each with its detail: recorded in the history, written to the row once."""
    moved = set_status_many(connection, notification_ids, leaving, to, at, **fields)
    if moved:
        steps = [*passing, (to, detail or {})]
        connection.execute(
            insert(events),
            [
                {"notification_id": moved_id, "status": status.value, "at": at, "detail": step}
                for moved_id in sorted(moved)
                for status, step in steps
            ],
        )
    return history_lengths(connection, sorted(moved))


def hold_until_moved(connection: Connection) -> None:
    """Hold what this transaction reads until it commits, so that it moves rows as it read
    them. PostgreSQL holds the rows a `FOR UPDATE` read takes; SQLite has one writer, which
    pysqlite would take only at the first write, after another writer may have moved a row
    read: the write lock is taken now (called first in the transaction)."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def set_providers(connection: Connection, pairs: list[tuple[str, str]]) -> None:
    """Many `set_provider` at once: (notification id, provider id) pairs."""
    if not pairs:
        return
    if connection.dialect.name == "postgresql":
        # one statement over two arrays, not one UPDATE a row
        given = (
            func.unnest(
                bindparam("targets", [target for target, _ in pairs], type_=ARRAY(String)),
                bindparam("providers", [provider for _, provider in pairs], type_=ARRAY(String)),
            )
            .table_valued("target", "provider")
            .render_derived(name="given")
        )
        connection.execute(
            update(notifications)
            .where(notifications.c.id == given.c.target)
            .values(provider_id=given.c.provider)
        )
        return
    connection.execute(
        update(notifications)
        .where(notifications.c.id == bindparam("target"))
        .values(provider_id=bindparam("provider")),
        [{"target": target, "provider": provider} for target, provider in pairs],
    )


def fix_sms_deadlines(
    connection: Connection, deadlines: Mapping[str, datetime]
) -> tuple[dict[str, datetime], set[str]]:
    """Each notification's SMS deadline (`sms_valid_until`), set to the one given where it has
    none yet (its first claim for SMS), kept where it has one (a later claim, a retry): returns
    the deadline each holds, and the notifications whose deadline this call set. In the claim's
    transaction, under its hold on the rows; one update a distinct deadline (a batch claimed at
    one moment has as many as validities)."""
    by_deadline: dict[datetime, list[str]] = {}
    for notification_id, deadline in deadlines.items():
        by_deadline.setdefault(deadline, []).append(notification_id)
    fixed: set[str] = set()
    for deadline, ids in by_deadline.items():
        fixed.update(
            connection.execute(
                update(notifications)
                .where(_among(connection, notifications.c.id, ids))
                .where(notifications.c.sms_valid_until.is_(None))
                .values(sms_valid_until=deadline)
                .returning(notifications.c.id)
            ).scalars()
        )
    held = {notification_id: deadlines[notification_id] for notification_id in fixed}
    kept = [notification_id for notification_id in deadlines if notification_id not in fixed]
    if kept:  # read only where an earlier claim's deadline stands: a first claim reads none
        earlier = connection.execute(
            select(notifications.c.id, notifications.c.sms_valid_until).where(
                _among(connection, notifications.c.id, kept)
            )
        )
        held |= {notification_id: until for notification_id, until in earlier if until is not None}
    return held, fixed


def _among(
    connection: Connection, column: ColumnElement[str], ids: list[str]
) -> ColumnElement[bool]:
    """`column IN (ids)`; on PostgreSQL `= ANY(array)`, one parameter however many the ids, so
    that a batch of thousands is not a statement of thousands of placeholders."""
    if connection.dialect.name == "postgresql":
        return column == any_(bindparam("ids", ids, type_=ARRAY(String)))
    return column.in_(ids)


def put_off(connection: Connection, ids: list[str], until: datetime) -> None:
    """Leave the notifications, those still accepted, to the dispatch rounds from `until` on."""
    connection.execute(
        update(notifications)
        .where(_among(connection, notifications.c.id, ids))
        .where(notifications.c.status == NotificationStatus.ACCEPTED.value)
        .values(next_try_at=until)
    )


def set_provider(
    connection: Connection,
    notification_id: str,
    provider_id: str,
    status: NotificationStatus | None = None,
) -> bool:
    """The channel's id of the message now carrying the notification. With `status`, only while
    the notification is still in it with no id yet: False when another actor moved it on (a
    receipt, an answer, the sweeper) while the channel was being called."""
    statement = update(notifications).where(notifications.c.id == notification_id)
    if status is not None:
        statement = statement.where(
            notifications.c.status == status.value, notifications.c.provider_id.is_(None)
        )
    return bool(connection.execute(statement.values(provider_id=provider_id)).rowcount == 1)


def bill(
    connection: Connection,
    notification: dict[str, Any],
    channel: str,
    price: Decimal,
    currency: str,
    at: datetime,
) -> bool:
    """One ledger entry for a delivered notification; a second attempt finds it there."""
    try:
        with connection.begin_nested():
            connection.execute(
                insert(ledger).values(
                    notification_id=notification["id"],
                    client_key=notification["client_key"],
                    channel=channel,
                    country=notification["country"],
                    price=price,
                    currency=currency,
                    delivered_at=at,
                    # the billing month is UTC's, whatever offset the report came with
                    month=at.astimezone(UTC).strftime("%Y-%m"),
                )
            )
    except IntegrityError:
        return False
    return True


def correct_delivery_time(
    connection: Connection, notification_id: str, at: datetime, price: Decimal
) -> bool:
    """Date a delivery recorded before its report came (the sweeper found it done when the
    withdrawal came too late, or its read came first) back to when the network reports it
    happened: so it is billed in its month, at `price` (that moment's), and timed as it was.
    Once, and only earlier: False when there is nothing to correct."""
    found = connection.execute(
        select(events.c.id, events.c.at, events.c.detail)
        .where(events.c.notification_id == notification_id, events.c.status == "delivered")
        .order_by(events.c.id)
        .limit(1)
    ).first()
    if found is None:
        return False
    detail = dict(found.detail or {})
    recorded_early = detail.get("withdrawal_too_late") or detail.get("read_first")
    if not recorded_early or "recorded_at" in detail or at >= found.at:
        return False
    detail["recorded_at"] = found.at.isoformat()  # when it was recorded without its report
    connection.execute(update(events).where(events.c.id == found.id).values(at=at, detail=detail))
    connection.execute(
        update(ledger)
        .where(ledger.c.notification_id == notification_id)
        .values(delivered_at=at, month=at.astimezone(UTC).strftime("%Y-%m"), price=price)
    )
    return True


def fetch(
    connection: Connection, notification_id: str, *, hold: bool = False
) -> dict[str, Any] | None:
    """The notification; `hold`: kept from being forgotten (PostgreSQL's `FOR SHARE`) until the
    transaction commits, for one that writes about it without moving it (SQLite holds the
    store's write lock: `hold_until_moved`)."""
    query = select(notifications).where(notifications.c.id == notification_id)
    if hold:
        query = query.with_for_update(read=True)
    row = connection.execute(query).mappings().first()
    return dict(row) if row else None


def fetch_by_provider(connection: Connection, provider_id: str) -> dict[str, Any] | None:
    row = (
        connection.execute(select(notifications).where(notifications.c.provider_id == provider_id))
        .mappings()
        .first()
    )
    return dict(row) if row else None


def history(connection: Connection, notification_id: str) -> list[dict[str, Any]]:
    rows = connection.execute(
        select(events.c.status, events.c.at, events.c.detail)
        .where(events.c.notification_id == notification_id)
        .order_by(events.c.id)
    ).mappings()
    return [dict(row) for row in rows]


def record_verification(
    connection: Connection,
    phone: str,
    at: datetime,
    method: str,
    result: str,
    account_id: str | None,
    notification_id: str | None,
) -> bool:
    """A result in the `verifications` input format (DESIGN §3), for the next batch run; and
    the number's overlay, which every check and notify reads before that run
    (delivery.overlay). `recorded_at` is the wall clock's, whatever the service's clock: the
    processes' copies of the overlay read on from it, and the nightly export from the result's.

    A prompt takes one answer: False, and nothing written, when its Yes or No is kept already
    (a repeated report, or two at once: the store's unique index decides)."""
    recorded_at = datetime.now(UTC)
    try:
        with connection.begin_nested():
            connection.execute(
                insert(verifications).values(
                    phone=phone,
                    ts=at,
                    method=method,
                    result=result,
                    account_id=account_id,
                    notification_id=notification_id,
                    recorded_at=recorded_at,
                )
            )
    except IntegrityError:
        return False
    if result not in ANSWERS:
        return True
    column = "confirmed_at" if result == "confirmed" else "denied_at"
    _keep_latest_answer(connection, phone, column, at, recorded_at)
    return True


def _keep_latest_answer(
    connection: Connection, phone: str, column: str, at: datetime, recorded_at: datetime
) -> None:
    """The number's overlay keeps the latest answer of each kind, not the last reported: a
    gateway's reports come in any order, and a late report of an older No must not replace a
    newer one. One upsert that compares in the database, so two answers written at once (by
    two workers) cannot both read the old row and the older win."""
    dialect_insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
    upsert = dialect_insert(overlay).values(phone=phone, **{column: at}, recorded_at=recorded_at)
    kept, given = overlay.c[column], upsert.excluded[column]
    connection.execute(
        upsert.on_conflict_do_update(
            index_elements=[overlay.c.phone],
            set_={
                column: case((or_(kept.is_(None), kept < given), given), else_=kept),
                "recorded_at": upsert.excluded.recorded_at,
            },
        )
    )


def cut_short_after_a_no(
    connection: Connection,
    phone: str,
    answered: str,
    networks: Iterable[str],
    said_at: datetime,
    now: datetime,
) -> int:
    """End now the lives of the number's other notifications still held by a social network,
    sent and not delivered or asked and not answered, once its holder said No at `said_at`:
    the sweeper withdraws them and sends them by SMS (a report that races the withdrawal, as
    at a TTL, bills one delivery), saying why (`ended_by_no_at`). Returns how many."""
    result = connection.execute(
        update(notifications)
        .where(
            notifications.c.phone == phone,
            notifications.c.id != answered,
            notifications.c.status.in_(
                [NotificationStatus.SENT.value, NotificationStatus.REVERIFY_PENDING.value]
            ),
            notifications.c.channel.in_(list(networks)),
            notifications.c.expires_at > now,
        )
        .values(expires_at=now, ended_by_no_at=said_at)
    )
    return result.rowcount


def answered_prompts(connection: Connection, notification_ids: list[str]) -> set[str]:
    """Those of the notifications whose prompt has the person's Yes or No kept already (or, for
    an SMS code, its right code or its last wrong one)."""
    if not notification_ids:
        return set()
    return set(
        connection.execute(
            select(verifications.c.notification_id)
            .where(_among(connection, verifications.c.notification_id, notification_ids))
            .where(verifications.c.result.in_(ENDED_BY_THE_PERSON))
        ).scalars()
    )


def record_no_answers(connection: Connection, unanswered: list[dict[str, Any]]) -> None:
    """`no_answer` results for prompts whose TTL ran out unanswered, at their expiry, each by
    the way it asked (`reverify`: null for the Yes/No prompt)."""
    if not unanswered:
        return
    recorded_at = datetime.now(UTC)
    connection.execute(
        insert(verifications),
        [
            {
                "phone": row["phone"],
                "ts": row["expires_at"],
                "method": row.get("reverify") or "prompt",
                "result": "no_answer",
                "account_id": None,
                "notification_id": row["id"],
                "recorded_at": recorded_at,
            }
            for row in unanswered
        ],
    )


# the ledger's prices' scale (Numeric(12, 4)), which a month without deliveries is written in too
NO_AMOUNT = Decimal("0.0000")


def billing_report(connection: Connection, client_key: str, month: str) -> list[dict[str, Any]]:
    """Delivered notifications of a month (the UTC month of their delivery) by channel, country
    and unit price, each line's amount its price times its deliveries: a price changed within
    the month makes two lines. Reckoned here, not summed by the store: every entry of a line
    holds one price, already to the ledger's places (`ownership.prices.ledger_price`), so
    SQLite, which keeps a price as a float, bills as PostgreSQL does."""
    rows = connection.execute(
        select(
            ledger.c.channel,
            ledger.c.country,
            ledger.c.currency,
            ledger.c.price,
            func.count().label("delivered"),
        )
        .where(ledger.c.client_key == client_key, ledger.c.month == month)
        .group_by(ledger.c.channel, ledger.c.country, ledger.c.currency, ledger.c.price)
        .order_by(ledger.c.channel, ledger.c.country, ledger.c.currency, ledger.c.price)
    ).mappings()
    return [
        {**row, "amount": (row["price"] * row["delivered"]).quantize(NO_AMOUNT)} for row in rows
    ]


def billing_total(lines: list[dict[str, Any]]) -> Decimal:
    """What a month's `billing_report` lines sum to."""
    return sum((line["amount"] for line in lines), start=NO_AMOUNT)
