"""The channels' reports (the InboundEvents port): each moves a notification on once."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from delivery import records
from delivery.channels.ports import (
    ChannelUnavailableError,
    SocialMessage,
)
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
from delivery.notify_core import NotifyCore, S, _naive
from delivery.ports import ClientEvent
from delivery.webhooks.events import NotificationReplied
from ownership.channels import Channel
from ownership.live import LiveAnswers
from ownership.notifications import (
    NotificationStatus,
)
from ownership.policy import Action

log = logging.getLogger(__name__)


class Following(NotifyCore):
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
        Either way the result is kept in the verifications format for the batch, also when it
        comes after the TTL sent the notification by SMS: the person still said it. A repeated
        answer changes nothing; returns whether this one was taken."""
        with self.engine.begin() as connection:
            row = records.fetch(connection, notification_id)
            if (
                row is None
                or row["decision"] != Action.REVERIFY.value
                or records.answer_recorded(connection, notification_id)
            ):
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
        moment = _naive(at)
        answer = LiveAnswers(confirmed_at=moment) if confirmed else LiveAnswers(denied_at=moment)
        self.overlay.learn(int(row["phone"][1:]), answer)
        if row["status"] != S.REVERIFY_PENDING.value:
            return True  # too late for this notification, which went on without the answer
        if not confirmed:
            self._send_sms(row, leaving=(S.REVERIFY_PENDING,), detail={"denied": True})
            return True
        network = Channel(row["channel"])
        with self.engine.begin() as connection:
            if not records.claim(
                connection,
                notification_id,
                (S.REVERIFY_PENDING,),
                S.SENT,
                at,
                provider_id=None,
            ):
                return True
        try:
            outcome = self.social[network].send(
                SocialMessage(notification_id, row["phone"], row["text"], row["mobile_only"])
            )
        except ChannelUnavailableError as error:
            log.warning("%s unavailable for %s: %s", network.value, notification_id, error)
            return True  # claimed, not sent: the sweeper sends it by SMS at its TTL
        if outcome.provider_id is None:
            return True  # the network refused after all: the sweeper sends it by SMS at its TTL
        with self.engine.begin() as connection:
            records.set_provider(connection, notification_id, outcome.provider_id)
            self._announce(
                connection, row, S.SENT, at, {"channel": network.value, "confirmed": True}
            )
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
