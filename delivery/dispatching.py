"""Carrying accepted notifications: into VK or OK, a re-verification prompt, or SMS.

Each is claimed by a conditional update before its channel is called, so that two dispatchers
never send one notification and a crash leaves it to the sweeper. The claim enters the history
with its webhook in one transaction; a claim given back because the network refused or could not
be reached, and taken again, is told once, so a network that is down for a while floods no
client."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select

from delivery import records
from delivery.channels.ports import (
    ChannelUnavailableError,
    ReverificationPrompt,
    SocialMessage,
)
from delivery.code_sending import CodeSending, CodeSent
from delivery.notify_core import S, a_message, reverify_method
from ownership.channels import Channel
from ownership.codes import ReverifyMethod
from ownership.notifications import (
    Fallback,
)
from ownership.policy import Action
from ownership.verdicts import Status

log = logging.getLogger(__name__)

# how long a notification a round could not carry waits for the next try: the network it may
# go by, or the SMS gateway, could not be reached (or its dispatch failed). Meanwhile the
# rounds read on past it, so that the oldest waiting do not hold up those behind them, which
# may go by the other network or by SMS at once; a network back is found by newer ones
TRY_AGAIN_AFTER = timedelta(seconds=5)


class Dispatching(CodeSending):
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
                    .where(or_(table.c.next_try_at.is_(None), table.c.next_try_at <= now))
                    .order_by(table.c.created_at)
                    .limit(limit)
                ).mappings()
            ]
        if not rows:
            return 0
        self.overlay.refresh()  # a No another process recorded a moment ago counts too
        # a network that could not be reached is not called again this round: each call would
        # wait out its deadline, and hold up every notification behind it, SMS ones too
        down: set[Channel] = set()

        def carry(row: dict[str, Any]) -> bool | None:
            """Whether the notification was carried; None when it was not tried."""
            if self.stopping.is_set():  # the rest stay accepted, for the next process
                return None
            try:
                carried = self._dispatch(row, down) > 0
            except Exception as error:
                # one notification's failure (a store error, an adapter's bug) is its own: the
                # others of the round go on, and each failing notification is logged; what its
                # claim left, the sweeper finishes
                self.dispatch_failures.failed(row["id"], error)
                return False
            if carried:
                self.dispatch_failures.carried(row["id"])
            return carried

        threads = min(self.dispatch_concurrency, len(rows))
        if threads == 1:
            carried = [carry(row) for row in rows]
        else:
            # each notification is claimed on its own, so they go at once, the oldest first; a
            # network found down by one is skipped by those not yet started (those in flight
            # wait out their deadlines, and a network whose answer never came may hold theirs:
            # up to one a thread stays with it, as one does with a thread)
            with ThreadPoolExecutor(threads, thread_name_prefix="notify-dispatch") as pool:
                carried = list(pool.map(carry, rows))
        # those still accepted (the others moved on: failed, shown, taken by another) are
        # tried again after a while
        left = [row["id"] for row, done in zip(rows, carried, strict=True) if done is False]
        if left:
            with self.engine.begin() as connection:
                records.put_off(connection, left, self.clock.now() + TRY_AGAIN_AFTER)
        return sum(1 for done in carried if done)

    def _dispatch(self, row: dict[str, Any], down: set[Channel]) -> int:
        # what the row held when read: every claim below holds only while it still does, so
        # that a copy another dispatcher's claim left meanwhile (`holder`), or a Yes that
        # changed the decision, is not overlooked
        as_read = records.AsRead.of(row)
        decision = Action(row["decision"])
        if decision is Action.SMS or row["channel"] == Channel.SMS.value:
            # an SMS claim given back may be held by the SMS gateway: by SMS again, nowhere else
            return int(self._send_sms(row, leaving=(S.ACCEPTED,), as_read=as_read))
        changed = self._changed_since_decided(row)
        if changed is not None:
            # the number is owner_changed now, by a No or a batch that came after the decision
            # (or a No reported late): it goes as the policy sends such a number's, never to
            # the account the person disowned
            if not self._nothing_shows(row, down):
                return 0
            reason = {"reason": changed}
            return int(self._send_sms(row, (S.ACCEPTED,), detail=reason, as_read=as_read))
        holder = _given_back(row)
        if holder in down:
            return 0  # it may hold a copy from an earlier round: sent nowhere else meanwhile
        networks = self._networks_for(row, first=holder)
        if holder is not None and holder not in networks and not self._nothing_shows(row, down):
            return 0  # a network the number no longer uses may show it: taken back first
        target = S.SENT if decision is Action.DELIVER else S.REVERIFY_PENDING
        method = reverify_method(row)
        code = decision is Action.REVERIFY and method is ReverifyMethod.SMS_CODE
        if code and Channel.SMS in down:
            return 0  # its code could not go a moment ago: the next round tries again
        refusals: dict[str, str] = {}
        waiting = False
        for network in networks:
            if network in down:
                waiting = True  # the next round tries it again, before the SMS fallback
                continue
            with self.engine.begin() as connection:  # claimed before the channel is called
                if not self._claim(
                    connection,
                    row,
                    (S.ACCEPTED,),
                    target,
                    self.clock.now(),
                    {"channel": network.value},
                    channel=network.value,
                    unexpired=True,  # read before the TTL ran out: the sweeper's after it
                    as_read=as_read,
                ):
                    return 0  # another dispatcher or the sweeper has it, or moved it
            if code:
                # the code first, by SMS, then the prompt that asks for it
                sent, refusal = self._send_code(row, network)
                if sent is CodeSent.UNAVAILABLE:
                    down.add(Channel.SMS)
                    # no network was called: the row holds what it held before this claim
                    self._give_back(row, target, S.ACCEPTED, channel=as_read.channel)
                    return 0
                if sent is CodeSent.REFUSED:
                    # no code can reach the person: the notification goes by SMS, as one whose
                    # re-verification got no answer does, if its client wants an SMS at all
                    held = records.AsRead(network.value, None, decision.value)
                    refused = {"code_refused": refusal}
                    if Fallback(row["fallback"]) is Fallback.SMS:
                        return int(self._send_sms(row, (target,), detail=refused, as_read=held))
                    with self.engine.begin() as connection:
                        self._move(
                            connection,
                            row,
                            (target,),
                            S.FAILED,
                            self.clock.now(),
                            {"reason": "NO_CHANNEL", **refused},
                        )
                    return 0
            channel = self.social[network]
            try:
                if decision is Action.DELIVER:
                    outcome = channel.send(
                        SocialMessage(row["id"], row["phone"], row["text"], row["mobile_only"])
                    )
                else:
                    outcome = channel.ask(
                        ReverificationPrompt(
                            row["id"], row["phone"], row["mobile_only"], method=method
                        )
                    )
            except ChannelUnavailableError as error:
                log.warning("%s unavailable for %s: %s", network.value, row["id"], error)
                down.add(network)
                if error.never_sent and network is not holder:
                    # the network surely holds nothing of it: the next one may carry it now,
                    # and the row holds what it held before this claim
                    self._give_back(row, target, S.ACCEPTED, channel=as_read.channel)
                    waiting = True
                    continue
                # nothing is known of it: given back, and the next round sends it again
                self._give_back(row, target, S.ACCEPTED)
                return 0
            if outcome.provider_id is not None:
                self._keep_provider(row, target, network, outcome.provider_id)
                return 1
            log.info("%s refused %s: %s", network.value, row["id"], outcome.refusal)
            refusals[network.value] = str(outcome.refusal)
            # so that the next network may try; a refusal is the gateway's answer to any repeat
            # of this send too, so the network holds nothing of it
            self._give_back(row, target, S.ACCEPTED, channel=None)
            as_read = as_read._replace(channel=None, provider_id=None)
        if waiting:
            return 0
        # no social network could carry it
        why = {"refused_by": refusals} if refusals else {}
        if Fallback(row["fallback"]) is Fallback.SMS:
            return int(self._send_sms(row, leaving=(S.ACCEPTED,), detail=why, as_read=as_read))
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

    def _nothing_shows(self, row: dict[str, Any], down: set[Channel]) -> bool:
        """Whether the notification may go another way than its network: a claim given back
        after a time-out may have been taken all the same, and is withdrawn first. False when
        the network cannot be asked now (the next round asks again), or showed the message
        already, which is then recorded delivered and billed, as the sweeper records it."""
        if _given_back(row) is None:
            return True
        withdrawn = self._withdraw(row, down)
        if withdrawn is None:
            return False
        if withdrawn or not a_message(row):  # a prompt shows only the masked number
            return True
        now = self.clock.now()
        with self.engine.begin() as connection:
            if self._move(
                connection,
                row,
                (S.ACCEPTED,),
                S.DELIVERED,
                now,
                {"withdrawal_too_late": True},
                shown_in=Channel(row["channel"]),  # the client's last `sent` names it
            ):
                self._bill(connection, row, row["channel"], now)
        return False

    def _changed_since_decided(self, row: dict[str, Any]) -> str | None:
        """The reason the number is owner_changed now, with what this process knows (the
        snapshot, and the overlay read at the start of this round); None if it is not."""
        verdict, _ = self._verdict(int(row["phone"][1:]), self.clock.now())
        if verdict.status is not Status.OWNER_CHANGED:
            return None
        return verdict.evidence[0].reason.value if verdict.evidence else Status.OWNER_CHANGED.value

    def _networks_for(self, row: dict[str, Any], first: Channel | None) -> list[Channel]:
        """The networks that may carry the notification, `first` (one that may hold a copy
        from an earlier round) before the others: it takes a repeat as the first send, so the
        notification shows once, and only its refusal lets another network try."""
        snapshot = self.snapshots()
        record = snapshot.lookup(int(row["phone"][1:]))
        states = record.channels if record else ()
        usable = [
            state.network
            for state in states
            if state.active and (state.mobile_app or not row["mobile_only"])
        ]
        ordered = sorted(usable, key=lambda network: network is not first)
        return [network for network in ordered if network in self.social]


def _given_back(row: dict[str, Any]) -> Channel | None:
    """The network of an earlier claim given back after a time-out, which may hold a copy."""
    if row["provider_id"] is None and row["channel"] in (Channel.VK.value, Channel.OK.value):
        return Channel(row["channel"])
    return None
