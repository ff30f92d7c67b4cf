"""Sends the outbox's due events to the clients, signed, and settles each attempt."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any, NamedTuple, Protocol

import httpx
import orjson
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from delivery.clock import Clock
from delivery.http_deadline import DeadlineClient, read_at_most
from delivery.webhooks.endpoints import (
    EndpointWait,
    endpoint_waits,
    forget_waits_over,
    put_off_due,
    remember_wait,
    url_digest,
)
from delivery.webhooks.outbox import (
    ClaimedDelivery,
    WebhookSecrets,
    addressed_now,
    claim_due,
    forget_settled_before,
    record_delivered,
    record_failure,
    record_held_back,
    sent_to_callbacks,
    webhook_secrets,
)
from delivery.webhooks.retry import RetrySchedule
from delivery.webhooks.signing import sign
from pipelines.logs import PHONE_LIKE, masked_numbers, printable, url_shown
from store.secrets import SecretCipher

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 5.0
DEFAULT_LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class SendResult:
    """What the client's endpoint answered: a status code, or why there was none."""

    status_code: int | None
    error: str | None = None
    # the endpoint's Retry-After, read on the answers it is meant for (429, 503)
    retry_after: timedelta | None = None

    @property
    def accepted(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        """410 Gone: the endpoint is no more, and trying the event again would not change it."""
        return self.status_code == HTTPStatus.GONE

    @property
    def endpoint_unavailable(self) -> bool:
        """No answer (refused, timed out, unresolvable), or one asking to be left alone (429,
        503): true of the endpoint, whichever event is sent to it next. A 500 or a 4xx may be
        the event's own, and says nothing of the next."""
        return self.status_code is None or self.status_code in RETRY_AFTER_READ_ON


class WebhookSender(Protocol):
    """The port: POST one signed body to a client's URL. Never raises for the endpoint's
    failures (refused, timed out, 5xx): they are answers too. `named_by_client` says the URL
    came from a notification's callback_url rather than from the operator's registration."""

    def send(
        self, url: str, body: bytes, headers: Mapping[str, str], *, named_by_client: bool = False
    ) -> SendResult: ...


class HttpWebhookSender:
    """The sender over HTTP, with a deadline on each attempt as a whole.

    An endpoint that answers a byte at a time must not hold a send, and the batch and lease
    around it, for as long as it likes: each attempt runs on a `DeadlineClient`
    (`delivery/http_deadline.py`), cut off at the deadline. Redirects are not followed: a
    client moves its endpoint by telling us, not by redirecting signed bodies elsewhere.

    A URL a client named reaches public addresses only, unless `private_callbacks`: its host
    name is judged by the addresses it resolves to when the connection is made, since the API
    can only judge the URL's text. The URLs the operator registered may be anywhere.
    """

    def __init__(
        self, seconds: float = DEFAULT_TIMEOUT_SECONDS, *, private_callbacks: bool = False
    ) -> None:
        self._seconds = seconds
        self._client = DeadlineClient(seconds)
        self._callbacks = DeadlineClient(seconds, public_only=not private_callbacks)

    @classmethod
    def with_timeout(
        cls, seconds: float = DEFAULT_TIMEOUT_SECONDS, *, private_callbacks: bool = False
    ) -> HttpWebhookSender:
        return cls(seconds, private_callbacks=private_callbacks)

    def send(
        self, url: str, body: bytes, headers: Mapping[str, str], *, named_by_client: bool = False
    ) -> SendResult:
        headers = {**headers, "content-type": "application/json"}

        def attempt(http: httpx.Client) -> SendResult:
            with http.stream("POST", url, content=body, headers=headers) as response:
                if response.is_success:
                    return SendResult(response.status_code)
                reply = _start_of(response, REPLY_SHOWN)
            return SendResult(
                response.status_code,
                f"HTTP {response.status_code}: {reply}",
                retry_after=_retry_after(response),
            )

        try:
            return (self._callbacks if named_by_client else self._client).run(attempt)
        except TimeoutError:
            return SendResult(None, f"no complete answer within {self._seconds:g} s")
        except httpx.HTTPError as error:
            return SendResult(None, f"{type(error).__name__}: {error}")

    def close(self) -> None:
        self._client.close()
        self._callbacks.close()


# how much of a failing endpoint's reply is kept in the outbox, to show why it failed
REPLY_SHOWN = 200


def _start_of(response: httpx.Response, characters: int) -> str:
    """The first `characters` of the reply, without reading a reply of any length whole, as a
    line of the log may show it: the endpoint is the client's, and a line break, a terminal's
    escape or a bidi control in its reply would forge lines of the service's own log."""
    read = read_at_most(response, characters * 4)  # enough bytes for them in UTF-8
    reply = read.decode(response.encoding or "utf-8", errors="replace")[:characters]
    return printable(masked_numbers(reply, PHONE_LIKE))  # a number it quotes, masked


# the answers whose Retry-After says when to come back (RFC 9110 §10.2.3, RFC 6585 §4)
RETRY_AFTER_READ_ON = frozenset({HTTPStatus.TOO_MANY_REQUESTS, HTTPStatus.SERVICE_UNAVAILABLE})


def _retry_after(response: httpx.Response) -> timedelta | None:
    """The wait a 429 or 503 asks for, in seconds or until a date; None when it asks for none
    or none that can be read (the schedule alone decides then)."""
    value = response.headers.get("retry-after", "").strip()
    if response.status_code not in RETRY_AFTER_READ_ON or not value:
        return None
    if value.isascii() and value.isdigit():
        # a number of any length is read only as far as it matters (int() refuses thousands
        # of digits)
        seconds = int(value) if len(value) <= 9 else MOST_RETRY_AFTER_SECONDS
        return timedelta(seconds=min(seconds, MOST_RETRY_AFTER_SECONDS))
    try:
        until = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if until.tzinfo is None:  # `-0000`: a date in UTC that does not say so
        until = until.replace(tzinfo=UTC)
    # a date however far ahead waits no longer than a number can ask (year 9999 would not add)
    wait = min(until - datetime.now(UTC), timedelta(seconds=MOST_RETRY_AFTER_SECONDS))
    return max(wait, timedelta(0))


# longer than any retry window: a wait asked beyond it gives the event up all the same
MOST_RETRY_AFTER_SECONDS = 30 * 24 * 3600


def webhook_body(delivery: ClaimedDelivery) -> bytes:
    """The JSON a client receives, in the standard's envelope: type, timestamp, data."""
    envelope: dict[str, Any] = {
        "type": delivery.event_type,
        "timestamp": delivery.created_at.isoformat().replace("+00:00", "Z"),
        "data": delivery.payload,
    }
    return orjson.dumps(envelope)


class WebhookDispatcher:
    """Claims due events, sends them signed, and records each outcome.

    Safe to run in several processes at once: a claim is exclusive until its lease runs out.
    Every time read comes from `clock` (the signatures' timestamps from `signing_clock`, which
    is `clock` unless given), so tests run a day of retries in milliseconds.
    """

    def __init__(
        self,
        engine: Engine,
        cipher: SecretCipher,
        sender: WebhookSender,
        clock: Clock,
        *,
        schedule: RetrySchedule | None = None,
        lease: timedelta = DEFAULT_LEASE,
        concurrency: int = 8,
        signing_clock: Clock | None = None,
        per_client: int | None = None,
    ) -> None:
        """`per_client`: the most events of one client a batch takes; by default as many as
        are sent at once, so that a client whose endpoint hangs holds a batch, and every other
        client's events behind it, for one deadline at most."""
        if concurrency < 1:
            raise ValueError("a dispatcher sends at least one event at a time")
        if per_client is not None and per_client < 1:
            raise ValueError("a batch takes at least one event of a client")
        self._engine = engine
        self._cipher = cipher
        self._sender = sender
        self._clock = clock
        self._schedule = schedule or RetrySchedule()
        self._lease = lease
        self._concurrency = concurrency
        self._per_client = per_client or concurrency
        # the `webhook-timestamp` a client checks against its own clock: on a fast virtual
        # clock (the demo) pass the system clock here, or every delivery looks stale
        self._signing_clock = signing_clock or clock
        # set when the process stops: `dispatch_all_due` starts no new batch
        self.stopping = threading.Event()

    def dispatch_due(self, limit: int = 100) -> int:
        """Send up to `limit` due events, once each, a few of each client's (`per_client`);
        returns how many were claimed (sent, or held back for their endpoint's wait).

        The outcomes of a batch are recorded in one transaction after its last send: a crash
        before that leaves the batch to be sent again once its lease runs out (at least once,
        as a crash mid-send does anyway), and a durable commit is paid once a batch, not once
        an event.
        """
        now = self._clock.now()
        given_up: list[tuple[ClaimedDelivery, str]] = []
        with self._engine.begin() as connection:
            claimed = claim_due(
                connection, now=now, lease=self._lease, limit=limit, per_client=self._per_client
            )
            if not claimed:
                return 0
            secrets = webhook_secrets(connection, {d.client_key for d in claimed}, self._cipher)
            to_callbacks = sent_to_callbacks(connection, claimed)
            to_send, waiting, followers = self._hold_back_waiting(
                connection, addressed_now(connection, claimed, to_callbacks), now, given_up
            )
        self._put_off_backlogs(waiting, now)
        _log_given_up(given_up)

        unavailable = _UnavailableEndpoints()

        def send(delivery: ClaimedDelivery) -> _Outcome:
            found = unavailable.get(delivery)
            if found is not None:  # its endpoint failed another event of the batch
                return _Outcome(delivery, found, sent=False, held_back=True)
            named_by_client = delivery.event_id in to_callbacks
            outcome = self._send(delivery, secrets.get(delivery.client_key), named_by_client)
            if outcome.sent and outcome.result.endpoint_unavailable:
                unavailable.add(delivery, outcome.result)
            return outcome

        outcomes: list[_Outcome] = []
        # the last-chance events following a probe go once its outcome is known: sent if the
        # endpoint took it, held back (so given up) if it was found unavailable
        for phase in (to_send, followers):
            if self._concurrency == 1 or len(phase) <= 1:
                outcomes += [send(delivery) for delivery in in_turn(phase)]
            else:
                with ThreadPoolExecutor(min(self._concurrency, len(phase))) as pool:
                    outcomes += list(pool.map(send, in_turn(phase)))
        if outcomes:
            self._settle(outcomes)
        return len(claimed)

    def _hold_back_waiting(
        self,
        connection: Connection,
        claimed: list[ClaimedDelivery],
        now: datetime,
        given_up: list[tuple[ClaimedDelivery, str]],
    ) -> tuple[
        list[ClaimedDelivery], dict[_Endpoint, tuple[EndpointWait, str]], list[ClaimedDelivery]
    ]:
        """The claimed events to send, the endpoints found waiting, and the events to send after
        the first ones answered: an event whose endpoint (where it is sent now) has a wait
        recorded, by any dispatcher, is not sent but waits with it, with no attempt counted, as
        does the rest of its due backlog (returned, to be put off), unless its window is over
        (the last chance: see below). So events queued after an endpoint was found down, or
        asked for a wait, do not call it before the wait ends, whatever URL they were queued
        for."""
        waits = endpoint_waits(
            connection, {(delivery.client_key, delivery.url) for delivery in claimed}, now=now
        )
        if not waits:
            return claimed, {}, []
        to_send = []
        followers: list[ClaimedDelivery] = []
        waiting: dict[_Endpoint, tuple[EndpointWait, str]] = {}
        tried_last: set[_Endpoint] = set()
        for delivery in claimed:
            endpoint = _Endpoint(delivery.client_key, delivery.url)
            wait = waits.get(endpoint)
            if wait is None:
                to_send.append(delivery)
                continue
            window_over = delivery.created_at + self._schedule.give_up_after <= now
            asked_over = wait.asked_until is None or wait.asked_until <= now
            if window_over and asked_over and endpoint not in tried_last:
                # kept for its window's end, past what the endpoint asked for: its last chance.
                # One probes the endpoint; the others of the batch follow it once it answered,
                # or are given up if it found the endpoint unavailable, rather than calling an
                # endpoint down all along once for each event as their windows end
                tried_last.add(endpoint)
                to_send.append(delivery)
                continue
            if window_over and asked_over:  # follows the probe: held back if it found it down
                followers.append(delivery)
                continue
            why = f"not sent: its endpoint waits until {wait.until.isoformat()} ({wait.reason})"
            self._hold_back(connection, delivery, SendResult(None, why), wait, now, given_up)
            waiting[endpoint] = (wait, why)
        # an endpoint probed in this batch: its backlog is put off once the probe failed
        return to_send, {e: w for e, w in waiting.items() if e not in tried_last}, followers

    def dispatch_all_due(self, limit: int = 100, max_batches: int = 100) -> int:
        """Dispatch batches until none is due (or `max_batches` ran, so a scheduled run ends
        even under a steady stream); returns how many were claimed. A batch smaller than
        `limit` does not end the run: the cap on each client's share may have left some of
        its events due."""
        total = 0
        for _ in range(max_batches):
            if self.stopping.is_set():  # stopping: the batch in flight ends, no other starts
                break
            claimed = self.dispatch_due(limit)
            total += claimed
            if not claimed:
                break
        return total

    def forget_settled(self, older_than: timedelta) -> int:
        """Delete the events delivered or given up more than `older_than` ago, and the
        endpoints' waits that are over."""
        now = self._clock.now()
        with self._engine.begin() as connection:  # apart: a long purge holds no wait's row
            forget_waits_over(connection, now)
        with self._engine.begin() as connection:
            return forget_settled_before(connection, now - older_than)

    def _send(
        self, delivery: ClaimedDelivery, secrets: WebhookSecrets | None, named_by_client: bool
    ) -> _Outcome:
        if secrets is None:
            why = "the client has no webhook secret the service can open"
            return _Outcome(delivery, SendResult(None, why), sent=False)
        body = webhook_body(delivery)
        # the overlap ends in real time, as the operator renewed the secret: the signing clock
        signed_at = self._signing_clock.now()
        headers = sign(secrets.signing_at(signed_at), delivery.event_id, signed_at, body)
        try:
            result = self._sender.send(delivery.url, body, headers, named_by_client=named_by_client)
        except Exception as broken:  # a broken sender must not stall the other events
            log.exception("webhook sender failed on %s", delivery.event_id)
            result = SendResult(None, f"{type(broken).__name__}: {broken}")
        return _Outcome(delivery, result)

    def _settle(self, outcomes: list[_Outcome]) -> None:
        now = self._clock.now()
        given_up: list[tuple[ClaimedDelivery, str]] = []
        down = _DownEndpoints()
        answered: set[_Endpoint] = set()
        for delivery, result, sent, _ in outcomes:
            endpoint = _Endpoint(delivery.client_key, delivery.url)
            if result.accepted:
                answered.add(endpoint)
            elif sent and result.endpoint_unavailable:
                # tried again after a first step (an old event's long back-off is its own),
                # or when it asked to be
                down.found(endpoint, now + self._schedule.delay_after(1), result, now)
        waiting = down.waiting(answered)
        with self._engine.begin() as connection:
            waits = _endpoints_waits(connection, outcomes, down, now)
            for delivery, result, _, held_back in outcomes:
                endpoint = _Endpoint(delivery.client_key, delivery.url)
                if held_back:  # its endpoint failed a sent attempt of the batch, so is down
                    self._hold_back(connection, delivery, result, waits[endpoint], now, given_up)
                elif result.accepted:
                    assert result.status_code is not None
                    record_delivered(connection, delivery, now=now, status_code=result.status_code)
                else:
                    wait = waits.get(endpoint)
                    self._record_failure(connection, delivery, result, wait, now, given_up)
            # with the outcomes, so that the wait holds from their commit on: the events queued
            # meanwhile are held back when claimed (the put-off below is only a shortcut). The
            # batch's own finding (the store keeps the longer of each part), in the key's order,
            # as `forget_waits` locks them
            for endpoint in sorted(waiting, key=lambda e: (e.client_key, url_digest(e.url))):
                found = down.wait(endpoint)
                assert found is not None
                remember_wait(
                    connection, client_key=endpoint.client_key, url=endpoint.url, wait=found
                )
        self._put_off_backlogs(
            {endpoint: (waits[endpoint], why) for endpoint, why in waiting.items()}, now
        )
        _log_given_up(given_up)

    def _hold_back(
        self,
        connection: Connection,
        delivery: ClaimedDelivery,
        result: SendResult,
        wait: EndpointWait,
        now: datetime,
        given_up: list[tuple[ClaimedDelivery, str]],
    ) -> None:
        """A claimed event not sent waits with its endpoint, without an attempt counted. If its
        retry window ends first, it is tried at its end; given up if it ends within the part of
        the wait the endpoint asked for (a Retry-After), as a failure's would be, or if the
        window is over."""
        error = result.error or ""
        last_chance = delivery.created_at + self._schedule.give_up_after
        asked_past = wait.asked_until is not None and wait.asked_until > last_chance
        if wait.until > last_chance and (asked_past or last_chance <= now):
            error = f"{error}; given up: its endpoint waits past the event's retry window"
            if record_held_back(connection, delivery, until=None, error=error, now=now):
                given_up.append((replace(delivery, attempts=delivery.attempts - 1), error))
            return
        until = min(wait.until, last_chance)
        record_held_back(connection, delivery, until=until, error=error, now=now)

    def _record_failure(
        self,
        connection: Connection,
        delivery: ClaimedDelivery,
        result: SendResult,
        wait: EndpointWait | None,
        now: datetime,
        given_up: list[tuple[ClaimedDelivery, str]],
    ) -> datetime | None:
        """Schedule the failed event's next attempt, no sooner than the end of a wait its
        endpoint asked for (of this batch, or found by another dispatcher while the event was
        in flight), or give it up; returns when, or None."""
        error = result.error or f"HTTP {result.status_code}"
        # 410: the endpoint says it is gone for good, so this event is given up now
        retry_at = None
        if not result.gone:
            moments = [] if result.retry_after is None else [now + result.retry_after]
            if wait is not None and wait.asked_until is not None:
                moments.append(wait.asked_until)
            retry_at = self._schedule.next_attempt(
                created_at=delivery.created_at,
                attempts=delivery.attempts,
                failed_at=now,
                not_before=max(moments, default=None),
            )
            past_window = delivery.created_at + self._schedule.give_up_after
            asked = None if wait is None else wait.asked_until
            if retry_at is None and asked is not None and asked > past_window:
                error = (
                    f"{error}; given up: its endpoint asked to wait past the event's retry window"
                )
        settled = record_failure(
            connection,
            delivery,
            now=now,
            retry_at=retry_at,
            status_code=result.status_code,
            error=error,
        )
        if retry_at is None and settled:
            given_up.append((delivery, error))
        return retry_at

    def _put_off_backlogs(
        self, down: dict[_Endpoint, tuple[EndpointWait, str]], now: datetime
    ) -> None:
        """Each waiting endpoint's other due events wait with it, so that they neither fill the
        next batches, holding every other client's events behind them, nor are claimed only to
        be held back. Only a shortcut: if the store refuses it (a deadlock with another
        dispatcher's settling), the events are held back when claimed."""
        for endpoint, (wait, why) in sorted(down.items()):
            try:
                with self._engine.begin() as connection:
                    waiting, given_up = put_off_due(
                        connection,
                        client_key=endpoint.client_key,
                        url=endpoint.url,
                        until=wait.until,
                        now=now,
                        window=self._schedule.give_up_after,
                        asked_until=wait.asked_until,
                    )
            except DBAPIError as refused:
                log.warning(
                    "could not put off the webhooks to %s: %s", url_shown(endpoint.url), refused
                )
                continue
            if waiting or given_up:
                log.warning(
                    "webhook endpoint %s of client %s is down or asked to wait (%s): %d of its "
                    "other events wait until %s (or their retry window's end, if sooner), and "
                    "%d whose window ends before are given up",
                    url_shown(endpoint.url),
                    endpoint.client_key,
                    why,
                    waiting,
                    wait.until.isoformat(),
                    given_up,
                )


def _log_given_up(given_up: list[tuple[ClaimedDelivery, str]]) -> None:
    for delivery, error in given_up:
        log.warning(
            "webhook %s (%s) to client %s given up after %d attempts: %s",
            delivery.event_id,
            delivery.event_type,
            delivery.client_key,
            delivery.attempts,
            error,
        )


def in_turn(claimed: list[ClaimedDelivery]) -> list[ClaimedDelivery]:
    """The batch with the clients taking turns (each one's first event, then each one's
    second...), so that the first sends of a batch reach every client in it, whoever's
    endpoint then holds the senders."""
    queues: dict[str, list[ClaimedDelivery]] = {}
    for delivery in sorted(claimed, key=lambda delivery: delivery.id):
        queues.setdefault(delivery.client_key, []).append(delivery)
    return [
        delivery
        for turn in itertools.zip_longest(*queues.values())
        for delivery in turn
        if delivery is not None
    ]


class _Outcome(NamedTuple):
    delivery: ClaimedDelivery
    result: SendResult
    sent: bool = True  # False: the endpoint was not called (no secret, or held back)
    held_back: bool = False  # not sent: another event of the batch found the endpoint unavailable


class _Endpoint(NamedTuple):
    client_key: str
    url: str


class _DownEndpoints:
    """The endpoints a batch's sent attempts found unavailable: when each is to be tried
    next (after a first step, or when a Retry-After asked, whichever is later), and why."""

    def __init__(self) -> None:
        self._step: dict[_Endpoint, datetime] = {}
        self._asked: dict[_Endpoint, datetime] = {}
        self._why: dict[_Endpoint, str] = {}

    def found(self, endpoint: _Endpoint, step: datetime, result: SendResult, now: datetime) -> None:
        self._step.setdefault(endpoint, step)
        if result.retry_after is not None:
            asked = now + result.retry_after
            self._asked[endpoint] = max(asked, self._asked.get(endpoint, asked))
        self._why.setdefault(endpoint, result.error or f"HTTP {result.status_code}")

    def wait(self, endpoint: _Endpoint) -> EndpointWait | None:
        """The endpoint's wait, if the batch found it unavailable, with the part it asked for."""
        step = self._step.get(endpoint)
        if step is None:
            return None
        asked = self._asked.get(endpoint)
        return EndpointWait(max(step, asked or step), asked, self._why[endpoint])

    def waiting(self, answered: set[_Endpoint]) -> dict[_Endpoint, str]:
        """The endpoints to wait for, and why: of those another attempt of the batch reached,
        only the ones that asked to be left alone (a rate limit lets some through)."""
        return {
            endpoint: why
            for endpoint, why in self._why.items()
            if endpoint not in answered or endpoint in self._asked
        }


def _endpoints_waits(
    connection: Connection, outcomes: list[_Outcome], down: _DownEndpoints, now: datetime
) -> dict[_Endpoint, EndpointWait]:
    """The wait of each endpoint a batch's event failed at, of those found unavailable: the
    later of this batch's finding and one recorded (by another dispatcher, or an earlier
    batch) while the batch was in flight."""
    endpoints = {
        _Endpoint(outcome.delivery.client_key, outcome.delivery.url)
        for outcome in outcomes
        if not outcome.result.accepted
    }
    recorded = endpoint_waits(connection, endpoints, now=now)
    waits = {}
    for endpoint in endpoints:
        found = down.wait(endpoint)
        wait = found.later(recorded.get(endpoint)) if found else recorded.get(endpoint)
        if wait is not None:
            waits[endpoint] = wait
    return waits


class _UnavailableEndpoints:
    """The endpoints an attempt of the batch found unavailable, shared by the batch's senders:
    the endpoint's other events are not sent to it again in the batch, and fail with the
    same answer (its Retry-After too), to be tried at their next attempt."""

    def __init__(self) -> None:
        self._found: dict[_Endpoint, SendResult] = {}
        self._lock = threading.Lock()

    def add(self, delivery: ClaimedDelivery, result: SendResult) -> None:
        with self._lock:
            self._found.setdefault(_Endpoint(delivery.client_key, delivery.url), result)

    def get(self, delivery: ClaimedDelivery) -> SendResult | None:
        with self._lock:
            found = self._found.get(_Endpoint(delivery.client_key, delivery.url))
        if found is None:
            return None
        first = found.error or f"HTTP {found.status_code}"
        why = f"not sent: the endpoint failed another event of this batch ({first})"
        return SendResult(None, why, retry_after=found.retry_after)
