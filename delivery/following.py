"""The channels' reports (the InboundEvents port): each moves a notification on once."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection

from delivery import code_records, records
from delivery.channels.ports import (
    ChannelUnavailableError,
    SocialMessage,
)
from delivery.events import (
    AnswerKindError,
    InboundEvent,
    MessageDelivered,
    MessageRead,
    ReplyReceived,
    ReverificationAnswer,
    ReverificationAnswered,
    ReverificationCodeEntered,
    SmsDelivered,
    SmsFailed,
)
from delivery.notify_core import NotifyCore, S, _naive, reverify_method
from delivery.ports import ClientEvent
from delivery.webhooks.events import NotificationReplied
from delivery.webhooks.outbox import event_id_of
from ownership.channels import SOCIAL_CHANNELS, Channel
from ownership.codes import CodeOutcome, ReverifyMethod
from ownership.live import LiveAnswers
from ownership.notifications import (
    Fallback,
    NotificationStatus,
)
from ownership.policy import Action

log = logging.getLogger(__name__)

# where a prompt's notification waits for the answer: asked, or given back after the network
# took the prompt but its own answer timed out
AWAITING_ANSWER = (S.REVERIFY_PENDING, S.ACCEPTED)
# what each way of asking asks for, as an error names it
_ASKED_FOR = {ReverifyMethod.PROMPT: "a Yes or No", ReverifyMethod.SMS_CODE: "an SMS code"}
# the social networks' names, as a notification's `channel` holds them
SOCIAL = frozenset(network.value for network in SOCIAL_CHANNELS)


class Following(NotifyCore):
    def handle(self, event: InboundEvent) -> None:
        """An event a channel reported; a repeated or late one changes nothing, and neither
        does one from a channel other than the notification's."""
        channel = event.channel
        match event:
            case MessageDelivered():
                self.delivered(event.notification_id, event.at, channel, event.provider_id)
            case MessageRead():
                self.read(event.notification_id, event.at, channel, event.provider_id)
            case ReplyReceived():
                self.replied(event.notification_id, event.text, event.at, channel)
            case ReverificationAnswered():
                confirmed = event.answer is ReverificationAnswer.CONFIRMED
                self.answered(
                    event.notification_id, confirmed, event.at, event.account_id, by=channel
                )
            case ReverificationCodeEntered():
                self.code_entered(
                    event.notification_id, event.code, event.at, event.account_id, by=channel
                )
            case SmsDelivered():
                self.sms_delivered(event.notification_id, event.at, channel, event.provider_id)
            case SmsFailed():
                error = event.error.value
                self.sms_failed(event.notification_id, error, event.at, channel, event.provider_id)

    def delivered(
        self,
        notification_id: str,
        at: datetime,
        by: Channel | None = None,
        provider_id: str | None = None,
    ) -> bool:
        """The social network showed the message: delivered, and billed once. The report of a
        delivery recorded before it came (found by the sweeper when the TTL ran out, or known
        from its read) dates it back to when it happened."""
        if self._follow(
            notification_id, (S.SENT,), S.DELIVERED, at, bill=True, by=by, provider_id=provider_id
        ):
            return True
        with self.engine.begin() as connection:
            row = records.fetch(connection, notification_id)
            if (  # what refuses the report was said by `_follow`'s own look
                row is not None
                and _from(row, by, said=False)
                and _about_its_message(row, provider_id, said=False)
                and row["channel"] in SOCIAL
            ):
                at = _within_lifetime(row, at, self.clock.now())
                price = self._price(row, row["channel"], at)
                records.correct_delivery_time(connection, notification_id, at, price)
        return False

    def read(
        self,
        notification_id: str,
        at: datetime,
        by: Channel | None = None,
        provider_id: str | None = None,
    ) -> bool:
        """The person read the message. A read that overtook its delivery report (gateways
        retry each on its own) delivers it first: a message read was shown. Its delivery
        report may come at the same moment, to another process: whichever delivers it, the
        read follows."""
        if self._follow(
            notification_id, (S.DELIVERED,), S.READ, at, by=by, provider_id=provider_id
        ):
            return True
        with self.engine.connect() as connection:
            row = records.fetch(connection, notification_id)
        if row is None or not (
            _from(row, by, said=False) and _about_its_message(row, provider_id, said=False)
        ):
            return False  # refused, and said so by the look above (unless a fallback moved it)
        self._follow(
            notification_id,
            (S.SENT,),
            S.DELIVERED,
            at,
            {"read_first": True},
            bill=True,
            by=by,
            provider_id=provider_id,
        )
        return self._follow(
            notification_id, (S.DELIVERED,), S.READ, at, by=by, provider_id=provider_id
        )

    def replied(
        self, notification_id: str, text: str, at: datetime, by: Channel | None = None
    ) -> bool:
        """The person answered: forwarded to the client, free of charge, once however often
        the gateway reports it."""
        with self.engine.begin() as connection:
            # the notification is held until its reply's webhook is in the outbox: the
            # retention keeps one a webhook of which waits, and would forget it in between
            records.hold_until_moved(connection)
            row = records.fetch(connection, notification_id, hold=True)
            if row is None or not _from(row, by):
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
                        event_id=event_id_of("reply", notification_id, at.isoformat(), text),
                    )
                ],
                at,
            )
        return True

    def answered(
        self,
        notification_id: str,
        confirmed: bool,
        at: datetime,
        account_id: str | None = None,
        by: Channel | None = None,
    ) -> bool:
        """The re-verification's answer: Yes delivers the waiting notification and keeps the
        number fresh for F; No makes it owner_changed at once and sends the notification by SMS,
        and the number's others a social network still holds are withdrawn and sent so too.
        Either way the result is kept in the verifications format for the batch, also when it
        comes after the TTL sent the notification by SMS: the person still said it. A prompt
        takes one answer; returns whether this one was taken. Raises AnswerKindError for a
        notification that asked for an SMS code."""
        with self.engine.begin() as connection:
            row = self._asked(connection, notification_id, ReverifyMethod.PROMPT, by)
            if row is None:
                return False
            # no answer comes before its question was put, nor after now
            at = _within_lifetime(row, at, self.clock.now())
            if not records.record_verification(
                connection,
                row["phone"],
                at,
                ReverifyMethod.PROMPT.value,
                "confirmed" if confirmed else "denied",
                account_id,
                notification_id,
            ):
                return False  # answered already: a repeated report
            if not confirmed:  # nothing more for the wrong person: the rest goes by SMS too
                records.cut_short_after_a_no(
                    connection, row["phone"], notification_id, SOCIAL, at, self.clock.now()
                )
        moment = _naive(at)
        answer = LiveAnswers(confirmed_at=moment) if confirmed else LiveAnswers(denied_at=moment)
        self.overlay.learn(int(row["phone"][1:]), answer)
        if S(row["status"]) not in AWAITING_ANSWER:
            return True  # too late for this notification, which went on without the answer
        if not confirmed:
            self._send_sms(row, leaving=AWAITING_ANSWER, detail={"denied": True})
            return True
        self._deliver_after_yes(row, at)
        return True

    def code_entered(
        self,
        notification_id: str,
        code: str,
        at: datetime,
        account_id: str | None = None,
        by: Channel | None = None,
    ) -> CodeOutcome:
        """A code the person entered in the prompt that asked for the one sent by SMS, checked
        against its keyed hash. The right one counts as a Yes (method sms_code): the number is
        fresh for F and the notification is shown. The last of `CODE_ATTEMPTS` wrong ones fails
        the re-verification, and the notification goes by SMS as one unanswered does: a wrong
        code is no denial, the number stays as it was. Either result is kept for the batch, also
        after the TTL sent the notification by SMS, as an answer to a prompt is. Raises
        AnswerKindError for a notification that asked Yes or No."""
        with self.engine.begin() as connection:
            row = self._asked(connection, notification_id, ReverifyMethod.SMS_CODE, by)
            if row is None:
                return CodeOutcome.IGNORED
            # an entry is told from a repeated report of it by its time as reported, so only
            # the result kept is held to now
            entered_at = max(at, row["created_at"])
            outcome = code_records.enter_code(
                connection, notification_id, code, entered_at, self.code_cipher
            )
            at = _within_lifetime(row, at, self.clock.now())
            if outcome in (CodeOutcome.CONFIRMED, CodeOutcome.FAILED):
                records.record_verification(
                    connection,
                    row["phone"],
                    at,
                    ReverifyMethod.SMS_CODE.value,
                    outcome.value,
                    account_id,
                    notification_id,
                )
        if outcome is CodeOutcome.CONFIRMED:
            self.overlay.learn(int(row["phone"][1:]), LiveAnswers(confirmed_at=_naive(at)))
        if outcome not in (CodeOutcome.CONFIRMED, CodeOutcome.FAILED):
            return outcome
        if S(row["status"]) not in AWAITING_ANSWER:
            return outcome  # too late for this notification, which went on without it
        if outcome is CodeOutcome.FAILED and Fallback(row["fallback"]) is Fallback.SMS:
            self._send_sms(row, leaving=AWAITING_ANSWER, detail={"code_failed": True})
        elif outcome is CodeOutcome.FAILED:  # no SMS wanted: it ends as an unanswered one would
            with self.engine.begin() as connection:
                self._move(
                    connection,
                    row,
                    AWAITING_ANSWER,
                    S.FAILED,
                    self.clock.now(),
                    {"reason": "NO_CHANNEL", "code_failed": True},
                )
        else:
            self._deliver_after_yes(row, at)
        return outcome

    def _asked(
        self,
        connection: Connection,
        notification_id: str,
        method: ReverifyMethod,
        by: Channel | None,
    ) -> dict[str, Any] | None:
        """The notification an answer is about, if it was asked on `by` (`_asked_on`); None
        for one unknown, never asked, or asked elsewhere. Raises AnswerKindError when it asked
        for the other kind of answer."""
        row = records.fetch(connection, notification_id)
        if row is None or row["decision"] != Action.REVERIFY.value:
            return None
        asked = reverify_method(row)
        if asked is not method:
            raise AnswerKindError(
                f"notification {notification_id} asked for {_ASKED_FOR[asked]}, "
                f"not {_ASKED_FOR[method]}"
            )
        return row if _asked_on(connection, row, by) else None

    def _deliver_after_yes(self, row: dict[str, Any], at: datetime) -> None:
        if row["channel"] not in (Channel.VK.value, Channel.OK.value):
            return  # never asked in a network: the TTL sends it by SMS
        self._deliver_confirmed(row, Channel(row["channel"]), at)

    def _deliver_confirmed(self, row: dict[str, Any], network: Channel, at: datetime) -> None:
        """The person said Yes: the message, in the network that asked. A network that cannot be
        reached may have taken it: the notification goes back to the dispatcher as one to
        deliver, which sends it there again (a gateway takes one message a notification), or,
        if it never received it, wherever the number can be reached. One that refuses it leaves
        SMS, at once."""
        with self.engine.begin() as connection:
            if not self._claim(
                connection,
                row,
                AWAITING_ANSWER,
                S.SENT,
                self.clock.now(),  # sent now: a Yes told after the TTL sends nothing there
                {"channel": network.value, "confirmed": True},
                channel=network.value,
                unexpired=True,  # past the TTL, the sweeper sends it by SMS
            ):
                return
        try:
            outcome = self.social[network].send(
                SocialMessage(row["id"], row["phone"], row["text"], row["mobile_only"])
            )
        except ChannelUnavailableError as error:
            log.warning("%s unavailable for %s: %s", network.value, row["id"], error)
            # one that never received it holds only the answered prompt: nothing to wait for
            forgotten: dict[str, Any] = {"channel": None} if error.never_sent else {}
            with self.engine.begin() as connection:
                records.set_status(
                    connection,
                    row["id"],
                    (S.SENT,),
                    S.ACCEPTED,
                    self.clock.now(),
                    decision=Action.DELIVER.value,
                    **forgotten,
                )
            return
        if outcome.provider_id is not None:
            self._keep_provider(row, S.SENT, network, outcome.provider_id)
            return
        why = {"refused_by": {network.value: str(outcome.refusal)}}
        if Fallback(row["fallback"]) is Fallback.SMS:
            self._send_sms(row, leaving=(S.SENT,), detail=why)
            return
        with self.engine.begin() as connection:  # refused, and no SMS wanted
            self._move(connection, row, (S.SENT,), S.FAILED, at, {"reason": "NO_CHANNEL", **why})

    def sms_delivered(
        self,
        notification_id: str,
        at: datetime,
        by: Channel | None = None,
        provider_id: str | None = None,
    ) -> bool:
        """The SMS reached the phone: billed once. One dated after the SMS's `valid_until`
        breaks the gateway's contract (it must not deliver later), and is ignored: the
        notification ends as one with no report does."""
        return self._follow(
            notification_id,
            (S.SMS_SENT,),
            S.SMS_DELIVERED,
            at,
            bill=True,
            by=by or Channel.SMS,
            provider_id=provider_id,
        )

    def sms_failed(
        self,
        notification_id: str,
        error: str,
        at: datetime,
        by: Channel | None = None,
        provider_id: str | None = None,
    ) -> bool:
        detail = {"error": error}
        return self._follow(
            notification_id,
            (S.SMS_SENT,),
            S.SMS_FAILED,
            at,
            detail,
            by=by or Channel.SMS,
            provider_id=provider_id,
        )

    def _follow(
        self,
        notification_id: str,
        leaving: tuple[NotificationStatus, ...],
        to: NotificationStatus,
        at: datetime,
        detail: dict[str, Any] | None = None,
        bill: bool = False,
        by: Channel | None = None,
        provider_id: str | None = None,
    ) -> bool:
        """A channel's report moves the notification on, once; a late or repeated one changes
        nothing, nor does one `by` another channel than the notification's, nor one about
        another message than the one carrying it (`provider_id`), nor an SMS delivery
        dated after the SMS's `valid_until`. A report leaving
        `sent` or `sms_sent` also finds a claim given back after a time-out, which the channel
        may have taken all the same (`records.given_back`). A delivery is billed in the same
        transaction, on the channel that carried it. A report dated before the notification was
        accepted counts from the acceptance, one dated ahead from now (`_within_lifetime`)."""
        with self.engine.begin() as connection:
            row = records.fetch(connection, notification_id)
            if row is None or not _from(row, by) or not _about_its_message(row, provider_id):
                return False
            if to is S.SMS_DELIVERED and _past_validity(row, at):
                return False
            at = _within_lifetime(row, at, self.clock.now())
            channel = by.value if by is not None else row["channel"]
            if not records.set_status(
                connection,
                notification_id,
                leaving,
                to,
                at,
                given_back=_given_back(leaving, channel),
                on_channel=None if by is None else by.value,
            ):
                return False
            if leaving == (S.SENT,) and channel in SOCIAL:
                # a receipt before its network's own answer: the client's last `sent` names it
                self._told_where_it_went(connection, row, S.SENT, Channel(channel), at)
            records.record_event(connection, notification_id, to, at, detail)
            sequence = records.history_lengths(connection, [notification_id])[notification_id]
            if bill:
                self._bill(connection, row, row["channel"], at)
            self._notify_client(connection, row, to, at, detail or {}, sequence)
        return True


def _from(row: dict[str, Any], by: Channel | None, *, said: bool = True) -> bool:
    """Whether a report `by` a channel is about the message the notification went as: one
    from another gateway (a misrouted or forged report) must not move or bill it. None: the
    caller vouches for it. `said`: a refusal is logged (not when an earlier look did)."""
    if by is None or row["channel"] == by.value:
        return True
    if said:
        log.warning("%s reported on %s, which went by %s: ignored", by, row["id"], row["channel"])
    return False


def _about_its_message(row: dict[str, Any], provider_id: str | None, *, said: bool = True) -> bool:
    """Whether a report naming the message `provider_id` is about the one now carrying the
    notification: a report on another (its prompt's, a message it never was, a gateway's
    mix-up) must not move or bill it. Either id unknown (the caller vouches for the report; the
    channel's answer with the id has not come, or never came) stands for the message. `said`:
    a refusal is logged (not when an earlier look did)."""
    kept = row["provider_id"]
    if provider_id is None or kept is None or provider_id == kept:
        return True
    if said:
        log.warning(
            "a report on %s named the message %r, which is not the one carrying it: ignored",
            row["id"],
            provider_id,
        )
    return False


def _past_validity(row: dict[str, Any], at: datetime) -> bool:
    """Whether an SMS's report is dated after its `valid_until`, by when the gateway must have
    delivered it or given up."""
    valid_until = row.get("sms_valid_until")
    if valid_until is None or at <= valid_until:
        return False
    log.warning(
        "%s reported delivered at %s, after its SMS's valid_until %s: ignored",
        row["id"],
        at.isoformat(),
        valid_until.isoformat(),
    )
    return True


def _within_lifetime(row: dict[str, Any], at: datetime, now: datetime) -> datetime:
    """A report's time, held to the notification's lifetime: a gateway's wrong clock, or a
    replayed report, may date a delivery before the notification was even accepted, which
    would bill it in a month before it existed. Such a time becomes the acceptance's; one
    ahead of this service's clock (a gateway may run minutes fast) becomes now, so that no
    answer is kept, shown by a check or exported for the batch as given in the future."""
    accepted: datetime = row["created_at"]
    return max(min(at, now), accepted)


def _given_back(
    leaving: tuple[NotificationStatus, ...], channel: str | None
) -> ColumnElement[bool] | None:
    """Where a claim whose channel's answer never came (a time-out) was given back: a message
    to deliver back to `accepted`, an SMS back to `accepted` or `expired`. The channel may
    have taken it all the same, and its reports stand (the dispatcher sends it again and the
    gateway, which takes one message a notification, reports nothing new). None: no such
    claim leaves from `leaving`."""
    if leaving == (S.SENT,) and channel in SOCIAL:
        return records.given_back((S.ACCEPTED,), [channel], Action.DELIVER.value)
    if leaving == (S.SMS_SENT,) and channel == Channel.SMS.value:
        return records.given_back((S.ACCEPTED, S.EXPIRED), [channel])
    return None


def _asked_on(connection: Connection, row: dict[str, Any], by: Channel | None) -> bool:
    """Whether the notification's prompt was asked on `by`: an answer stands though the
    notification went by SMS since (the TTL ran out), and one from another network does not."""
    if by is None or row["channel"] == by.value:
        return True
    asked = any(
        step["status"] == S.REVERIFY_PENDING.value
        and (step["detail"] or {}).get("channel") == by.value
        for step in records.history(connection, row["id"])
    )
    if not asked:
        log.warning("%s answered %s, never asked there: ignored", by, row["id"])
    return asked
