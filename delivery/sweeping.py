"""The TTL sweeper: what outlived its TTL is withdrawn and sent by SMS, in batches."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Select, func, select, text

from delivery import records
from delivery.channels.ports import ChannelUnavailableError, SendResult
from delivery.notify_core import (
    FIXED_BY_THIS_CLAIM,
    SMS_VALIDITY_RAN_OUT,
    NotifyCore,
    S,
    a_message,
    may_be_held,
    unfixed_deadline,
)
from ownership.channels import SOCIAL_CHANNELS, Channel
from ownership.notifications import (
    AWAITING,
    Fallback,
    NotificationStatus,
)
from store.tables_notifications import (
    SMS_SENT,
    SMS_UNCONFIRMED,
    WAITING_FOR_SMS,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


# what moving, withdrawing, billing, sending and telling the client read of a notification
SWEPT_COLUMNS = (
    "id",
    "client_key",
    "request_id",
    "callback_url",
    "phone",
    "country",
    "text",
    "status",
    "channel",
    "provider_id",
    "decision",
    "reverify",
    "sms_validity_seconds",
    "sms_valid_until",
    "fallback",
    "reasons",
    "expires_at",
    "updated_at",
    "ended_by_no_at",
)


class Sweeping(NotifyCore):
    def sweep(self, limit: int = 2000) -> int:
        """Finish what outlived its TTL: withdraw it from the social network and send it by SMS
        (or let it expire, with `fallback: none`); fail an SMS whose report never came, or that
        its gateway did not take within its validity; send an SMS whose claim a crash left
        before the gateway answered, or that was given back when its gateway could not be
        asked.

        A withdrawal that comes too late (the network delivered first) makes the notification
        delivered, billed once, and no SMS is sent. A batch moves in a few statements, so that a
        backlog of expirations clears in seconds. Returns how many notifications it moved on:
        not those left as they were, waiting for their network or for the SMS gateway, so that
        `while sweep() >= limit` ends.
        """
        now = self.clock.now()
        with self.engine.connect() as connection:
            batches = [
                [dict(row) for row in connection.execute(due).mappings()]
                for due in self._due(now, limit)
            ]
        seen = _shared(batches, limit)
        if not seen:
            return 0
        # the networks are asked before any row is locked: a slow gateway must not hold up the
        # delivery reports that race the withdrawal. Its answer stays true (a message delivered
        # stays delivered, one withdrawn is never shown), for as long as the row is as it was
        awaiting = {status.value for status in AWAITING}
        down: set[Channel] = set()  # a network that cannot be reached is asked once a sweep
        withdrawals = {
            row["id"]: self._withdraw(row, down) for row in seen if row["status"] in awaiting
        }
        if all(self._waits_for_its_network(row, withdrawals, now) for row in seen):
            return 0  # nothing to move: no lock taken (on SQLite, the store's)
        table = records.notifications
        as_seen = {row["id"]: row for row in seen}
        # only what tells whether a row moved since it was read (the rest is as seen, and a row
        # as seen is still due), so that the hold is short: on SQLite every other writer waits
        locked = (
            select(table.c.id, *(table.c[name] for name in ASKED_COLUMNS))
            .where(table.c.id.in_(list(as_seen)))
            # on PostgreSQL a row another sweeper holds is left to it; SQLite has one writer.
            # (Two sweepers may both ask for one withdrawal, which a network takes once)
            .with_for_update(skip_locked=True)
        )
        with self.engine.begin() as connection:  # the batch stays locked until it has moved
            records.hold_until_moved(connection)
            rows = [
                as_seen[found]
                for found, *state in connection.execute(locked)
                # one that moved since (the network was asked as it was): the next sweep's
                if tuple(state) == _asked(as_seen[found])
            ]
            if not rows:
                return 0
            # those a No to another notification ended: no `no_answer` for their prompts,
            # whose TTLs the person did not have
            cut_short = {row["id"] for row in rows if row["ended_by_no_at"] is not None}
            delivered_first, to_expire, unreported, waiting_sms = [], [], [], []
            unconfirmed: list[dict[str, Any]] = []  # the network could not be asked for long
            unsent: list[dict[str, Any]] = []  # claimed for SMS by a process that died
            given_back: list[dict[str, Any]] = []  # an SMS its gateway could not be asked for
            unanswered: set[str] = set()
            left = 0  # as they were: waiting for their network
            for row in rows:
                status = S(row["status"])
                if status is S.SMS_SENT and not (row["provider_id"] or self._held(row, now)):
                    unsent.append(row)  # as `_due` reads it
                elif status is S.ACCEPTED and row["channel"] == Channel.SMS.value:
                    # the gateway may hold it: by SMS again whatever the fallback (the policy
                    # or an answer chose SMS, not the TTL), and the client heard of sms_sent
                    given_back.append(row)
                elif status is S.SMS_SENT:
                    # handed over, or held by a gateway whose answer never came: its report
                    # awaited until the time-out past its deadline, as `_due` reads it
                    unreported.append(row)
                elif status is S.EXPIRED:
                    waiting_sms.append(row)
                else:
                    withdrawn = withdrawals[row["id"]]
                    if withdrawn is None:
                        # the network cannot be asked: the next sweep asks again, until the
                        # notification has waited long enough past its TTL to go without
                        if now - row["expires_at"] >= self.withdraw_timeout:
                            unconfirmed.append(row)
                        else:
                            left += 1
                        continue
                    if withdrawn or not a_message(row):
                        to_expire.append(row)  # a prompt shown but not answered goes by SMS
                    else:
                        delivered_first.append(row)  # shown before the TTL ran out
                    if (
                        withdrawn
                        and status is S.REVERIFY_PENDING
                        and row["provider_id"]
                        and row["id"] not in cut_short
                    ):
                        # asked, and not answered: an answered prompt cannot be withdrawn
                        unanswered.add(row["id"])
            for row in delivered_first:  # held, as read: each moves below
                # the client's last `sent` names the network that showed it
                self._told_where_it_went(connection, row, S.SENT, Channel(row["channel"]), now)
            for row in self._move_many(
                connection,
                delivered_first,
                (S.SENT, S.ACCEPTED),  # or given back after a time-out the network took
                S.DELIVERED,
                now,
                {"withdrawal_too_late": True},
            ):
                self._bill(connection, row, row["channel"], now)
            # what falls back to SMS is claimed for it at once: expired and sms_sent in one
            # update (both in its history), so a backlog costs one write a notification less;
            # past its SMS validity it is not sent
            claimed: list[dict[str, Any]] = []
            expired: list[dict[str, Any]] = []
            for ending, why in (
                ([row for row in to_expire if row["id"] not in cut_short], {"ttl_ran_out": True}),
                # the holder said No to another notification: this one leaves the network too
                ([row for row in to_expire if row["id"] in cut_short], {"denied": True}),
                # the client is told that it may show in the network all the same
                (
                    [row for row in unconfirmed if row["id"] not in cut_short],
                    {"ttl_ran_out": True, "withdrawal_unconfirmed": True},
                ),
                (
                    [row for row in unconfirmed if row["id"] in cut_short],
                    {"denied": True, "withdrawal_unconfirmed": True},
                ),
            ):
                by_sms = [row for row in ending if Fallback(row["fallback"]) is Fallback.SMS]
                expired += self._move_many(
                    connection,
                    [row for row in by_sms if self._sms_too_late(row, now)],
                    AWAITING,
                    S.SMS_FAILED,
                    now,
                    {"channel": "sms", "error": SMS_VALIDITY_RAN_OUT},
                    passing=((S.EXPIRED, why),),
                    channel="sms",
                    provider_id=None,
                )
                claimed += self._move_many(
                    connection,
                    [row for row in by_sms if not self._sms_too_late(row, now)],
                    AWAITING,
                    S.SMS_SENT,
                    now,
                    {"channel": "sms"},
                    passing=((S.EXPIRED, why),),
                    channel="sms",
                    provider_id=None,
                )
                expired += self._move_many(
                    connection,
                    [row for row in ending if Fallback(row["fallback"]) is not Fallback.SMS],
                    AWAITING,
                    S.EXPIRED,
                    now,
                    why,
                )
            # "no answer within the TTL" is a result too, for the batch (DESIGN §7); an answer
            # kept while the network could not be asked to withdraw the prompt still counts
            unanswered -= records.answered_prompts(connection, sorted(unanswered))
            records.record_no_answers(
                connection, [row for row in claimed + expired if row["id"] in unanswered]
            )
            self._move_many(
                connection,
                unreported,
                (S.SMS_SENT,),
                S.SMS_FAILED,
                now,
                {"error": "no delivery report"},
            )
            # the SMS that its gateway has not confirmed taking within its validity: not sent
            # again, however late the gateway is back (or a worker came). One it may hold
            # awaits its report as a confirmed one does, untold (the client heard of sms_sent)
            held = [row["id"] for row in waiting_sms + given_back if self._held(row, now)]
            awaited = records.set_status_many(
                connection, held, (S.EXPIRED, S.ACCEPTED), S.SMS_SENT, now
            )
            too_late = self._move_many(
                connection,
                [
                    row
                    for row in waiting_sms + unsent + given_back
                    if self._sms_too_late(row, now) and not may_be_held(row)
                ],
                (S.EXPIRED, S.SMS_SENT, S.ACCEPTED),
                S.SMS_FAILED,
                now,
                {"channel": "sms", "error": SMS_VALIDITY_RAN_OUT},
            )
            ended = {row["id"] for row in too_late} | awaited
            waiting_sms, unsent, given_back = (
                [row for row in kind if row["id"] not in ended]
                for kind in (waiting_sms, unsent, given_back)
            )
            # sent (again): the gateway takes one SMS a notification (docs/gateways.md). The
            # claim is renewed, or taken again, untold: the client heard of sms_sent
            resent = records.set_status_many(
                connection, [row["id"] for row in unsent], (S.SMS_SENT,), S.SMS_SENT, now
            ) | records.set_status_many(
                connection, [row["id"] for row in given_back], (S.ACCEPTED,), S.SMS_SENT, now
            )
            again = [row for row in unsent + given_back if row["id"] in resent]
            # the deadline of each SMS claimed: from now for a first claim (the withdrawals
            # asked before may have taken a while), else the one it was claimed with
            self._fix_sms_deadlines(connection, claimed + again, self.clock.now())
        waiting = [row for row in waiting_sms if Fallback(row["fallback"]) is Fallback.SMS]
        retried = waiting + again
        given_back_again = self._send_claimed_sms(
            claimed + self._claim_sms(waiting, now) + again,
            now,
            still_claimed={row["id"] for row in again},
        )
        # and as they were: waiting, again, for the SMS gateway
        left += sum(row["id"] in given_back_again for row in retried)
        return len(rows) - left

    def _held(self, row: dict[str, Any], now: datetime) -> bool:
        """Whether the notification's SMS, past its deadline at `now`, may be held by its
        gateway, which may have delivered it by then: not handed over again, nor failed, before
        its report's time-out past the deadline."""
        return may_be_held(row) and self._sms_too_late(row, now)

    def _waits_for_its_network(
        self, row: dict[str, Any], withdrawals: dict[str, bool | None], now: datetime
    ) -> bool:
        """Whether the notification stays as it is this sweep: its network could not be asked
        to withdraw it, and it has not waited long enough past its TTL to go without."""
        if row["id"] not in withdrawals or withdrawals[row["id"]] is not None:
            return False
        return bool(now - row["expires_at"] < self.withdraw_timeout)

    def _due(self, now: datetime, limit: int) -> list[Select[Any]]:
        """What the sweeper finishes at `now`, the oldest first, in four reads of up to
        `limit`: what a social network holds, to be withdrawn; what goes by SMS; what expired
        and waits for its SMS; what ends without either (`fallback: none`, an SMS whose report
        never came). A sweep takes from each (`_shared`), so that none holds up the others: a
        batch that waits for a network that cannot be asked, or for an SMS gateway that cannot
        be reached, is read again at every sweep, and would keep everything behind it waiting.
        Each read goes by an index and reads no notification that ended."""
        table = records.notifications
        accepted = table.c.status == S.ACCEPTED.value
        past_ttl = (
            table.c.status.in_([status.value for status in AWAITING])
            & (table.c.expires_at <= now)
            # a claim whose channel is still being called waits for its answer
            & (
                table.c.provider_id.is_not(None)
                | accepted
                | (table.c.updated_at <= now - self.claim_timeout)
            )
        )
        # claimed for a network, or given back by one that may hold it (a claim for a network
        # is `reverify_pending` or `sent`, so each read goes by status, and an accepted
        # notification never claimed or given back by the SMS gateway is read by the others)
        a_network = table.c.channel.in_([network.value for network in SOCIAL_CHANNELS])
        at_a_network = ~accepted | a_network
        never_claimed = table.c.channel.is_(None)
        without_fallback = never_claimed & (table.c.fallback == Fallback.NONE.value)
        by_sms = (past_ttl & accepted & (never_claimed | ~a_network) & ~without_fallback) | (
            # claimed for SMS, but the gateway's answer never came: a crash between the claim
            # and the call, which may never have been made; on its partial index, in its words
            text(SMS_UNCONFIRMED)
            & (table.c.updated_at <= now - self.claim_timeout)
            # past its deadline, it is not handed over again, and awaits its report
            & (table.c.sms_valid_until.is_(None) | (table.c.sms_valid_until > now))
        )
        # on its partial index, in its words: every other `expired` notification is final,
        # and they only grow in number
        waiting_for_sms = text(WAITING_FOR_SMS)
        # an SMS's report is awaited until the report timeout past its deadline, by when its
        # gateway reports it `expired` at the latest; also one a gateway may hold, whose answer
        # never came, once its deadline passed (`may_be_held`). On its partial index, by the
        # deadline, so that those still awaited are not read; one claimed before there were
        # deadlines, handed over, past its last move
        reported_by = now - self.sms_report_timeout
        sms_sent = text(SMS_SENT)
        without_either = (
            (past_ttl & accepted & without_fallback)
            | (sms_sent & (table.c.sms_valid_until <= reported_by))
            | (
                sms_sent
                & table.c.sms_valid_until.is_(None)
                & (func.coalesce(table.c.provider_id, "") != "")
                & (table.c.updated_at <= reported_by)
            )
        )
        columns = select(*(table.c[name] for name in SWEPT_COLUMNS))
        return [
            columns.where(which).order_by(table.c.expires_at).limit(limit)
            for which in (past_ttl & at_a_network, by_sms, waiting_for_sms, without_either)
        ]

    def _move_many(
        self,
        connection: Connection,
        rows: list[dict[str, Any]],
        leaving: tuple[NotificationStatus, ...] | frozenset[NotificationStatus],
        to: NotificationStatus,
        at: datetime,
        detail: dict[str, Any],
        *,
        passing: tuple[tuple[NotificationStatus, dict[str, Any]], ...] = (),
        **fields: Any,
    ) -> list[dict[str, Any]]:
        """`records.transition_many`, and a webhook for every status the rows reach or pass
        through, each numbered by its place in the row's history; returns the rows that
        moved."""
        moved = records.transition_many(
            connection,
            [row["id"] for row in rows],
            leaving,
            to,
            at,
            detail,
            passing=passing,
            **fields,
        )
        moved_rows = [row for row in rows if row["id"] in moved]
        steps = [*passing, (to, detail)]
        self.webhooks.enqueue(
            connection,
            [
                # `moved` holds the place of each row's last entry, the one for `to`
                self._status_event(row, status, at, step, moved[row["id"]] - len(steps) + place)
                for row in moved_rows
                for place, (status, step) in enumerate(steps, start=1)
            ],
            at,
        )
        return moved_rows

    def _claim_sms(self, rows: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
        """Claim expired notifications for SMS before sending, so that a crash between the
        two leaves them for the sweeper to fail; returns the claimed rows."""
        if not rows:
            return []
        with self.engine.begin() as connection:
            claimed_at = self.clock.now()
            told = records.told_ids(connection, [row["id"] for row in rows], S.SMS_SENT)
            # claimed again after the gateway could not be reached: the client heard of it
            again = records.set_status_many(
                connection,
                [row["id"] for row in rows if row["id"] in told],
                (S.EXPIRED,),
                S.SMS_SENT,
                now,
                channel="sms",
                provider_id=None,
            )
            first = self._move_many(
                connection,
                [row for row in rows if row["id"] not in told],
                (S.EXPIRED,),
                S.SMS_SENT,
                now,
                {"channel": "sms"},
                channel="sms",
                provider_id=None,
            )
            claimed = [row for row in rows if row["id"] in again] + first
            return self._fix_sms_deadlines(connection, claimed, claimed_at)

    def _send_claimed_sms(
        self,
        claimed: list[dict[str, Any]],
        now: datetime,
        still_claimed: set[str] | None = None,
    ) -> set[str]:
        """Send the SMS of claimed notifications, then record what the gateway answered. Those
        the gateway could not be reached for go back to `expired`, from which the next sweep
        sends them; those of `still_claimed` (claims a crash left, SMS given back) stay
        `sms_sent`, sent again once the claim is old (whatever the fallback, such a
        notification is the policy's to send by SMS, or its TTL's). One whose deadline passed
        before its turn came (the hand-overs before it were slow) is not handed over, and
        fails, unless an earlier hand-over may have reached the gateway: then it waits for its
        report (`may_be_held`). Returns the notifications given back."""
        if not claimed:
            return set()
        outcomes: list[tuple[dict[str, Any], SendResult | None]] = []
        ran_out: list[dict[str, Any]] = []
        # given back, and surely never seen by the gateway: not called, or not reached
        told_nothing: set[str] = set()
        reachable = True
        for row in claimed:
            if self._sms_too_late(row, self.clock.now()):  # by the clock of this hand-over
                ran_out.append(row)
                continue
            if not reachable:  # each call would wait out its deadline: the next sweep tries
                outcomes.append((row, None))
                told_nothing.add(row["id"])
                continue
            try:
                outcomes.append((row, self.sms.send(self._notification_sms(row))))
            except ChannelUnavailableError as error:
                log.warning("the SMS gateway is unavailable for %s: %s", row["id"], error)
                outcomes.append((row, None))
                if error.never_sent:
                    told_nothing.add(row["id"])
                reachable = False
        with self.engine.begin() as connection:
            records.set_providers(
                connection,
                [
                    (row["id"], outcome.provider_id)
                    for row, outcome in outcomes
                    if outcome is not None and outcome.provider_id is not None
                ],
            )
            # given back, untold: the client heard of sms_sent, and the next sweep sends it
            retried = [row["id"] for row, outcome in outcomes if outcome is None]
            kept = still_claimed or set()
            fixed_now = {row["id"] for row in claimed if row.get(FIXED_BY_THIS_CLAIM)}
            for ids, to in (
                ([n for n in retried if n not in kept], S.EXPIRED),
                ([n for n in retried if n in kept], S.SMS_SENT),
            ):
                for unfix in (False, True):
                    # only this sweep's claims (made at `now`): one another sweep took over
                    # meanwhile (this one's calls outlived the claim's time-out) is its own
                    records.set_status_many(
                        connection,
                        [n for n in ids if (n in told_nothing and n in fixed_now) is unfix],
                        (S.SMS_SENT,),
                        to,
                        now,
                        claimed_at=now,
                        **unfixed_deadline(unfix),
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
            self._move_many(
                connection,
                [row for row in ran_out if not may_be_held(row)],  # the rest stay, awaited
                (S.SMS_SENT,),
                S.SMS_FAILED,
                self.clock.now(),
                {"channel": "sms", "error": SMS_VALIDITY_RAN_OUT},
                claimed_at=now,  # this sweep's claims only, as the give-backs
            )
        return set(retried)


def _shared(batches: list[list[T]], limit: int) -> list[T]:
    """Up to `limit` of the batches: an equal share each, and what one leaves of its share to
    the others, so that a sweep moves no more than `limit` (on SQLite it holds the store's
    write lock for as long as they take)."""
    taken = [0] * len(batches)
    room = limit
    while room > 0:
        wanting = [i for i, batch in enumerate(batches) if taken[i] < len(batch)]
        if not wanting:
            break
        share = max(1, room // len(wanting))
        for i in wanting:
            more = min(share, len(batches[i]) - taken[i], room)
            taken[i] += more
            room -= more
    return [row for batch, count in zip(batches, taken, strict=True) for row in batch[:count]]


# what `_asked` is made of
ASKED_COLUMNS = ("status", "channel", "provider_id", "updated_at")


def _asked(row: dict[str, Any]) -> tuple[str, str | None, str | None, datetime]:
    """What the network was asked to withdraw, by: the row's status, channel and message id,
    and when it last moved (a claim taken and given back meanwhile looks the same otherwise)."""
    return (row["status"], row["channel"], row["provider_id"], row["updated_at"])
