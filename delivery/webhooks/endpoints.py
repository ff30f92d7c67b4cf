"""A client's webhook endpoint (its client and URL) found unavailable: the wait recorded for it,
which holds back the events claimed for it, and the put-off of its backlog in the outbox."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, case, delete, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from store.tables import ClientRow
from store.tables_notifications import NotificationRow
from store.tables_webhooks import DeliveryState, WebhookDeliveryRow, WebhookEndpointWaitRow


@dataclass(frozen=True)
class EndpointWait:
    """Until when an endpoint's events wait, and until when of that the endpoint asked for
    (a Retry-After; None when it did not answer, and is tried again after a first step)."""

    until: datetime
    asked_until: datetime | None = None
    # why, as the attempt that found it said (for the operator and the held-back events)
    reason: str = field(default="", compare=False)

    def later(self, other: EndpointWait | None) -> EndpointWait:
        """The two waits as one: each part as long as the longer of them."""
        if other is None:
            return self
        latest = max(self, other, key=lambda wait: wait.until)
        asked = [wait.asked_until for wait in (self, other) if wait.asked_until is not None]
        return replace(latest, asked_until=max(asked, default=None))


def url_digest(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


def remember_wait(connection: Connection, *, client_key: str, url: str, wait: EndpointWait) -> None:
    """Record that the endpoint's events wait until `wait.until`, those queued meanwhile too;
    each part of a wait already recorded (another dispatcher's) is kept if longer."""
    table = WebhookEndpointWaitRow
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(
        client_key=client_key,
        url_digest=url_digest(url),
        url=url,
        until=wait.until,
        asked_until=wait.asked_until,
        reason=wait.reason[:1000],
    )
    new = statement.excluded
    later = new.until > table.until
    asked_later = table.asked_until.is_(None) | (new.asked_until > table.asked_until)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[table.client_key, table.url_digest],
            set_={
                "until": case((later, new.until), else_=table.until),
                "asked_until": case(
                    (new.asked_until.is_not(None) & asked_later, new.asked_until),
                    else_=table.asked_until,
                ),
                "reason": case((later, new.reason), else_=table.reason),
            },
        )
    )


def endpoint_waits(
    connection: Connection, endpoints: Iterable[tuple[str, str]], *, now: datetime
) -> dict[tuple[str, str], EndpointWait]:
    """The waits recorded for `endpoints` (client key and URL) that have not ended."""
    wanted = set(endpoints)
    if not wanted:
        return {}
    table = WebhookEndpointWaitRow
    rows = connection.execute(
        select(table.client_key, table.url, table.until, table.asked_until, table.reason).where(
            table.client_key.in_({client for client, _ in wanted}),
            table.url_digest.in_({url_digest(url) for _, url in wanted}),
            table.until > now,
        )
    )
    return {
        (client, url): EndpointWait(until, asked_until, reason)
        for client, url, until, asked_until, reason in rows
        if (client, url) in wanted
    }


@dataclass(frozen=True)
class LiveWait:
    """A wait recorded for a client's endpoint that has not ended, and how many of the
    client's pending events it holds back now: those a dispatcher sends to its URL (as
    `put_off_due` finds them). It may hold none: one recorded for the URL the operator moved
    the client from while an attempt there was in flight, say, which its events no longer go
    to; only an event of a notification that named that URL as its callback_url would wait
    for it."""

    url: str
    wait: EndpointWait
    holds: int


def live_waits(
    connection: Connection, *, now: datetime, client_keys: Iterable[str] | None = None
) -> dict[str, list[LiveWait]]:
    """Each client's waits that have not ended by `now` (of `client_keys` only, if given), in
    their URLs' order, with what each holds back, in one query: what an operator looks at
    when a client's webhooks do not arrive. A wait over is left out: it holds nothing back,
    and is only not yet forgotten. Only the pending events of clients with a wait are read,
    by the outbox's (client, state) index, each once whatever the number of its client's
    waits (10,000 pending of 1,000,000 events, every client with a wait: 25-35 ms)."""
    wait, event = WebhookEndpointWaitRow, WebhookDeliveryRow
    registered = ClientRow.webhook_url
    live: list[ColumnElement[bool]] = [wait.until > now]
    if client_keys is not None:
        live.append(wait.client_key.in_(set(client_keys)))
    # where each pending event of a client with a wait goes now, as `addressed_now` sends it
    # (and `put_off_due` finds it): the URL it was queued for if no URL is registered, or if
    # its notification named that URL as its callback_url; else the registered URL
    addressed = (
        select(
            event.client_key,
            case(
                (registered.is_(None) | (event.url == registered), event.url),
                (_named_for_its_notification(), event.url),
                else_=registered,
            ).label("url"),
        )
        .outerjoin(ClientRow, ClientRow.consumer_key == event.client_key)
        .where(
            event.state == DeliveryState.PENDING.value,
            event.client_key.in_(select(wait.client_key).where(*live)),
        )
        .subquery("addressed")
    )
    held = (
        select(addressed.c.client_key, addressed.c.url, func.count().label("events"))
        .group_by(addressed.c.client_key, addressed.c.url)
        .subquery("held")
    )
    query = (
        select(
            wait.client_key,
            wait.url,
            wait.until,
            wait.asked_until,
            wait.reason,
            func.coalesce(held.c.events, 0),
        )
        .outerjoin(held, (held.c.client_key == wait.client_key) & (held.c.url == wait.url))
        .where(*live)
    )
    waits: dict[str, list[LiveWait]] = {}
    for client, url, until, asked_until, reason, holds in connection.execute(query):
        shown = LiveWait(url, EndpointWait(until, asked_until, reason), holds)
        waits.setdefault(client, []).append(shown)
    for endpoints in waits.values():
        # here, not in SQL: the databases' collations order URLs otherwise
        endpoints.sort(key=lambda endpoint: endpoint.url)
    return waits


def _named_for_its_notification() -> ColumnElement[bool]:
    """The event is queued for the callback_url its notification named: it stays at that URL
    whatever the client's registered one (`delivery.webhooks.outbox.addressed_now`)."""
    table = WebhookDeliveryRow
    return exists().where(
        NotificationRow.id == table.payload["notification_id"].as_string(),
        NotificationRow.callback_url == table.url,
    )


def put_off_due(
    connection: Connection,
    *,
    client_key: str,
    url: str,
    until: datetime,
    now: datetime,
    window: timedelta,
    asked_until: datetime | None,
) -> tuple[int, int]:
    """The client's events that would be sent to `url` before `until` wait until then;
    returns how many, and how many were given up instead (below).

    For an endpoint that could not be reached or asked to be left alone (429, 503): its
    backlog waits with the event that found it so, rather than filling the next batches and
    holding every other client's events behind it. Where an event is sent is decided as
    `addressed_now` decides it: a notification's own callback_url, else the client's
    registered URL. Events due later but before `until` (a retry already scheduled) wait too,
    as may one another dispatcher holds (its outcome settles it as ever); no attempt is
    counted. A due one whose retry `window` from its creation ends before `until` is given up
    if its window ends before `asked_until`, the part of the wait the endpoint asked for (a
    Retry-After past its window, as one sent would be), or is over, and otherwise waits to the
    end of its window; one not due is left to its own schedule (it may be another
    dispatcher's, being sent).
    """
    table = WebhookDeliveryRow
    registered = connection.scalar(
        select(ClientRow.webhook_url).where(ClientRow.consumer_key == client_key)
    )
    # named by its notification as the callback_url it is queued for: it stays at that URL
    named = _named_for_its_notification()
    if registered is None:  # none to follow: each event stays where it was queued
        sent_there = table.url == url
    elif registered == url:  # and every event not named elsewhere follows it there
        sent_there = (table.url == url) | ~named
    else:  # a callback_url: the events its notifications named
        sent_there = (table.url == url) & named
    before_then = (
        table.client_key == client_key,
        table.state == DeliveryState.PENDING.value,
        table.next_attempt_at < until,
        sent_there,
    )
    waiting = connection.execute(
        update(table)
        .where(*before_then, table.created_at >= until - window)
        .values(next_attempt_at=until)
    )
    ending = (*before_then, table.next_attempt_at <= now, table.created_at < until - window)
    # over: the window ended, or ends inside the part of the wait the endpoint asked for
    over = table.created_at <= now - window
    if asked_until is not None:
        over = over | (table.created_at < asked_until - window)
    last_chances = connection.execute(
        select(table.id, table.created_at).where(*ending, ~over)
    ).all()
    moved = 0
    for event, created_at in last_chances:  # few: those whose window ends within the wait
        # as read, still: another dispatcher may have claimed it since (PostgreSQL)
        moved += connection.execute(
            update(table)
            .where(table.id == event, *ending, ~over)
            .values(next_attempt_at=created_at + window)
        ).rowcount
    given_up = connection.execute(
        update(table)
        .where(*ending, over)
        .values(
            state=DeliveryState.GIVEN_UP.value,
            finished_at=now,
            last_error=f"given up unsent: its endpoint waits until {until.isoformat()}, past "
            "the event's retry window",
        )
    )
    return int(waiting.rowcount) + moved, int(given_up.rowcount)


def forget_waits_over(connection: Connection, now: datetime) -> int:
    """Delete the endpoints' waits that ended by `now`; the caller commits."""
    table = WebhookEndpointWaitRow
    return forget_waits(connection, table.until <= now)


def _bytewise(connection: Connection, *columns: Any) -> list[Any]:
    """`columns` ordered byte by byte, as Python sorts strings."""
    if connection.dialect.name == "postgresql":
        return [column.collate("C") for column in columns]
    return list(columns)  # SQLite compares text bytewise (BINARY)


def forget_waits(connection: Connection, which: ColumnElement[bool]) -> int:
    """Delete the endpoints' waits `which` selects. Their rows are locked first in the key's
    order, the order dispatchers record waits in, so that neither waits for the other in a
    cycle (PostgreSQL)."""
    table = WebhookEndpointWaitRow
    keys = connection.execute(
        select(table.client_key, table.url_digest)
        .where(which)
        # bytewise, as Python sorts them: a database's collation may order keys otherwise
        .order_by(*_bytewise(connection, table.client_key, table.url_digest))
        .with_for_update()
    ).all()
    forgotten = 0
    for client_key, digest in keys:
        forgotten += connection.execute(
            # `which` again: SQLite locks nothing on the read, and a wait may have been renewed
            delete(table).where(table.client_key == client_key, table.url_digest == digest, which)
        ).rowcount
    return forgotten
