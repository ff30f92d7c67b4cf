"""The social-network simulator: VK or OK as the notify path sees it (DESIGN §7).

One class, configured per network. It knows the accounts bound to each number
(`AccountDirectory`), delivers only to accounts seen within the activity window (A = 7 days)
before sending, and only to ones with the mobile app when the message is `mobile_only`.
What happens to an accepted message is drawn when it is sent, from a seeded `random.Random`:
delivery and read times from `SocialCurve` (the published curve, see `curves.py`), then maybe a
reply; a re-verification prompt is delivered and read on the same curve and then maybe
answered. The events wait in an `EventSchedule` until the clock reaches them: `run_due()` hands
them to the `InboundEvents` port in time order (tests advance a `VirtualClock` and call it; the
demo runs a `SimulatorPump`).

A prompt that asks for an SMS code is answered on the same curve and by the same draw: a Yes
is the person who holds the SIM, who reads the code from the SMS the phone was delivered
(`SmsInbox`, the SMS simulator) and enters it, after that SMS came; a No is someone who does not
(the previous owner of a recycled number, say), who gets no SMS and enters wrong codes, up to
the tries a code takes. With no code delivered (the SMS failed, or goes by a real gateway the
simulator cannot read) the holder has nothing to enter.

Tests force outcomes per phone: `script_delivery`, `script_reply`, `script_answer`. A script
stays in force for every later message to that phone until `forget_scripts(phone)`. An
operator forces them without code, in the file `OWNERSHIP_SIMULATOR_SCRIPT` names, which a
`ScriptFollower` (`script_follower.py`) applies through the same calls.
"""

from __future__ import annotations

import itertools
import random
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from delivery.channels.accounts import AccountDirectory
from delivery.channels.curves import SocialCurve, log_uniform
from delivery.channels.ports import (
    Refusal,
    ReverificationPrompt,
    SendResult,
    Sent,
    SocialMessage,
    UnknownMessageError,
)
from delivery.channels.schedule import EventSchedule, Scheduled
from delivery.clock import Clock
from delivery.events import (
    InboundEvents,
    MessageDelivered,
    MessageRead,
    ReplyReceived,
    ReverificationAnswer,
    ReverificationAnswered,
    ReverificationCodeEntered,
)
from ownership.channels import Channel
from ownership.codes import CODE_ATTEMPTS, CODE_DIGITS

REPLY_TEXTS = ("Спасибо!", "Ок", "Получил, спасибо", "А когда будет готово?", "Это не я")
# a code as a person reads it in an SMS
CODE_IN_TEXT = re.compile(rf"(?<![0-9])([0-9]{{{CODE_DIGITS}}})(?![0-9])")


class SmsInbox(Protocol):
    """What a phone was delivered by SMS, as its holder reads it (the SMS simulator)."""

    def codes_delivered(self, phone: str, notification_id: str) -> list[tuple[datetime, str]]: ...


@dataclass(frozen=True)
class SocialSimulatorSettings:
    # DESIGN §4's A: only accounts seen this recently before sending are delivered to
    activity: timedelta = timedelta(days=7)
    curve: SocialCurve = field(default_factory=SocialCurve)
    # of the messages read, the share the person replies to, and how long after reading
    reply_share: float = 0.05
    reply_delay: tuple[timedelta, timedelta] = (timedelta(seconds=10), timedelta(minutes=10))
    reply_texts: tuple[str, ...] = REPLY_TEXTS
    # of the prompts read, the shares answered Yes and No (the rest are never answered)
    confirmed_share: float = 0.80
    denied_share: float = 0.05
    answer_delay: tuple[timedelta, timedelta] = (timedelta(seconds=5), timedelta(minutes=5))

    def __post_init__(self) -> None:
        if not 0 <= self.reply_share <= 1:
            raise ValueError("reply_share is a share")
        if min(self.confirmed_share, self.denied_share) < 0:
            raise ValueError("answer shares are shares")
        if self.confirmed_share + self.denied_share > 1:
            raise ValueError("confirmed_share + denied_share exceed 1")


@dataclass(frozen=True)
class ScriptedDelivery:
    # from sending; None: never
    delivered_after: timedelta | None
    read_after: timedelta | None = None


@dataclass(frozen=True)
class ScriptedAnswer:
    # None: the prompt is never answered
    answer: ReverificationAnswer | None
    # from asking
    after: timedelta


@dataclass
class _Sent:
    notification_id: str
    phone: str
    sent_at: datetime
    # past this moment a withdrawal is too late: the delivery (for a prompt, the answer)
    final_at: datetime | None
    withdrawn: bool = False


class SocialNetworkSimulator(Scheduled):
    """A `SocialNetwork` that runs on a clock; see the module."""

    def __init__(
        self,
        network: Channel,
        accounts: AccountDirectory,
        clock: Clock,
        events: InboundEvents,
        *,
        seed: int = 0,
        settings: SocialSimulatorSettings | None = None,
        run: str | None = None,
        inbox: SmsInbox | None = None,
    ) -> None:
        """`inbox`: the SMS the phones were delivered, from which a code is read; none: no
        code ever reaches the person."""
        if not network.is_social:
            raise ValueError(f"{network} is not a social network")
        self.network = network
        self._accounts = accounts
        self._clock = clock
        self._settings = settings or SocialSimulatorSettings()
        self._rng = random.Random(seed)
        self._schedule = EventSchedule(clock, events)
        self._sent: dict[str, _Sent] = {}
        self._taken: dict[tuple[str, Sent], str] = {}  # (notification, kind) → provider id
        self._ids = itertools.count(1)
        # this run's mark in its ids (random unless given, to replay a run's events): the store
        # outlives the simulator's memory, and a restarted simulator counting from 1 again
        # would take an earlier run's id for one of its own (a withdrawal at the TTL would then
        # cancel, or find delivered, another message)
        self._run = run or secrets.token_hex(4)
        self._deliveries: dict[str, ScriptedDelivery] = {}
        self._replies: dict[str, tuple[str, timedelta]] = {}
        self._answers: dict[str, ScriptedAnswer] = {}
        self._inbox = inbox
        # what was handed over, in order: for tests and the demo's log
        self.sent: list[SocialMessage | ReverificationPrompt] = []

    # -- the port --------------------------------------------------------------------------

    def send(self, message: SocialMessage) -> SendResult:
        return self._hand_over(message)

    def ask(self, prompt: ReverificationPrompt) -> SendResult:
        return self._hand_over(prompt)

    def withdraw(self, provider_id: str) -> bool:
        with self._schedule.lock:
            sent = self._sent.get(provider_id)
            if sent is None:
                raise UnknownMessageError(provider_id)
            if sent.withdrawn:
                return True
            if sent.final_at is not None and sent.final_at <= self._clock.now():
                # already delivered (or answered): its events stand, reported or about to be
                return False
            sent.withdrawn = True
            self._schedule.cancel(provider_id)
            return True

    def holds(self, notification_id: str, kind: Sent) -> bool:
        """Whether the network took the notification's message (or prompt)."""
        with self._schedule.lock:
            return (notification_id, kind) in self._taken

    def withdraw_by_notification(self, notification_id: str, kind: Sent) -> bool:
        with self._schedule.lock:
            provider_id = self._taken.get((notification_id, kind))
            return provider_id is None or self.withdraw(provider_id)

    # -- scripts, for tests and the operator's script file -----------------------------------

    @contextmanager
    def scripting(self) -> Iterator[None]:
        """Hold every send off while the scripts change, so that none sees half a change."""
        with self._schedule.lock:
            yield

    def script_delivery(
        self,
        phone: str,
        delivered_after: timedelta | None,
        read_after: timedelta | None = None,
    ) -> None:
        """Messages to `phone` are delivered (and read) this long after sending; None: never."""
        if delivered_after is not None and read_after is not None and read_after < delivered_after:
            raise ValueError("a message is read after it is delivered")
        self._deliveries[phone] = ScriptedDelivery(delivered_after, read_after)

    def script_reply(self, phone: str, text: str, after: timedelta) -> None:
        """The person replies `text` this long after sending (but never before the message
        was delivered and read; never at all to one that is not delivered)."""
        self._replies[phone] = (text, after)

    def script_answer(
        self, phone: str, answer: ReverificationAnswer | str | None, after: timedelta
    ) -> None:
        """Prompts to `phone` are answered `answer` this long after asking; None: never."""
        chosen = None if answer is None else ReverificationAnswer(answer)
        self._answers[phone] = ScriptedAnswer(chosen, after)

    def forget_scripts(self, phone: str) -> None:
        self._deliveries.pop(phone, None)
        self._replies.pop(phone, None)
        self._answers.pop(phone, None)

    # -- inside --------------------------------------------------------------------------------

    def _hand_over(self, item: SocialMessage | ReverificationPrompt) -> SendResult:
        with self._schedule.lock:
            # as the gateway contract asks (docs/gateways.md): one message, and one prompt, a
            # notification; a send repeated after a time-out gets the first one's id back
            kind = Sent.MESSAGE if isinstance(item, SocialMessage) else Sent.PROMPT
            taken = self._taken.get((item.notification_id, kind))
            if taken is not None:
                return SendResult.accepted_as(taken)
            now = self._clock.now()
            refused = self._refusal(item.phone, item.account_ids, item.mobile_only, now)
            if refused is not None:
                return refused
            provider_id = f"{self.network}-{self._run}-{next(self._ids)}"
            self._taken[item.notification_id, kind] = provider_id
            self._sent[provider_id] = _Sent(item.notification_id, item.phone, now, final_at=None)
            self.sent.append(item)
            if isinstance(item, SocialMessage):
                self._plan_message(provider_id, item, now)
            else:
                self._plan_prompt(provider_id, item, now)
            return SendResult.accepted_as(provider_id)

    def _refusal(
        self, phone: str, account_ids: tuple[str, ...], mobile_only: bool, now: datetime
    ) -> SendResult | None:
        bound = self._accounts.bound(self.network, phone)
        if not bound:
            return SendResult.refused(Refusal.NO_ACCOUNT, f"no {self.network} account")
        if account_ids:
            bound = tuple(account for account in bound if account.account_id in account_ids)
            if not bound:
                return SendResult.refused(Refusal.UNKNOWN_ACCOUNT, "not bound to the number")
        active = [a for a in bound if a.active_at(now, self._settings.activity)]
        if not active:
            return SendResult.refused(Refusal.NO_ACTIVE_ACCOUNT, "not seen within the window")
        if mobile_only and not any(account.mobile_app for account in active):
            return SendResult.refused(Refusal.NO_MOBILE_APP, "no active account uses the app")
        return None

    def _timing(self, phone: str) -> tuple[timedelta | None, timedelta | None]:
        scripted = self._deliveries.get(phone)
        if scripted is not None:
            return scripted.delivered_after, scripted.read_after
        outcome = self._settings.curve.draw(self._rng)
        return outcome.delivered_after, outcome.read_after

    def _between(self, bounds: tuple[timedelta, timedelta]) -> timedelta:
        low, high = (bound.total_seconds() for bound in bounds)
        return timedelta(seconds=log_uniform(self._rng, low, high))

    def _plan_message(self, provider_id: str, message: SocialMessage, now: datetime) -> None:
        delivered_after, read_after = self._timing(message.phone)
        if delivered_after is None:
            return
        ids = (message.notification_id, provider_id, self.network)
        delivered_at = now + delivered_after
        self._sent[provider_id].final_at = delivered_at
        self._schedule.add(MessageDelivered(*ids, at=delivered_at))
        read_at = None if read_after is None else now + read_after
        if read_at is not None:
            self._schedule.add(MessageRead(*ids, at=read_at))
        scripted = self._replies.get(message.phone)
        if scripted is not None:
            text, after = scripted
            at = max(now + after, read_at or delivered_at)
            self._schedule.add(ReplyReceived(*ids, at=at, text=text))
        elif read_at is not None and self._rng.random() < self._settings.reply_share:
            text = self._rng.choice(self._settings.reply_texts)
            at = read_at + self._between(self._settings.reply_delay)
            self._schedule.add(ReplyReceived(*ids, at=at, text=text))

    def _plan_prompt(self, provider_id: str, prompt: ReverificationPrompt, now: datetime) -> None:
        scripted = self._answers.get(prompt.phone)
        answer: ReverificationAnswer | None
        answered_at: datetime | None
        if scripted is not None:
            answer, answered_at = scripted.answer, now + scripted.after
        else:
            answer, answered_at = self._draw_answer(prompt.phone, now)
        if answer is None or answered_at is None:
            return
        if prompt.expects_code:
            self._plan_code_entries(provider_id, prompt, answer, answered_at, scripted is None)
            return
        self._sent[provider_id].final_at = answered_at
        self._schedule.add(
            ReverificationAnswered(
                prompt.notification_id, provider_id, self.network, at=answered_at, answer=answer
            )
        )

    def _plan_code_entries(
        self,
        provider_id: str,
        prompt: ReverificationPrompt,
        answer: ReverificationAnswer,
        at: datetime,
        drawn: bool,
    ) -> None:
        """The codes entered in a prompt that asks for one: the right one by the SIM's holder
        (a Yes), once the SMS came; wrong ones by someone else (a No), all the tries a code
        takes when scripted, some of them when drawn."""
        inbox = self._inbox
        delivered = inbox.codes_delivered(prompt.phone, prompt.notification_id) if inbox else []
        code = None
        if delivered:
            came_at, text = delivered[-1]
            found = CODE_IN_TEXT.search(text)
            code = found.group(1) if found else None
            at = max(at, came_at + self._between(self._settings.answer_delay))
        ids = (prompt.notification_id, provider_id, self.network)
        if answer is ReverificationAnswer.CONFIRMED:
            if code is None:
                return  # no code reached the person: nothing to enter
            self._sent[provider_id].final_at = at
            self._schedule.add(ReverificationCodeEntered(*ids, at=at, code=code))
            return
        tries = self._rng.randint(1, CODE_ATTEMPTS) if drawn else CODE_ATTEMPTS
        for _ in range(tries):
            self._schedule.add(ReverificationCodeEntered(*ids, at=at, code=self._guess(code)))
            last, at = at, at + self._between(self._settings.answer_delay)
        if tries >= CODE_ATTEMPTS:
            self._sent[provider_id].final_at = last

    def _guess(self, right: str | None) -> str:
        """A code made up by someone who never got the SMS: never the right one."""
        while True:
            guess = f"{self._rng.randrange(10**CODE_DIGITS):0{CODE_DIGITS}d}"
            if guess != right:
                return guess

    def _draw_answer(
        self, phone: str, now: datetime
    ) -> tuple[ReverificationAnswer | None, datetime | None]:
        _, read_after = self._timing(phone)
        if read_after is None:
            return None, None
        draw = self._rng.random()
        settings = self._settings
        if draw < settings.confirmed_share:
            answer = ReverificationAnswer.CONFIRMED
        elif draw < settings.confirmed_share + settings.denied_share:
            answer = ReverificationAnswer.DENIED
        else:
            return None, None
        return answer, now + read_after + self._between(settings.answer_delay)
