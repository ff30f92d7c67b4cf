"""The webhook outbox in the store: events enqueued in the caller's transaction, claimed under a
lease by dispatchers, and settled as delivered, retried or given up."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    case,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from delivery.ports import ClientEvent
from delivery.webhooks.events import WebhookEvent, WebhookEventType, webhook_of
from store.secrets import SecretCipher, SecretKeyError
from store.tables import ClientRow
from store.tables_notifications import NotificationRow
from store.tables_webhooks import DeliveryState, WebhookDeliveryRow

log = logging.getLogger(__name__)

EVENT_ID_PREFIX = "evt_"


@dataclass(frozen=True)
class ClaimedDelivery:
    """An event a dispatcher holds under a lease: its `attempts` counts this attempt, which
    started at `claimed_at`."""

    id: int
    event_id: str
    client_key: str
    url: str
    event_type: str
    payload: dict[str, Any] = field(repr=False)
    created_at: datetime
    attempts: int
    # written as the event's `last_attempt_at` with the attempt's outcome, not at the claim:
    # an event held back for its endpoint's wait was not attempted, and keeps its last one's
    claimed_at: datetime


def new_event_id() -> str:
    # 128 random bits; the prefix tells an event id from a notification's or a template's
    return EVENT_ID_PREFIX + secrets.token_hex(16)


def event_id_of(*parts: str) -> str:
    """The event id of the event that `parts` name: the same parts, the same id. Shaped as
    `new_event_id`'s, so a client tells no difference."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return EVENT_ID_PREFIX + digest[:32]


def enqueue(
    session: Session,
    *,
    client_key: str,
    url: str,
    event_type: WebhookEventType | str,
    payload: Mapping[str, Any],
    now: datetime,
) -> str:
    """Add an event to the outbox in the caller's transaction; returns its event id.

    Called where the change it reports is written, so both commit or neither does. The first
    attempt is due at once.
    """
    event_id = new_event_id()
    row = new_row(event_id, client_key, url, WebhookEventType(event_type), payload, now)
    session.add(WebhookDeliveryRow(**row))
    return event_id


def new_row(
    event_id: str,
    client_key: str,
    url: str,
    event_type: WebhookEventType,
    payload: Mapping[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """An outbox row's values for a new event, due at once."""
    return {
        "event_id": event_id,
        "client_key": client_key,
        "url": url,
        "event_type": event_type.value,
        "payload": dict(payload),
        "created_at": now,
        "attempts": 0,
        "next_attempt_at": now,
        "state": DeliveryState.PENDING.value,
    }


def enqueue_event(
    session: Session, *, client_key: str, url: str, event: WebhookEvent, now: datetime
) -> str:
    """`enqueue` for one of the events of `delivery.webhooks.events`; returns the event id."""
    event_type, payload = webhook_of(event)
    return enqueue(
        session, client_key=client_key, url=url, event_type=event_type, payload=payload, now=now
    )


# how many of the earliest due events a claim ranks, for each event it may take
CANDIDATES_PER_SLOT = 10


def claim_due(
    connection: Connection, *, now: datetime, lease: timedelta, limit: int, per_client: int
) -> list[ClaimedDelivery]:
    """Take up to `limit` due events for one attempt each, in one statement; the caller commits.

    Clients share a batch: of the earliest due events, each client with events among them
    takes at most its share of the batch (`limit` over their number, and never less than
    `per_client`), its earliest first, and the batch lists the clients' first events before
    their second ones, so that the senders take them in turn. A batch is settled after its
    last send, so without shares one client whose endpoint hangs would hold every other
    client's events for as many deadlines as it has events in the batch; a client alone
    takes the whole batch. Only a bounded slice of the earliest due events is ranked, so a
    claim costs the same whatever the backlog; the shares are of that slice, so a client whose
    backlog alone fills it takes whole batches until it no longer does, as every client did
    before shares (ranking every due event cost 0.1-0.7 s a claim at 100,000 due).

    The claim moves `next_attempt_at` to the end of the lease, so a dispatcher that dies while
    sending leaves the event due again once the lease runs out (at least once delivery). On
    PostgreSQL, rows another dispatcher is claiming are skipped, not waited for; SQLite has
    one writer at a time, and the statement is atomic there.

    The claim counts the attempt but leaves `last_attempt_at` to the attempt's outcome
    (`record_delivered`, `record_failure`): some claimed events are held back unsent
    (`record_held_back`), and an UPDATE's RETURNING gives the values it wrote, not the ones
    it replaced, to put back. So `last_attempt_at` is when the last attempt with an outcome
    started; one cut short by a crash is counted in `attempts` only.
    """
    table = WebhookDeliveryRow
    is_due = (table.state == DeliveryState.PENDING.value, table.next_attempt_at <= now)
    earliest = (
        select(table.id, table.client_key, table.next_attempt_at)
        .where(*is_due)
        .order_by(table.next_attempt_at)  # the index's order: no sort of the whole backlog
        .limit(limit * CANDIDATES_PER_SLOT)
        .subquery("earliest")
    )
    # ranked in subqueries: PostgreSQL locks no row of a query that has window functions
    numbered = select(
        earliest.c.id,
        func.row_number()
        .over(
            partition_by=earliest.c.client_key, order_by=(earliest.c.next_attempt_at, earliest.c.id)
        )
        .label("place"),
        func.dense_rank().over(order_by=earliest.c.client_key).label("client"),
    ).subquery("numbered")
    ranked = select(
        numbered.c.id, numbered.c.place, func.max(numbered.c.client).over().label("clients")
    ).subquery("ranked")
    due = (
        select(table.id)
        .join(ranked, ranked.c.id == table.id)
        .where(
            # a share of the batch: place <= limit / clients, or the floor `per_client`
            (ranked.c.place * ranked.c.clients <= limit) | (ranked.c.place <= per_client),
            *is_due,
        )
        .order_by(ranked.c.place, table.next_attempt_at, table.id)
        .limit(limit)
        .with_for_update(of=table, skip_locked=True)
    )
    claimed = connection.execute(
        update(table)
        .where(table.id.in_(due.scalar_subquery()))
        .values(next_attempt_at=now + lease, attempts=table.attempts + 1)
        .returning(
            table.id,
            table.event_id,
            table.client_key,
            table.url,
            table.event_type,
            table.payload,
            table.created_at,
            table.attempts,
        )
    )
    return [ClaimedDelivery(**row._asdict(), claimed_at=now) for row in claimed]


def record_delivered(
    connection: Connection, delivery: ClaimedDelivery, *, now: datetime, status_code: int
) -> bool:
    """Mark an event delivered; False if it was settled already (another dispatcher's retry
    after this one's lease ran out may have got there first)."""
    table = WebhookDeliveryRow
    result = connection.execute(
        update(table)
        .where(table.id == delivery.id, table.state == DeliveryState.PENDING.value)
        .values(
            state=DeliveryState.DELIVERED.value,
            url=delivery.url,  # where it went, if its client's webhook URL moved meanwhile
            last_attempt_at=delivery.claimed_at,
            finished_at=now,
            last_status_code=status_code,
            last_error=None,
        )
    )
    return bool(result.rowcount)


def record_failure(
    connection: Connection,
    delivery: ClaimedDelivery,
    *,
    now: datetime,
    retry_at: datetime | None,
    status_code: int | None,
    error: str,
) -> bool:
    """Schedule the next attempt at `retry_at`, or give the event up when it is None.

    Only the holder of the latest claim settles a failure: once a lease ran out and another
    dispatcher claimed the event again, this attempt's outcome no longer decides its schedule.
    """
    values: dict[str, Any] = {
        "url": delivery.url,  # where the attempt went, if its client's webhook URL moved
        "last_attempt_at": delivery.claimed_at,
        "last_status_code": status_code,
        "last_error": error[:1000],
    }
    if retry_at is None:
        values |= {"state": DeliveryState.GIVEN_UP.value, "finished_at": now}
    else:
        values |= {"next_attempt_at": retry_at}
    return _settle_claim(connection, delivery, values)


def record_held_back(
    connection: Connection,
    delivery: ClaimedDelivery,
    *,
    until: datetime | None,
    error: str,
    now: datetime,
) -> bool:
    """An event claimed but not sent, since its endpoint failed another event of the batch or
    has a wait recorded: the attempt its claim counted is taken back (its `last_attempt_at`,
    never written by the claim, stays its last attempt's), and it waits with the endpoint
    until `until`, or is given up with None. False if the event is no longer this claim's to
    settle."""
    table = WebhookDeliveryRow
    values: dict[str, Any] = {"attempts": table.attempts - 1, "last_error": error[:1000]}
    if until is None:
        values |= {"state": DeliveryState.GIVEN_UP.value, "finished_at": now}
    else:
        values |= {"next_attempt_at": until}
    return _settle_claim(connection, delivery, values)


def _settle_claim(
    connection: Connection, delivery: ClaimedDelivery, values: dict[str, Any]
) -> bool:
    """Write `values` to a claimed event while it is still that claim's: pending, and claimed
    no more times since."""
    table = WebhookDeliveryRow
    result = connection.execute(
        update(table)
        .where(
            table.id == delivery.id,
            table.state == DeliveryState.PENDING.value,
            table.attempts == delivery.attempts,
        )
        .values(values)
    )
    return bool(result.rowcount)


def forget_settled_before(connection: Connection, moment: datetime) -> int:
    """Delete the delivered and given-up events settled before `moment`; the caller commits.
    Pending ones stay whatever their age: they give up by themselves within the retry window."""
    table = WebhookDeliveryRow
    result = connection.execute(
        delete(table).where(table.finished_at < moment, table.state != DeliveryState.PENDING.value)
    )
    return int(result.rowcount)


@dataclass(frozen=True)
class Backlog:
    """A client's events not yet settled: how many, how many of them are due (waiting for a
    dispatcher to claim them; the others wait for a retry's back-off, an endpoint's wait, or
    the lease of an attempt in flight), and the earliest next attempt (None: none pending)."""

    pending: int = 0
    due: int = 0
    next_attempt_at: datetime | None = None


def backlogs(
    connection: Connection, *, now: datetime, client_keys: Iterable[str] | None = None
) -> dict[str, Backlog]:
    """The backlog of each client that has one (of `client_keys` only, if given), in one
    grouped query: an index on `state` leads it to the pending events alone, however many
    settled ones the outbox keeps (10,000 pending of 1,000,000 events: 8 ms on SQLite, 20 ms
    on PostgreSQL; one client's 200, 1-2 ms)."""
    table = WebhookDeliveryRow
    query = (
        select(
            table.client_key,
            func.count(),
            func.count(case((table.next_attempt_at <= now, 1))),
            func.min(table.next_attempt_at),
        )
        .where(table.state == DeliveryState.PENDING.value)
        .group_by(table.client_key)
    )
    if client_keys is not None:
        query = query.where(table.client_key.in_(set(client_keys)))
    return {
        key: Backlog(pending, due, earliest)
        for key, pending, due, earliest in connection.execute(query)
    }


@dataclass(frozen=True)
class WebhookSecrets:
    """A client's webhook secrets, opened: its current one, and the one a renewal replaced
    with the end of its overlap."""

    current: str = field(repr=False)
    previous: str | None = field(default=None, repr=False)
    previous_until: datetime | None = None

    def signing_at(self, moment: datetime) -> tuple[str, ...]:
        """The secrets an attempt made at `moment` is signed with, the current one first."""
        if self.previous is None or self.previous_until is None or moment >= self.previous_until:
            return (self.current,)
        return (self.current, self.previous)


def webhook_secrets(
    connection: Connection, client_keys: Iterable[str], cipher: SecretCipher
) -> dict[str, WebhookSecrets | None]:
    """Each client's webhook secrets, opened (the previous one while its overlap lasts is
    decided at each attempt: a batch may outlast it). None for a client that has no secret,
    or whose current secret the key cannot open (logged): that client's events fail and are
    retried, and the others' go out, rather than one sealed under a retired key holding every
    client's back. A previous secret the key cannot open is logged and left out: the current
    one still signs."""
    table = ClientRow
    rows = connection.execute(
        select(
            table.consumer_key,
            table.webhook_secret_encrypted,
            table.previous_webhook_secret_encrypted,
            table.previous_webhook_secret_until,
        ).where(table.consumer_key.in_(set(client_keys)))
    )
    opened: dict[str, WebhookSecrets | None] = {}
    for key, token, previous_token, previous_until in rows:
        try:
            current = cipher.decrypt(token) if token else None
        except SecretKeyError as error:
            log.error("cannot open the webhook secret of client %s: %s", key, error)
            current = None
        if current is None:
            opened[key] = None
            continue
        opened[key] = WebhookSecrets(current)
        if previous_token and previous_until is not None:
            try:
                opened[key] = WebhookSecrets(
                    current, cipher.decrypt(previous_token), previous_until
                )
            except SecretKeyError as error:
                log.warning(
                    "cannot open the previous webhook secret of client %s, which signs until "
                    "%s: its webhooks are signed with the current one only: %s",
                    key,
                    previous_until.isoformat(),
                    error,
                )
    return opened


def sent_to_callbacks(connection: Connection, deliveries: Iterable[ClaimedDelivery]) -> set[str]:
    """The event ids among `deliveries` that go to the callback_url a client named for their
    notification, as opposed to a webhook URL the operator registered (then or since, for
    this client or another)."""
    wanted = {
        delivery.event_id: (str(delivery.payload["notification_id"]), delivery.url)
        for delivery in deliveries
        if isinstance(delivery.payload, dict) and "notification_id" in delivery.payload
    }
    if not wanted:
        return set()
    table = NotificationRow
    rows = connection.execute(
        select(table.id, table.callback_url).where(
            table.id.in_({notification for notification, _ in wanted.values()})
        )
    )
    named = {(notification, url) for notification, url in rows if url is not None}
    return {event_id for event_id, sent in wanted.items() if sent in named}


def addressed_now(
    connection: Connection, deliveries: list[ClaimedDelivery], to_callbacks: set[str]
) -> list[ClaimedDelivery]:
    """`deliveries`, each addressed where its client is to be told now: an event that went to
    the webhook URL the operator registered follows it when the operator changes it (the URL
    is written into the event when it is queued, and read from a cache up to a minute old),
    rather than being retried for a day at an endpoint the client left. Events for a
    notification's own callback_url (`to_callbacks`) stay where the client named, and a
    client whose URL was cleared keeps its events' URLs: no other is known."""
    rows = connection.execute(
        select(ClientRow.consumer_key, ClientRow.webhook_url).where(
            ClientRow.consumer_key.in_({delivery.client_key for delivery in deliveries})
        )
    )
    registered = {key: url for key, url in rows}
    moved = []
    for delivery in deliveries:
        url = registered.get(delivery.client_key)
        if url and url != delivery.url and delivery.event_id not in to_callbacks:
            delivery = replace(delivery, url=url)
        moved.append(delivery)
    return moved


class OutboxWebhooks:
    """The notify service's `Webhooks` port on the outbox: many events in one insert, inside
    the caller's transaction. An event without a URL goes to the client's default webhook URL
    (looked up once a minute); a client with neither gets none."""

    def __init__(self, cache_seconds: float = 60.0) -> None:
        self.cache_seconds = cache_seconds
        self._urls: dict[str, tuple[float, str | None]] = {}

    def enqueue(self, connection: Connection, events: list[ClientEvent], now: datetime) -> None:
        rows: list[dict[str, Any]] = []
        keyed: list[dict[str, Any]] = []
        for item in events:
            url = item.url or self._default_url(connection, item.client_key)
            if not url:
                continue
            event_type, payload = webhook_of(item.event)
            event_id = item.event_id or new_event_id()
            row = new_row(event_id, item.client_key, url, event_type, payload, now)
            (keyed if item.event_id else rows).append(row)
        if rows:
            connection.execute(insert(WebhookDeliveryRow), rows)
        for row in keyed:  # once-only: an event with its id already queued is that event
            try:
                with connection.begin_nested():
                    connection.execute(insert(WebhookDeliveryRow), [row])
            except IntegrityError:
                continue

    def _default_url(self, connection: Connection, client_key: str) -> str | None:
        cached = self._urls.get(client_key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        url = connection.scalar(
            select(ClientRow.webhook_url).where(ClientRow.consumer_key == client_key)
        )
        self._urls[client_key] = (time.monotonic() + self.cache_seconds, url)
        return url
