"""The notify service (DESIGN §7): accept, decide, dispatch, follow the channels' events, and
sweep what outlived its TTL into SMS.

The API only accepts: it checks the request, decides by the policy, stores the notification as
`accepted` and answers 202. A dispatcher job then carries it. Every move is a conditional update
(delivery.records.transition) made *before* the channel is called, so that a crash leaves a
notification in a state the sweeper finishes: past its TTL, whatever still waits is withdrawn
and sent by SMS (or expires), and an SMS without a report in time fails. Every accepted
notification reaches a final state, and a delivery is billed once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select

from delivery import records
from delivery.acceptor import BatchWriter
from delivery.channels.ports import (
    ChannelUnavailableError,
    ReverificationPrompt,
    SendResult,
    SmsGateway,
    SmsMessage,
    SocialMessage,
    SocialNetwork,
    UnknownMessageError,
)
from delivery.clock import Clock
from delivery.events import (
    InboundEvent,
    MessageDelivered,
    MessageRead,
    ReplyReceived,
    ReverificationAnswer,
    ReverificationAnswered,
    SmsDelivered,
    SmsFailed,
)
from delivery.ports import ClientEvent, NoWebhooks, TemplateProblemError, Templates, Webhooks
from delivery.webhooks.events import NotificationReplied, NotificationStatusChanged
from ownership.channels import Channel, ChannelState
from ownership.countries import CountryTable, UnknownCountryError
from ownership.notifications import (
    AWAITING,
    Fallback,
    Freshness,
    NotificationRequestError,
    NotificationStatus,
    check_action_age,
    check_ttl,
)
from ownership.numbers import InvalidNumberError, parse_number
from ownership.policy import Action, Decision, Policy, decide
from ownership.prices import PriceTable, UnknownPriceError
from ownership.verdicts import Evidence, Reason, Status, Verdict
from pipelines.snapshot import Snapshot

log = logging.getLogger(__name__)
S = NotificationStatus
NO_HISTORY = Verdict(Status.UNKNOWN, 500, (Evidence(Reason.NO_HISTORY, None),), None)


class RequestConflictError(Exception):
    """The request_id was used before with another body."""


class RequestRepeatedError(Exception):
    """The request_id was taken while this request was being checked."""


@dataclass(frozen=True)
class NotifyRequest:
    request_id: str
    phone: str
    template_id: str
    params: Mapping[str, str]
    action_type: str
    action_at: datetime  # aware
    ttl: timedelta
    sensitive: bool = False
    mobile_only: bool = False
    fallback: Fallback = Fallback.SMS
    callback_url: str | None = None

    def fingerprint(self) -> str:
        body = {
            "phone": self.phone,
            "template_id": self.template_id,
            "params": dict(sorted(self.params.items())),
            "action": [self.action_type, self.action_at.astimezone(UTC).isoformat()],
            "ttl": self.ttl.total_seconds(),
            "flags": [self.sensitive, self.mobile_only, self.fallback.value],
            "callback_url": self.callback_url,
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Accepted:
    answer: dict[str, Any]
    repeated: bool


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _new_id() -> str:
    return "ntf_" + secrets.token_hex(12)


class NotifyService:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        snapshots: Callable[[], Snapshot],
        social: Mapping[Channel, SocialNetwork],
        sms: SmsGateway,
        templates: Templates,
        countries: CountryTable,
        prices: PriceTable,
        policy: Policy,
        webhooks: Webhooks | None = None,
        max_action_age: timedelta = timedelta(days=3),
        sms_report_timeout: timedelta = timedelta(hours=1),
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.snapshots = snapshots
        self.social = social
        self.sms = sms
        self.templates = templates
        self.countries = countries
        self.prices = prices
        self.policy = policy
        self.webhooks = webhooks or NoWebhooks()
        self.max_action_age = max_action_age
        self.sms_report_timeout = sms_report_timeout
        self.writer = BatchWriter(engine)

    # ---- accepting -------------------------------------------------------------------------

    def accept(self, client_key: str, request: NotifyRequest) -> Accepted:
        """Check, decide and store a notification; a repeated request_id gets the first answer.

        Raises InvalidNumberError, NotificationRequestError, TemplateProblemError or
        RequestConflictError, each with a clear message. The common case, a new request, costs
        one read (the number's overlay) and two inserts; a repeat is found by the unique key.
        """
        now = self.clock.now()
        fingerprint = request.fingerprint()
        try:
            return self._accept_new(client_key, request, fingerprint, now)
        except (
            InvalidNumberError,
            NotificationRequestError,
            TemplateProblemError,
            RequestRepeatedError,
        ):
            # a repeat answers as the first time, even if it would not pass the checks now
            with self.engine.connect() as connection:
                first = self._first_answer(connection, client_key, request.request_id, fingerprint)
            if first is None:
                raise
            return Accepted(first, repeated=True)

    def _accept_new(
        self, client_key: str, request: NotifyRequest, fingerprint: str, now: datetime
    ) -> Accepted:
        number = parse_number(request.phone)
        check_ttl(request.ttl)
        check_action_age(request.action_at, now, self.max_action_age)
        text = self.templates.message(client_key, request.template_id, dict(request.params))
        with self.engine.connect() as connection:
            verdict, channels = self._verdict(connection, number.e164, now)
        decision = decide(
            verdict,
            channels,
            sensitive=request.sensitive,
            mobile_only=request.mobile_only,
            now=_naive(now),
            policy=self.policy,
        )
        notification_id = _new_id()
        answer = {"id": notification_id, "action": decision.action.value, "status": "accepted"}
        notification, event = self._rows(
            client_key,
            request,
            fingerprint,
            notification_id,
            number.e164,
            text,
            verdict,
            decision,
            answer,
            now,
        )
        if not self.writer.insert(notification, event):
            raise RequestRepeatedError(request.request_id)  # taken meanwhile: a repeat
        return Accepted(answer, repeated=False)

    def _first_answer(
        self, connection: Connection, client_key: str, request_id: str, fingerprint: str
    ) -> dict[str, Any] | None:
        table = records.notifications
        row = connection.execute(
            select(table.c.answer, table.c.request_hash).where(
                table.c.client_key == client_key, table.c.request_id == request_id
            )
        ).first()
        if row is None:
            return None
        if row.request_hash != fingerprint:
            raise RequestConflictError(
                f"request_id {request_id!r} was used before for another notification"
            )
        return dict(row.answer)

    def _rows(
        self,
        client_key: str,
        request: NotifyRequest,
        fingerprint: str,
        notification_id: str,
        phone: str,
        text: str,
        verdict: Verdict,
        decision: Decision,
        answer: dict[str, Any],
        now: datetime,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The notification's row and its first history row."""
        try:
            country: str | None = self.countries.country_of(phone).prefix
        except UnknownCountryError:
            country = None
        notification = {
            "id": notification_id,
            "client_key": client_key,
            "request_id": request.request_id,
            "request_hash": fingerprint,
            "phone": phone,
            "country": country,
            "template_id": request.template_id,
            "text": text,
            "action_type": request.action_type,
            "action_at": request.action_at,
            "sensitive": request.sensitive,
            "mobile_only": request.mobile_only,
            "fallback": request.fallback.value,
            "callback_url": request.callback_url,
            "decision": decision.action.value,
            "policy_case": decision.row.value,
            "number_status": verdict.status.value,
            "reasons": [item.reason.value for item in verdict.evidence],
            "status": S.ACCEPTED.value,
            "channel": None,
            "provider_id": None,
            "created_at": now,
            "expires_at": now + request.ttl,
            "updated_at": now,
            "answer": answer,
        }
        event = {
            "notification_id": notification_id,
            "status": S.ACCEPTED.value,
            "at": now,
            "detail": {"action": decision.action.value, "policy_case": decision.row.value},
        }
        return notification, event

    def _verdict(
        self, connection: Connection, phone: str, now: datetime
    ) -> tuple[Verdict, tuple[ChannelState, ...]]:
        """The snapshot's verdict with the live overlay on top: a denial since the batch makes
        the number owner_changed; a confirmation within F makes it verified and fresh."""
        snapshot = self.snapshots()
        record = snapshot.lookup(int(phone[1:]))
        verdict = record.verdict() if record else NO_HISTORY
        channels = record.channels if record else ()
        denied, confirmed = records.overlay_of(connection, phone)
        as_of = snapshot.as_of.replace(tzinfo=UTC) if snapshot.as_of else None
        if denied is not None and (confirmed is None or denied > confirmed):
            if as_of is None or denied > as_of:
                verdict = Verdict(
                    Status.OWNER_CHANGED,
                    max(verdict.risk_score, 900) if verdict.status is Status.OWNER_CHANGED else 900,
                    (Evidence(Reason.OWNER_DENIED, _naive(denied)),),
                    _naive(denied),
                )
        elif confirmed is not None and Freshness(confirmed).is_fresh(now):
            verdict = replace(
                verdict,
                status=Status.VERIFIED,
                evidence=(Evidence(Reason.RECENT_CONFIRMATION, _naive(confirmed)),),
                last_confirmed_at=_naive(confirmed),
                owner_since=verdict.owner_since or _naive(confirmed),
            )
        return verdict, channels

    # ---- dispatching -----------------------------------------------------------------------

    def dispatch_due(self, limit: int = 500) -> int:
        """Carry accepted notifications: into the social network, a re-verification, or SMS."""
        now = self.clock.now()
        table = records.notifications
        with self.engine.connect() as connection:
            rows = [
                dict(row)
                for row in connection.execute(
                    select(table)
                    .where(table.c.status == S.ACCEPTED.value, table.c.expires_at > now)
                    .order_by(table.c.created_at)
                    .limit(limit)
                ).mappings()
            ]
        carried = 0
        for row in rows:
            carried += self._dispatch(row)
        return carried

    def _dispatch(self, row: dict[str, Any]) -> int:
        decision = Action(row["decision"])
        if decision is Action.SMS:
            return int(self._send_sms(row, leaving=(S.ACCEPTED,)))
        target = S.SENT if decision is Action.DELIVER else S.REVERIFY_PENDING
        for network in self._networks_for(row):
            now = self.clock.now()
            with self.engine.begin() as connection:  # claim it before the channel is called
                if not records.transition(
                    connection,
                    row["id"],
                    (S.ACCEPTED, S.REVERIFY_PENDING),
                    target,
                    now,
                    {"channel": network.value},
                    channel=network.value,
                    provider_id=None,
                ):
                    return 0
            channel = self.social[network]
            try:
                if decision is Action.DELIVER:
                    outcome = channel.send(
                        SocialMessage(row["id"], row["phone"], row["text"], row["mobile_only"])
                    )
                else:
                    outcome = channel.ask(
                        ReverificationPrompt(row["id"], row["phone"], row["mobile_only"])
                    )
            except ChannelUnavailableError as error:
                # nothing is known of it: back to accepted, the next round sends it again
                log.warning("%s unavailable for %s: %s", network.value, row["id"], error)
                with self.engine.begin() as connection:
                    records.transition(
                        connection,
                        row["id"],
                        (target,),
                        S.ACCEPTED,
                        self.clock.now(),
                        {"unavailable": network.value},
                    )
                return 0
            if outcome.provider_id is not None:
                with self.engine.begin() as connection:
                    records.set_provider(connection, row["id"], outcome.provider_id)
                    self._notify_client(connection, row, target, now, {"channel": network.value})
                return 1
            log.info("%s refused %s: %s", network.value, row["id"], outcome.refusal)
            # back to accepted, so the next network may try
            with self.engine.begin() as connection:
                records.transition(
                    connection,
                    row["id"],
                    (target,),
                    S.ACCEPTED,
                    self.clock.now(),
                    {"refused_by": network.value, "reason": str(outcome.refusal)},
                )
        # no social network could carry it
        if Fallback(row["fallback"]) is Fallback.SMS:
            return int(self._send_sms(row, leaving=(S.ACCEPTED,)))
        with self.engine.begin() as connection:
            records.transition(
                connection,
                row["id"],
                (S.ACCEPTED,),
                S.FAILED,
                self.clock.now(),
                {"reason": "NO_CHANNEL"},
            )
        return 0

    def _networks_for(self, row: dict[str, Any]) -> list[Channel]:
        snapshot = self.snapshots()
        record = snapshot.lookup(int(row["phone"][1:]))
        states = record.channels if record else ()
        usable = [
            state.network
            for state in states
            if state.active and (state.mobile_app or not row["mobile_only"])
        ]
        return [network for network in usable if network in self.social]

    def _send_sms(self, row: dict[str, Any], leaving: tuple[NotificationStatus, ...]) -> bool:
        now = self.clock.now()
        with self.engine.begin() as connection:
            if not records.transition(
                connection,
                row["id"],
                leaving,
                S.SMS_SENT,
                now,
                {"channel": "sms"},
                channel="sms",
                provider_id=None,
            ):
                return False
        try:
            outcome = self.sms.send(SmsMessage(row["id"], row["phone"], row["text"]))
        except ChannelUnavailableError as error:
            # back where it was: the dispatcher or the sweeper sends it again
            log.warning("the SMS gateway is unavailable for %s: %s", row["id"], error)
            with self.engine.begin() as connection:
                records.transition(
                    connection,
                    row["id"],
                    (S.SMS_SENT,),
                    leaving[0],
                    self.clock.now(),
                    {"unavailable": "sms"},
                )
            return False
        with self.engine.begin() as connection:
            if outcome.provider_id is None:
                records.transition(
                    connection,
                    row["id"],
                    (S.SMS_SENT,),
                    S.SMS_FAILED,
                    self.clock.now(),
                    {"reason": str(outcome.refusal)},
                )
                self._notify_client(
                    connection, row, S.SMS_FAILED, now, {"reason": str(outcome.refusal)}
                )
                return True
            records.set_provider(connection, row["id"], outcome.provider_id)
            self._notify_client(connection, row, S.SMS_SENT, now, {"channel": "sms"})
        return True

    # ---- the channels' events (the InboundEvents port) ------------------------------------------

    def handle(self, event: InboundEvent) -> None:
        """An event a channel reported; a repeated or late one changes nothing."""
        match event:
            case MessageDelivered():
                self.delivered(event.notification_id, event.at)
            case MessageRead():
                self.read(event.notification_id, event.at)
            case ReplyReceived():
                self.replied(event.notification_id, event.text, event.at)
            case ReverificationAnswered():
                confirmed = event.answer is ReverificationAnswer.CONFIRMED
                self.answered(event.notification_id, confirmed, event.at)
            case SmsDelivered():
                self.sms_delivered(event.notification_id, event.at)
            case SmsFailed():
                self.sms_failed(event.notification_id, event.error.value, event.at)

    def delivered(self, notification_id: str, at: datetime) -> bool:
        """The social network showed the message: delivered, and billed once."""
        return self._follow(notification_id, (S.SENT,), S.DELIVERED, at, bill=True)

    def read(self, notification_id: str, at: datetime) -> bool:
        return self._follow(notification_id, (S.DELIVERED,), S.READ, at)

    def replied(self, notification_id: str, text: str, at: datetime) -> bool:
        """The person answered: forwarded to the client, free of charge."""
        with self.engine.begin() as connection:
            row = records.fetch(connection, notification_id)
            if row is None:
                return False
            self.webhooks.enqueue(
                connection,
                [
                    ClientEvent(
                        row["client_key"],
                        row["callback_url"],
                        NotificationReplied(
                            notification_id=notification_id,
                            text=text,
                            at=at,
                            request_id=row["request_id"],
                            channel=row["channel"],
                        ),
                    )
                ],
                at,
            )
        return True

    def answered(
        self, notification_id: str, confirmed: bool, at: datetime, account_id: str | None = None
    ) -> bool:
        """The re-verification's answer: Yes delivers the waiting notification and keeps the
        number fresh for F; No makes it owner_changed at once and sends the notification by SMS.
        Either way the result is kept in the verifications format for the batch."""
        with self.engine.begin() as connection:
            row = records.fetch(connection, notification_id)
            if row is None or row["status"] != S.REVERIFY_PENDING.value:
                return False
            records.record_verification(
                connection,
                row["phone"],
                at,
                "prompt",
                "confirmed" if confirmed else "denied",
                account_id,
                notification_id,
            )
        if not confirmed:
            return self._send_sms(row, leaving=(S.REVERIFY_PENDING,))
        network = Channel(row["channel"])
        with self.engine.begin() as connection:
            if not records.transition(
                connection,
                notification_id,
                (S.REVERIFY_PENDING,),
                S.SENT,
                at,
                {"channel": network.value, "confirmed": True},
                provider_id=None,
            ):
                return False
        try:
            outcome = self.social[network].send(
                SocialMessage(notification_id, row["phone"], row["text"], row["mobile_only"])
            )
        except ChannelUnavailableError as error:
            log.warning("%s unavailable for %s: %s", network.value, notification_id, error)
            return True  # sent without a provider id: the sweeper finishes it at its TTL
        with self.engine.begin() as connection:
            if outcome.provider_id is not None:
                records.set_provider(connection, notification_id, outcome.provider_id)
                self._notify_client(connection, row, S.SENT, at, {"channel": network.value})
                return True
        # the network refused after all: the sweeper will send it by SMS at its TTL
        return True

    def sms_delivered(self, notification_id: str, at: datetime) -> bool:
        return self._follow(notification_id, (S.SMS_SENT,), S.SMS_DELIVERED, at, bill=True)

    def sms_failed(self, notification_id: str, error: str, at: datetime) -> bool:
        return self._follow(notification_id, (S.SMS_SENT,), S.SMS_FAILED, at, {"error": error})

    def _follow(
        self,
        notification_id: str,
        leaving: tuple[NotificationStatus, ...],
        to: NotificationStatus,
        at: datetime,
        detail: dict[str, Any] | None = None,
        bill: bool = False,
    ) -> bool:
        """A channel's report moves the notification on, once; a late or repeated one changes
        nothing. A delivery is billed in the same transaction, on the channel that carried it."""
        with self.engine.begin() as connection:
            row = records.fetch(connection, notification_id)
            if row is None or not records.transition(
                connection, notification_id, leaving, to, at, detail
            ):
                return False
            if bill:
                self._bill(connection, row, row["channel"], at)
            self._notify_client(connection, row, to, at, detail or {})
        return True

    # ---- the TTL sweeper -------------------------------------------------------------------

    def sweep(self, limit: int = 2000) -> int:
        """Finish what outlived its TTL: withdraw it from the social network and send it by SMS
        (or let it expire, with `fallback: none`); fail an SMS whose report never came.

        A withdrawal that comes too late (the network delivered first) makes the notification
        delivered, billed once, and no SMS is sent. A batch moves in a few statements, so that a
        backlog of expirations clears in seconds; returns how many notifications it looked at.
        """
        now = self.clock.now()
        table = records.notifications
        awaiting = [status.value for status in AWAITING]
        due = (
            select(table)
            .where(
                (table.c.status.in_(awaiting) & (table.c.expires_at <= now))
                | ((table.c.status == S.EXPIRED.value) & (table.c.fallback == Fallback.SMS.value))
                | (
                    (table.c.status == S.SMS_SENT.value)
                    & (table.c.updated_at <= now - self.sms_report_timeout)
                )
            )
            .order_by(table.c.expires_at)
            .limit(limit)
            # on PostgreSQL two sweepers take disjoint batches; SQLite has one writer anyway
            .with_for_update(skip_locked=True)
        )
        with self.engine.begin() as connection:  # the batch stays locked until it has moved
            rows = [dict(row) for row in connection.execute(due).mappings()]
            if not rows:
                return 0
            delivered_first, to_expire, unreported, waiting_sms = [], [], [], []
            for row in rows:
                status = S(row["status"])
                if status is S.SMS_SENT:
                    unreported.append(row)
                elif status is S.EXPIRED:
                    waiting_sms.append(row)
                else:
                    withdrawn = self._withdraw(row)
                    if withdrawn is None:
                        continue
                    if withdrawn or status is not S.SENT:
                        to_expire.append(row)
                    else:
                        delivered_first.append(row)  # shown before the TTL ran out
            for row in self._move_many(
                connection,
                delivered_first,
                (S.SENT,),
                S.DELIVERED,
                now,
                {"withdrawal_too_late": True},
            ):
                self._bill(connection, row, row["channel"], now)
            expired = self._move_many(
                connection, to_expire, AWAITING, S.EXPIRED, now, {"ttl_ran_out": True}
            )
            self._move_many(
                connection,
                unreported,
                (S.SMS_SENT,),
                S.SMS_FAILED,
                now,
                {"error": "no delivery report"},
            )
        fallback = [
            row for row in expired + waiting_sms if Fallback(row["fallback"]) is Fallback.SMS
        ]
        self._send_many_sms(fallback, now)
        return len(rows)

    def _withdraw(self, row: dict[str, Any]) -> bool | None:
        """Take the message back from its network: True unless it was delivered already; None
        when the network cannot be asked now (the next sweep asks again)."""
        network = Channel(row["channel"]) if row["channel"] in ("vk", "ok") else None
        if network is None or not row["provider_id"] or network not in self.social:
            return True
        try:
            return self.social[network].withdraw(row["provider_id"])
        except UnknownMessageError:
            return True  # the network never had it: nothing can show
        except ChannelUnavailableError as error:
            log.warning("cannot withdraw %s now: %s", row["id"], error)
            return None

    def _move_many(
        self,
        connection: Connection,
        rows: list[dict[str, Any]],
        leaving: tuple[NotificationStatus, ...] | frozenset[NotificationStatus],
        to: NotificationStatus,
        at: datetime,
        detail: dict[str, Any],
        **fields: Any,
    ) -> list[dict[str, Any]]:
        """`records.transition` for many at once; returns the rows that moved."""
        moved = records.transition_many(
            connection, [row["id"] for row in rows], leaving, to, at, detail, **fields
        )
        moved_rows = [row for row in rows if row["id"] in moved]
        self.webhooks.enqueue(
            connection,
            [self._status_event(row, to, at, detail) for row in moved_rows],
            at,
        )
        return moved_rows

    def _send_many_sms(self, rows: list[dict[str, Any]], now: datetime) -> None:
        """Claim, then send, then record the SMS of many notifications."""
        if not rows:
            return
        with self.engine.begin() as connection:
            claimed = self._move_many(
                connection,
                rows,
                (S.EXPIRED,),
                S.SMS_SENT,
                now,
                {"channel": "sms"},
                channel="sms",
                provider_id=None,
            )
        outcomes: list[tuple[dict[str, Any], SendResult | None]] = []
        for row in claimed:
            try:
                outcomes.append(
                    (row, self.sms.send(SmsMessage(row["id"], row["phone"], row["text"])))
                )
            except ChannelUnavailableError:
                outcomes.append((row, None))  # back to expired: the next sweep sends it
        with self.engine.begin() as connection:
            records.set_providers(
                connection,
                [
                    (row["id"], outcome.provider_id)
                    for row, outcome in outcomes
                    if outcome is not None and outcome.provider_id is not None
                ],
            )
            unsent = [row for row, outcome in outcomes if outcome is None]
            self._move_many(
                connection, unsent, (S.SMS_SENT,), S.EXPIRED, now, {"unavailable": "sms"}
            )
            refused = [
                row
                for row, outcome in outcomes
                if outcome is not None and outcome.provider_id is None
            ]
            self._move_many(
                connection,
                refused,
                (S.SMS_SENT,),
                S.SMS_FAILED,
                now,
                {"error": "refused by the SMS gateway"},
            )

    # ---- billing and webhooks --------------------------------------------------------------

    def _bill(
        self, connection: Connection, row: dict[str, Any], channel: str, at: datetime
    ) -> None:
        try:
            country = self.countries.country_of(row["phone"])
            price = self.prices.price(country, Channel(channel), at)
        except (UnknownCountryError, UnknownPriceError) as error:
            log.error("cannot price %s: %s; billed at 0", row["id"], error)
            from decimal import Decimal

            price = Decimal(0)
        records.bill(connection, row, channel, price, "RUB", at)

    def _status_event(
        self,
        row: dict[str, Any],
        status: NotificationStatus,
        at: datetime,
        detail: dict[str, Any],
    ) -> ClientEvent:
        """The webhook that tells the client its notification's new status."""
        channel = detail.get("channel", row.get("channel"))
        return ClientEvent(
            row["client_key"],
            row["callback_url"],
            NotificationStatusChanged(
                notification_id=row["id"],
                status=status.value,
                at=at,
                request_id=row["request_id"],
                channel=channel,
                reasons=tuple(row.get("reasons") or ()),
            ),
        )

    def _notify_client(
        self,
        connection: Connection,
        row: dict[str, Any],
        status: NotificationStatus,
        at: datetime,
        detail: dict[str, Any],
    ) -> None:
        self.webhooks.enqueue(connection, [self._status_event(row, status, at, detail)], at)

    # ---- reading ---------------------------------------------------------------------------

    def notification(self, client_key: str, notification_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            row = records.fetch(connection, notification_id)
            if row is None or row["client_key"] != client_key:
                return None
            row["history"] = records.history(connection, notification_id)
        return row
