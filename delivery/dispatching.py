"""Carrying accepted notifications: into VK or OK, a re-verification prompt, or SMS.

Each is claimed by a conditional update before its channel is called, so that two dispatchers
never send one notification and a crash leaves it to the sweeper. The claim enters the history
with its webhook in one transaction; a claim given back because the network refused or could not
be reached, and taken again, is told once, so a network that is down for a while floods no
client."""

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
from ownership.verdicts import Status

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
        if rows:
            self.overlay.refresh()  # a No another process recorded a moment ago counts too
        carried = 0
        for row in rows:
            if self.stopping.is_set():  # the rest stay accepted, for the next process
                break
            carried += self._dispatch(row)
        return carried

    def _dispatch(self, row: dict[str, Any]) -> int:
        decision = Action(row["decision"])
        if decision is Action.SMS:
            return int(self._send_sms(row, leaving=(S.ACCEPTED,)))
        changed = self._changed_since_decided(row)
        if changed is not None:
            # the number is owner_changed now, by a No or a batch that came after the decision
            # (or a No reported late): it goes as the policy sends such a number's, never to
            # the account the person disowned
            return int(self._send_sms(row, leaving=(S.ACCEPTED,), detail={"reason": changed}))
        target = S.SENT if decision is Action.DELIVER else S.REVERIFY_PENDING
        refusals: dict[str, str] = {}
        for network in self._networks_for(row):
            with self.engine.begin() as connection:  # claimed before the channel is called
                if not self._claim(
                    connection,
                    row,
                    (S.ACCEPTED,),
                    target,
                    self.clock.now(),
                    {"channel": network.value},
                    channel=network.value,
                ):
                    return 0  # another dispatcher has it
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
                # nothing is known of it: given back, and the next round sends it again
                log.warning("%s unavailable for %s: %s", network.value, row["id"], error)
                self._give_back(row, target, S.ACCEPTED)
                return 0
            if outcome.provider_id is not None:
                self._keep_provider(row, target, network, outcome.provider_id)
                return 1
            log.info("%s refused %s: %s", network.value, row["id"], outcome.refusal)
            refusals[network.value] = str(outcome.refusal)
            self._give_back(row, target, S.ACCEPTED)  # so that the next network may try
        # no social network could carry it
        why = {"refused_by": refusals} if refusals else {}
        if Fallback(row["fallback"]) is Fallback.SMS:
            return int(self._send_sms(row, leaving=(S.ACCEPTED,), detail=why))
        with self.engine.begin() as connection:
            self._move(
                connection,
                row,
                (S.ACCEPTED,),
                S.FAILED,
                self.clock.now(),
                {"reason": "NO_CHANNEL", **why},
            )
        return 0

    def _changed_since_decided(self, row: dict[str, Any]) -> str | None:
        """The reason the number is owner_changed now, with what this process knows (the
        snapshot, and the overlay read at the start of this round); None if it is not."""
        verdict, _ = self._verdict(int(row["phone"][1:]), self.clock.now())
        if verdict.status is not Status.OWNER_CHANGED:
            return None
        return verdict.evidence[0].reason.value if verdict.evidence else Status.OWNER_CHANGED.value

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
