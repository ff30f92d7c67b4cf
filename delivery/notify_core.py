"""What the parts of the notify service share: its adapters, the claim-then-send of an SMS,
the ledger and the webhooks that tell the client."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import Connection, Engine

from delivery import records
from delivery.acceptor import BatchWriter
from delivery.channels.ports import (
    ChannelUnavailableError,
    Sent,
    SmsGateway,
    SmsMessage,
    SocialNetwork,
    UnknownMessageError,
)
from delivery.clock import Clock
from delivery.dispatch_failures import DispatchFailures
from delivery.overlay import LiveOverlay, snapshot_time
from delivery.ports import ClientEvent, NoWebhooks, Templates, Webhooks
from delivery.webhooks.events import NotificationStatusChanged
from ownership.channels import Channel, ChannelState
from ownership.codes import CodeSmsLimit, ReverifyMethod
from ownership.countries import CountryTable, UnknownCountryError
from ownership.live import with_live_answers
from ownership.notifications import (
    NotificationStatus,
    sms_valid_until,
    sms_window,
)
from ownership.policy import Action, Policy
from ownership.prices import PriceTable, UnknownPriceError
from ownership.verdicts import NO_HISTORY_VERDICT, Verdict
from pipelines.snapshot import Snapshot
from store.secrets import SecretCipher

log = logging.getLogger(__name__)
S = NotificationStatus
# an SMS not handed over (the gateway could not be reached, no worker ran) before it stopped
# being worth delivering: its deadline once claimed for SMS, before that the service's validity
# past the TTL. Not handed over (again), and failed; but one a gateway may hold (`may_be_held`)
# may be delivered up to its deadline, and its report is awaited as a confirmed hand-over's is
SMS_VALIDITY_RAN_OUT = "its SMS validity ran out before the SMS was handed over"
# where the sweeper takes a notification whose TTL ran out
SWEPT_ON = frozenset({S.EXPIRED, S.SMS_SENT, S.SMS_DELIVERED, S.SMS_FAILED})


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


# A claimed row's key: its SMS deadline was fixed by this claim, not kept from an earlier one.
FIXED_BY_THIS_CLAIM = "sms_deadline_fixed_by_this_claim"


def may_be_held(row: dict[str, Any]) -> bool:
    """Whether a hand-over of the notification's SMS may have reached its gateway, which then
    delivers it up to its deadline, and reports it, whatever the hand-overs after it met: its
    deadline stands once a claim may have told it to the gateway (`unfixed_deadline` undoes one
    whose claim surely never reached it), and one this very claim fixed was told to no one yet.
    Read from the store, so that every process, after any restart, knows it."""
    return row.get("sms_valid_until") is not None and not row.get(FIXED_BY_THIS_CLAIM)


def unfixed_deadline(told_nothing: bool) -> dict[str, Any]:
    """The fields a claim given back sets: a deadline is what the gateway was told, so one
    that this claim fixed and that surely never reached the gateway (it could not be reached,
    or was not called) is undone, and the next claim fixes its own; one that may have reached
    it is kept, so that every later hand-over tells the same."""
    return {"sms_valid_until": None} if told_nothing else {}


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
        claim_timeout: timedelta = timedelta(minutes=1),
        withdraw_timeout: timedelta = timedelta(minutes=5),
        dispatch_concurrency: int = 1,
        sms_validity: timedelta = timedelta(hours=10),
        code_cipher: SecretCipher | None = None,
        code_sms_limit: CodeSmsLimit | None = None,
    ) -> None:
        """`overlay`: the answers learnt since the batch, shared with the checks of the same
        process; by default one of this service's own over the same store.
        `dispatch_concurrency`: how many notifications a dispatch round carries at once, each
        on a thread of its own (a gateway's answer takes a round trip; one at a time, a worker
        would carry one a round trip).
        `code_cipher`: seals the salts of re-verification codes; every process of a store
        (the API's workers, the worker) needs the same, the store's secret key. By default
        one of this process's own, for a service that is the store's only process.
        `code_sms_limit`: how many re-verification codes' SMS one number is sent at most
        within a window (by default 5 an hour), whatever notifications and clients ask."""
        self.engine = engine
        self.code_cipher = code_cipher or SecretCipher([Fernet.generate_key().decode("ascii")])
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
        # longer than any channel call lasts: a claim with no channel id older than this was
        # left by a crash, and the sweeper may finish it; a younger one is still being sent
        self.claim_timeout = claim_timeout
        # how long past its TTL a notification waits for its network to be asked to withdraw
        # it, before it goes by SMS (or expires) without: a network down for hours must not
        # hold back the fallback
        self.withdraw_timeout = withdraw_timeout
        # how long past its TTL a notification's SMS may still be first claimed for SMS, and
        # how long from that claim it stays worth delivering (or less, as its client chose:
        # `_sms_window`); one the gateway has not confirmed taking by then is `sms_failed`, not
        # handed over again: every notification ends
        self.sms_validity = sms_validity
        self.dispatch_concurrency = dispatch_concurrency
        self.code_sms_limit = code_sms_limit or CodeSmsLimit()
        self.dispatch_failures = DispatchFailures()
        self.writer = BatchWriter(engine)
        # set when the process stops: the jobs finish what they hold and take nothing new
        self.stopping = threading.Event()
        if overlay is None:  # not `or`: an overlay with no answers yet is empty, so falsy
            overlay = LiveOverlay(
                engine,
                lambda: _naive(clock.now()),
                lambda: snapshot_time(snapshots),
                freshness=policy.freshness,
            )
        self.overlay = overlay

    def _verdict(self, key: int, now: datetime) -> tuple[Verdict, tuple[ChannelState, ...]]:
        """The snapshot's verdict with the answers learnt since the batch on top."""
        snapshot = self.snapshots()
        record = snapshot.lookup(key)
        verdict = record.verdict() if record else NO_HISTORY_VERDICT
        channels = record.channels if record else ()
        live = self.overlay.answers(key)
        verdict = with_live_answers(verdict, live, _naive(now), self.policy.freshness)
        return verdict, channels

    def _send_sms(
        self,
        row: dict[str, Any],
        leaving: tuple[NotificationStatus, ...],
        detail: dict[str, Any] | None = None,
        as_read: records.AsRead | None = None,
    ) -> bool:
        """Claim the notification for SMS, then send it. `detail` adds to the history entry (why
        it went by SMS); `as_read`: only while the notification is as read (`_claim`)."""
        now = self.clock.now()
        if self._sms_too_late(row, now) and may_be_held(row):
            # not handed over again, and not failed: the gateway may deliver an earlier hand-over
            # up to its deadline, so its report is awaited as a confirmed one's (the sweeper
            # fails it at the report time-out past the deadline), untold: the client heard of
            # sms_sent
            with self.engine.begin() as connection:
                records.set_status(
                    connection,
                    row["id"],
                    leaving,
                    S.SMS_SENT,
                    now,
                    as_read=as_read,
                    channel=Channel.SMS.value,
                    provider_id=None,
                )
            return False
        if self._sms_too_late(row, now):  # a No long after the TTL, say
            with self.engine.begin() as connection:
                detail = {**(detail or {}), "channel": "sms", "error": SMS_VALIDITY_RAN_OUT}
                self._move(
                    connection,
                    row,
                    leaving,
                    S.SMS_FAILED,
                    now,
                    detail,
                    as_read=as_read,
                    channel=Channel.SMS.value,
                    provider_id=None,
                )
            return False
        with self.engine.begin() as connection:
            if not self._claim(
                connection,
                row,
                leaving,
                S.SMS_SENT,
                now,
                {**(detail or {}), "channel": "sms"},
                channel="sms",
                as_read=as_read,
            ):
                return False
            # its deadline, from this claim if it is the first: a retry tells the same
            claimed = self._fix_sms_deadlines(connection, [dict(row)], now)[0]
        try:
            outcome = self.sms.send(self._notification_sms(claimed))
        except ChannelUnavailableError as error:
            # given back to the dispatcher, which sends it by SMS again (the gateway may hold
            # it, and takes one SMS a notification), or at the TTL the sweeper does; whatever
            # the claim left (a prompt answered, a message refused), no one else would
            log.warning("the SMS gateway is unavailable for %s: %s", row["id"], error)
            # only this claim: one the sweeper took over meanwhile (the call outlived the claim's
            # time-out) is the sweeper's, and may have reached the gateway
            told_nothing = error.never_sent and claimed[FIXED_BY_THIS_CLAIM]
            self._give_back(
                row, S.SMS_SENT, S.ACCEPTED, claimed_at=now, **unfixed_deadline(told_nothing)
            )
            return False
        with self.engine.begin() as connection:
            if outcome.provider_id is None:
                self._move(
                    connection,
                    row,
                    (S.SMS_SENT,),
                    S.SMS_FAILED,
                    self.clock.now(),
                    {"channel": "sms", "reason": str(outcome.refusal)},
                )
            else:
                records.set_provider(connection, row["id"], outcome.provider_id, S.SMS_SENT)
        return True

    def _sms_window(self, row: dict[str, Any]) -> timedelta:
        """How long the notification's SMS stays worth delivering: the client's `sms_validity`
        where it is shorter than the service's own."""
        chosen = row.get("sms_validity_seconds")
        return sms_window(None if chosen is None else timedelta(seconds=chosen), self.sms_validity)

    def _sms_too_late(self, row: dict[str, Any], now: datetime) -> bool:
        """Whether the notification's SMS is past handing over, however late the gateway is
        back or a worker comes. Once claimed for SMS, at its own deadline (`sms_valid_until`);
        before, at the service's validity past the TTL (at least ten minutes, so a short one
        of the notification's own never ends an SMS held up by the withdrawal's wait), as for
        an SMS claimed before there was a deadline to keep."""
        deadline = row.get("sms_valid_until")
        if deadline is None:
            deadline = row["expires_at"] + self.sms_validity
        return bool(now >= deadline)

    def _fix_sms_deadlines(
        self, connection: Connection, rows: list[dict[str, Any]], claimed_at: datetime
    ) -> list[dict[str, Any]]:
        """Give the notifications claimed for SMS in this transaction their deadline: the one
        each holds (an earlier claim's), else `claimed_at` plus its window. Set in each row
        (`sms_valid_until`), which is returned."""
        held, fixed = records.fix_sms_deadlines(
            connection,
            {row["id"]: sms_valid_until(claimed_at, self._sms_window(row)) for row in rows},
        )
        for row in rows:
            row["sms_valid_until"] = held[row["id"]]
            row[FIXED_BY_THIS_CLAIM] = row["id"] in fixed
        return rows

    def _notification_sms(self, row: dict[str, Any]) -> SmsMessage:
        """The notification's own SMS, claimed (`_fix_sms_deadlines`): worth delivering until
        its deadline, at every hand-over, so that a retry is the same message."""
        return SmsMessage(row["id"], row["phone"], row["text"], valid_until=row["sms_valid_until"])

    def _claim(
        self,
        connection: Connection,
        row: dict[str, Any],
        leaving: tuple[NotificationStatus, ...],
        to: NotificationStatus,
        at: datetime,
        detail: dict[str, Any],
        channel: str,
        unexpired: bool = False,
        as_read: records.AsRead | None = None,
    ) -> bool:
        """Take the notification for a channel before calling it: only one actor can. The claim
        enters the history with its webhook in one transaction, so that a receipt that comes
        before the channel's own answer follows it, and a crash loses neither. A claim given back
        (the channel refused or was unreachable) and taken again for a channel the client was
        told of already is not told again, however the attempts alternate. `unexpired`: only
        while the TTL runs, which a read taken before it ran out cannot vouch for; `as_read`:
        only while the notification is as read (`records.AsRead`: channel, provider id and
        decision)."""
        if not records.set_status(
            connection,
            row["id"],
            leaving,
            to,
            at,
            unexpired=unexpired,
            as_read=as_read,
            channel=channel,
            provider_id=None,
        ):
            return False
        told = records.history(connection, row["id"])
        if any(
            step["status"] == to.value and (step["detail"] or {}).get("channel") == channel
            for step in told
        ):
            return True
        records.record_event(connection, row["id"], to, at, detail)
        # read under the claim's hold on the row: the entry just added follows them all
        self._notify_client(connection, row, to, at, detail, len(told) + 1)
        return True

    def _give_back(
        self,
        row: dict[str, Any],
        claimed: NotificationStatus,
        to: NotificationStatus,
        **fields: Any,
    ) -> None:
        """A claim whose channel did not take the message, given back for another try. The
        history keeps the claim, which the client heard of: the next claim says where it went.
        `fields`: `channel=None` for a channel that surely holds nothing of it, which then
        neither waits for that channel nor is withdrawn from it."""
        with self.engine.begin() as connection:
            records.set_status(connection, row["id"], (claimed,), to, self.clock.now(), **fields)

    def _keep_provider(
        self,
        row: dict[str, Any],
        claimed: NotificationStatus,
        network: Channel,
        provider_id: str,
    ) -> None:
        """Keep the network's id of the message, unless the notification moved on while the
        network was being called: a receipt or an answer (the message stands), or the sweeper
        at the TTL (the message is taken back: the notification went by SMS)."""
        with self.engine.begin() as connection:
            if records.set_provider(connection, row["id"], provider_id, claimed):
                self._told_where_it_went(connection, row, claimed, network, self.clock.now())
                return
            now = records.fetch(connection, row["id"])
        if now is not None and S(now["status"]) in SWEPT_ON:
            self._take_back(row, network, provider_id)

    def _told_where_it_went(
        self,
        connection: Connection,
        row: dict[str, Any],
        status: NotificationStatus,
        network: Channel,
        at: datetime,
    ) -> None:
        """The client's last word of `status` names `network`, which took the message: a claim
        taken again for a network the client was told of before is not told again (`_claim`),
        so after one told of another network it is told now, once the network took it (its
        answer, or a receipt that came first), at `at`; a claim it did not take tells nothing,
        so a network down for a while floods no one. Under a move's hold on the row, before
        any other entry of that move: the entry follows every earlier one."""
        told = records.history(connection, row["id"])
        last = next((step for step in reversed(told) if step["status"] == status.value), None)
        if last is None or (last["detail"] or {}).get("channel") == network.value:
            return
        detail = {"channel": network.value}
        records.record_event(connection, row["id"], status, at, detail)
        self._notify_client(connection, row, status, at, detail, len(told) + 1)

    def _take_back(self, row: dict[str, Any], network: Channel, provider_id: str) -> None:
        """A message the network took after the notification moved on without it (the TTL ran
        out while the network was being called): withdrawn, so that it shows only once."""
        try:
            self.social[network].withdraw(provider_id)
        except (ChannelUnavailableError, UnknownMessageError) as error:
            log.warning("cannot take back %s of %s: %s", provider_id, row["id"], error)

    def _withdraw(self, row: dict[str, Any], down: set[Channel]) -> bool | None:
        """Take the message back from its network: True unless it was delivered already; None
        when the network cannot be asked now (it is asked again later; `down` collects the
        networks found unreachable, which are not called again meanwhile). A notification
        claimed for a network whose answer never came (a time-out: given back, or a claim a
        crash left) is taken back by its own id: the network may have taken it all the same."""
        network = Channel(row["channel"]) if row["channel"] in ("vk", "ok") else None
        if network is None or network not in self.social:
            return True
        if network in down:  # unreachable a moment ago: each call would wait out its deadline
            return None
        try:
            if not row["provider_id"]:
                kind = Sent.MESSAGE if a_message(row) else Sent.PROMPT
                return self.social[network].withdraw_by_notification(row["id"], kind)
            return self.social[network].withdraw(row["provider_id"])
        except UnknownMessageError:
            return True  # the network never had it: nothing can show
        except ChannelUnavailableError as error:
            log.warning("cannot withdraw %s now: %s", row["id"], error)
            down.add(network)
            return None

    def _move(
        self,
        connection: Connection,
        row: dict[str, Any],
        leaving: tuple[NotificationStatus, ...],
        to: NotificationStatus,
        at: datetime,
        detail: dict[str, Any],
        *,
        shown_in: Channel | None = None,
        **fields: Any,
    ) -> bool:
        """`records.transition` and, in the same transaction, the client's webhook. `shown_in`:
        the network that showed the message, which the client's last `sent` names before this
        move's entry (`_told_where_it_went`)."""
        told_where = (
            None
            if shown_in is None
            else partial(self._told_where_it_went, connection, row, S.SENT, shown_in, at)
        )
        sequence = records.transition(
            connection, row["id"], leaving, to, at, detail, before_entry=told_where, **fields
        )
        if sequence is None:
            return False
        self._notify_client(connection, row, to, at, detail, sequence)
        return True

    def _bill(
        self, connection: Connection, row: dict[str, Any], channel: str, at: datetime
    ) -> None:
        records.bill(connection, row, channel, self._price(row, channel, at), "RUB", at)

    def _price(self, row: dict[str, Any], channel: str, at: datetime) -> Decimal:
        """The channel's price for the number's country on the day of `at`."""
        try:
            country = self.countries.country_of(row["phone"])
            return self.prices.price(country, Channel(channel), at)
        except (UnknownCountryError, UnknownPriceError) as error:
            # The last resort: a notification is accepted only with an SMS price at that time,
            # which prices every channel from then on, and a serving process starts only with
            # every country priced. It still happens if the process that delivers reads other
            # reference data than the one that accepted (a country or a price taken out, or
            # its first day moved later, between the two starts). The delivery still counts,
            # in the ledger at no price, and the operator is told.
            log.error("cannot price %s: %s; billed at 0", row["id"], error)
            return Decimal(0)

    def _status_event(
        self,
        row: dict[str, Any],
        status: NotificationStatus,
        at: datetime,
        detail: dict[str, Any],
        sequence: int,
    ) -> ClientEvent:
        """The webhook that tells the client its notification's new status, the `sequence`th
        entry of its history."""
        channel = detail.get("channel", row.get("channel"))
        return ClientEvent(
            row["client_key"],
            row["callback_url"],
            NotificationStatusChanged(
                notification_id=row["id"],
                status=status.value,
                at=at,
                sequence=sequence,
                request_id=row["request_id"],
                channel=channel,
                reasons=tuple(row.get("reasons") or ()),
                detail=detail,
            ),
        )

    def _notify_client(
        self,
        connection: Connection,
        row: dict[str, Any],
        status: NotificationStatus,
        at: datetime,
        detail: dict[str, Any],
        sequence: int,
    ) -> None:
        event = self._status_event(row, status, at, detail, sequence)
        self.webhooks.enqueue(connection, [event], at)


def a_message(row: dict[str, Any]) -> bool:
    """Whether what the network holds for the notification is its message, not a prompt:
    sent, or given back after a time-out (possibly after a Yes) as one to deliver."""
    status = S(row["status"])
    return status is S.SENT or (status is S.ACCEPTED and row["decision"] == Action.DELIVER.value)


def reverify_method(row: dict[str, Any]) -> ReverifyMethod:
    """How the notification's re-verification asks: the Yes/No prompt for one accepted before
    there was a choice."""
    return ReverifyMethod(row.get("reverify") or ReverifyMethod.PROMPT.value)
