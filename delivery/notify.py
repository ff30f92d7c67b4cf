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

import asyncio
import hashlib
import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from delivery import records
from delivery.dispatching import Dispatching
from delivery.following import Following
from delivery.forgetting import Forgetting
from delivery.notify_core import S, _naive
from delivery.ports import TemplateProblemError
from delivery.sweeping import Sweeping
from ownership.channels import Channel
from ownership.codes import ReverifyMethod
from ownership.countries import UnknownCountryError
from ownership.notifications import (
    SMS_VALIDITY_BOUND,
    TTL_BOUND,
    Fallback,
    NotificationRequestError,
    RequestProblem,
    check_action_age,
)
from ownership.numbers import InvalidNumberError, mask, parse_number, parse_sent_number
from ownership.policy import Decision, Policy, decide
from ownership.prices import UnknownPriceError
from ownership.verdicts import Verdict

log = logging.getLogger(__name__)


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
    # how to ask when the policy says re-verify
    reverify: ReverifyMethod = ReverifyMethod.PROMPT
    # how long its SMS stays worth delivering once handed over; None: the service's own
    sms_validity: timedelta | None = None

    def fingerprint(self) -> str:
        """What a repeat of the request must match: its number as a number, however written
        (a client may tidy `+1 312 285 8866` into `+13122858866` between the two)."""
        try:
            phone = parse_number(self.phone).e164
        except InvalidNumberError:
            phone = self.phone  # refused either way; a repeat answers as the first time
        return self.fingerprint_with(phone)

    def fingerprints(self) -> frozenset[str]:
        """The fingerprints a first request may be stored under: also with the number as
        written, as it was taken before numbers were compared as numbers."""
        return frozenset({self.fingerprint(), self.fingerprint_with(self.phone)})

    def fingerprint_with(self, phone: str) -> str:
        body: dict[str, Any] = {
            "phone": phone,
            "template_id": self.template_id,
            "params": dict(sorted(self.params.items())),
            "action": [self.action_type, self.action_at.astimezone(UTC).isoformat()],
            "ttl": self.ttl.total_seconds(),
            "flags": [self.sensitive, self.mobile_only, self.fallback.value],
            "callback_url": self.callback_url,
        }
        if self.reverify is not ReverifyMethod.PROMPT:
            # only when asked: a repeat of a request stored before there was a choice is the
            # same request
            body["reverify"] = self.reverify.value
        if self.sms_validity is not None:
            # likewise; and one that names its validity is not one that leaves it to the
            # service, whose own may change between the two
            body["sms_validity"] = self.sms_validity.total_seconds()
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Accepted:
    answer: dict[str, Any]
    repeated: bool


def _new_id() -> str:
    return "ntf_" + secrets.token_hex(12)


# refusals of a request that may be a repeat, which is answered as the first time instead
REFUSALS = (
    InvalidNumberError,
    NotificationRequestError,
    TemplateProblemError,
    RequestRepeatedError,
)


class NotifyService(Dispatching, Following, Sweeping, Forgetting):
    """The notify path's service: accepting here; dispatching, following the channels,
    sweeping and forgetting (the retention) in the modules of their own names."""

    def accept(
        self,
        client_key: str,
        request: NotifyRequest,
        action_age: timedelta | None = None,
        policy: Policy | None = None,
    ) -> Accepted:
        """Check, decide and store a notification; a repeated request_id gets the first answer.

        Raises InvalidNumberError, NotificationRequestError, TemplateProblemError or
        RequestConflictError, each with a clear message. The common case, a new request, costs
        no read (templates and the overlay are in memory) and one share of a batch's inserts
        (delivery.acceptor); a repeat is found by the unique key.
        """
        fingerprint = request.fingerprint()
        try:
            notification, event = self._prepare(
                client_key, request, fingerprint, action_age, policy
            )
            if self.writer.insert(notification, event):
                return Accepted(notification["answer"], repeated=False)
            raise RequestRepeatedError(request.request_id)  # taken meanwhile: a repeat
        except REFUSALS:
            # a repeat answers as the first time, even if it would not pass the checks now
            first = self._first_answer(client_key, request.request_id, request.fingerprints())
            if first is None:
                raise
            return first

    async def accept_async(
        self,
        client_key: str,
        request: NotifyRequest,
        action_age: timedelta | None = None,
        policy: Policy | None = None,
    ) -> Accepted:
        """`accept` on the event loop: checking and deciding take CPU only, and the insert is
        awaited, so a new request holds no thread; a refusal looks for a first answer in one."""
        fingerprint = request.fingerprint()
        try:
            notification, event = self._prepare(
                client_key, request, fingerprint, action_age, policy
            )
            if await self.writer.insert_async(notification, event):
                return Accepted(notification["answer"], repeated=False)
            raise RequestRepeatedError(request.request_id)
        except REFUSALS:
            first = await asyncio.to_thread(
                self._first_answer, client_key, request.request_id, request.fingerprints()
            )
            if first is None:
                raise
            return first

    def _prepare(
        self,
        client_key: str,
        request: NotifyRequest,
        fingerprint: str,
        action_age: timedelta | None = None,
        policy: Policy | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The checks and the decision: the notification's row and its first history row.
        `action_age`: how old a user action the client may answer, if not the service's;
        `policy`: the client's own notify policy, if it has one. The decision is made here
        once, and kept: nothing later decides again, it only carries it out (a No or a batch
        that finds the owner changed sends it by SMS, as every policy sends such a number's)."""
        now = self.clock.now()
        number = parse_sent_number(request.phone)
        TTL_BOUND.check(request.ttl)
        if request.sms_validity is not None:
            SMS_VALIDITY_BOUND.check(request.sms_validity)
        check_action_age(request.action_at, now, action_age or self.max_action_age)
        text = self.templates.message(client_key, request.template_id, dict(request.params))
        verdict, channels = self._verdict(number.key, now)
        decision = decide(
            verdict,
            channels,
            sensitive=request.sensitive,
            mobile_only=request.mobile_only,
            now=_naive(now),
            policy=policy or self.policy,
        )
        notification_id = _new_id()
        answer = {"id": notification_id, "action": decision.action.value, "status": "accepted"}
        return self._rows(
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

    def _first_answer(
        self, client_key: str, request_id: str, fingerprints: frozenset[str]
    ) -> Accepted | None:
        """The answer given to the first request with this request_id, if there was one."""
        table = records.notifications
        with self.engine.connect() as connection:
            row = connection.execute(
                select(table.c.answer, table.c.request_hash).where(
                    table.c.client_key == client_key, table.c.request_id == request_id
                )
            ).first()
        if row is None:
            return None
        if row.request_hash not in fingerprints:
            raise RequestConflictError(
                f"request_id {request_id!r} was used before for another notification"
            )
        return Accepted(dict(row.answer), repeated=True)

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
            served = self.countries.country_of(phone)
        except UnknownCountryError as error:
            raise NotificationRequestError(
                RequestProblem.COUNTRY_NOT_SERVED,
                f"{mask(phone)}: numbers of its country are not served (no price is set for "
                "them), so the notification could not be billed",
            ) from error
        try:
            # an SMS price now prices every channel from now on (a social one defaults to a
            # share of it, and a price never ends), so the delivery, at or after now, is billed
            self.prices.price(served, Channel.SMS, now)
        except UnknownPriceError as error:
            raise NotificationRequestError(
                RequestProblem.COUNTRY_NOT_SERVED,
                f"{mask(phone)}: numbers of {served.name} (+{served.prefix}) are not served "
                f"now ({error}), so the notification could not be billed",
            ) from error
        country = served.prefix
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
            "reverify": request.reverify.value,
            "sms_validity_seconds": (
                None if request.sms_validity is None else int(request.sms_validity.total_seconds())
            ),
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

    def notification(self, client_key: str, notification_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            row = records.fetch(connection, notification_id)
            if row is None or row["client_key"] != client_key:
                return None
            row["history"] = records.history(connection, notification_id)
        # the status the client was told: a claim given back for another try is not one
        if row["history"]:
            row["status"] = row["history"][-1]["status"]
        row["sms_validity"] = int(self._sms_window(row).total_seconds())
        return row
