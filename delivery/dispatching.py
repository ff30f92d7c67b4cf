"""Carrying accepted notifications: into VK or OK, a re-verification prompt, or SMS.

Each is claimed by a conditional update before its channel is called, so that two dispatchers
never send one notification and a crash leaves it to the sweeper."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from delivery import records
from delivery.channels.ports import (
    ChannelUnavailableError,
    ReverificationPrompt,
    SocialMessage,
)
from delivery.notify_core import NotifyCore, S
from ownership.channels import Channel
from ownership.notifications import (
    Fallback,
)
from ownership.policy import Action

log = logging.getLogger(__name__)


class Dispatching(NotifyCore):
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
