"""The TTL sweeper: what outlived its TTL is withdrawn and sent by SMS, in batches."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from delivery import records
from delivery.channels.ports import (
    ChannelUnavailableError,
    SendResult,
    SmsMessage,
    UnknownMessageError,
)
from delivery.notify_core import NotifyCore, S
from ownership.channels import Channel
from ownership.notifications import (
    AWAITING,
    Fallback,
    NotificationStatus,
)

log = logging.getLogger(__name__)


class Sweeping(NotifyCore):
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
