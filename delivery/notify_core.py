"""What the parts of the notify service share: its adapters, the claim-then-send of an SMS,
the ledger and the webhooks that tell the client."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine

from delivery import records
from delivery.acceptor import BatchWriter
from delivery.channels.ports import (
    ChannelUnavailableError,
    SmsGateway,
    SmsMessage,
    SocialNetwork,
)
from delivery.clock import Clock
from delivery.overlay import LiveOverlay, snapshot_time
from delivery.ports import ClientEvent, NoWebhooks, Templates, Webhooks
from delivery.webhooks.events import NotificationStatusChanged
from ownership.channels import Channel
from ownership.countries import CountryTable, UnknownCountryError
from ownership.notifications import (
    NotificationStatus,
)
from ownership.policy import Policy
from ownership.prices import PriceTable, UnknownPriceError
from pipelines.snapshot import Snapshot

log = logging.getLogger(__name__)
S = NotificationStatus


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


class NotifyCore:
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
        overlay: LiveOverlay | None = None,
    ) -> None:
        """`overlay`: the answers learnt since the batch, shared with the checks of the same
        process; by default one of this service's own over the same store."""
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
        if overlay is None:  # not `or`: an overlay with no answers yet is empty, so falsy
            overlay = LiveOverlay(
                engine,
                lambda: _naive(clock.now()),
                lambda: snapshot_time(snapshots),
                freshness=policy.freshness,
            )
        self.overlay = overlay

    def _send_sms(
        self,
        row: dict[str, Any],
        leaving: tuple[NotificationStatus, ...],
        detail: dict[str, Any] | None = None,
    ) -> bool:
        """Claim the notification for SMS, send it, then record what the gateway answered: the
        history entry and the client's webhook are written together, once the outcome is known.
        `detail` adds to the history entry (why it went by SMS)."""
        now = self.clock.now()
        with self.engine.begin() as connection:
            if not records.claim(
                connection, row["id"], leaving, S.SMS_SENT, now, channel="sms", provider_id=None
            ):
                return False
        try:
            outcome = self.sms.send(SmsMessage(row["id"], row["phone"], row["text"]))
        except ChannelUnavailableError as error:
            # back where it was, unseen: the dispatcher or the sweeper sends it again
            log.warning("the SMS gateway is unavailable for %s: %s", row["id"], error)
            with self.engine.begin() as connection:
                records.claim(connection, row["id"], (S.SMS_SENT,), leaving[0], self.clock.now())
            return False
        with self.engine.begin() as connection:
            if outcome.provider_id is None:
                self._move(
                    connection,
                    row,
                    (S.SMS_SENT,),
                    S.SMS_FAILED,
                    self.clock.now(),
                    {**(detail or {}), "channel": "sms", "reason": str(outcome.refusal)},
                )
                return True
            records.set_provider(connection, row["id"], outcome.provider_id)
            self._announce(connection, row, S.SMS_SENT, now, {**(detail or {}), "channel": "sms"})
        return True

    def _move(
        self,
        connection: Connection,
        row: dict[str, Any],
        leaving: tuple[NotificationStatus, ...],
        to: NotificationStatus,
        at: datetime,
        detail: dict[str, Any],
        **fields: Any,
    ) -> bool:
        """`records.transition` and, in the same transaction, the client's webhook."""
        if not records.transition(connection, row["id"], leaving, to, at, detail, **fields):
            return False
        self._notify_client(connection, row, to, at, detail)
        return True

    def _announce(
        self,
        connection: Connection,
        row: dict[str, Any],
        status: NotificationStatus,
        at: datetime,
        detail: dict[str, Any],
    ) -> None:
        """A claimed status made true by the channel: its history entry and webhook, together."""
        records.record_event(connection, row["id"], status, at, detail)
        self._notify_client(connection, row, status, at, detail)

    def _bill(
        self, connection: Connection, row: dict[str, Any], channel: str, at: datetime
    ) -> None:
        try:
            country = self.countries.country_of(row["phone"])
            price = self.prices.price(country, Channel(channel), at)
        except (UnknownCountryError, UnknownPriceError) as error:
            # the delivery still counts, in the ledger at no price, and the operator is told
            log.error("cannot price %s: %s; billed at 0", row["id"], error)
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
