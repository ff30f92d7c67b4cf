"""A simulator hands an event its handler could not take over again, as a gateway retries a
report its receiver answered 5xx: a second later, then twice as long after each failure up to a
minute, for a day since its first failure, then it gives it up and says so once. The event keeps
its own time; a withdrawal drops it while it is kept; the events due behind it go on; and its
failures are logged as the jobs' are: one traceback, a count a minute, a line when it works."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy.exc import OperationalError

from delivery.channels import schedule
from delivery.channels.ports import SmsMessage
from delivery.channels.pump import SimulatorPump
from delivery.channels.schedule import GIVE_UP_AFTER, EventSchedule, HandlerFailures, retry_in
from delivery.channels.sms_simulator import SmsSimulator
from delivery.clock import VirtualClock
from delivery.events import InboundEvent, MessageDelivered, SmsDelivered
from ownership.channels import Channel
from tests.ticks import Tick

START = datetime(2026, 6, 2, 9, 0, tzinfo=UTC)
RU_MOBILE = "+79234567823"
OTHER_MOBILE = "+79161234567"


@pytest.fixture
def tick(monkeypatch: pytest.MonkeyPatch) -> Iterator[Tick]:
    clock = Tick()
    monkeypatch.setattr(schedule, "FAILURES", HandlerFailures(timedelta(minutes=1), clock))
    yield clock


class StoreDown:
    """A handler behind a store that refuses the first `failures` calls (all: None), or only
    the events of `broken`; keeps when each event was tried and which it took."""

    def __init__(
        self, clock: VirtualClock, failures: int | None = None, broken: str | None = None
    ) -> None:
        self.clock = clock
        self.failures = failures
        self.broken = broken
        self.tried: list[tuple[datetime, str]] = []
        self.taken: list[InboundEvent] = []

    def handle(self, event: InboundEvent) -> None:
        self.tried.append((self.clock.now(), event.notification_id))
        refused = self.failures is None or len(self.tried) <= self.failures
        if refused and self.broken in (None, event.notification_id):
            raise OperationalError("SELECT 1", {}, Exception("connection refused"))
        self.taken.append(event)

    def tried_at(self, notification_id: str) -> list[datetime]:
        return [at for at, tried in self.tried if tried == notification_id]


def sms_world(handler: StoreDown) -> SmsSimulator:
    sms = SmsSimulator(handler.clock, handler, seed=1)
    sms.script_delivery(RU_MOBILE, timedelta(seconds=5))
    sms.script_delivery(OTHER_MOBILE, timedelta(seconds=5))
    return sms


def run_until_done(clock: VirtualClock, sms: SmsSimulator | EventSchedule) -> None:
    while (due := sms.next_due()) is not None:
        clock.set(due)
        sms.run_due()


def test_the_back_off_doubles_from_a_second_to_a_minute() -> None:
    assert [retry_in(tries).total_seconds() for tries in range(1, 9)] == [
        1,
        2,
        4,
        8,
        16,
        32,
        60,
        60,
    ]
    assert retry_in(100_000) == timedelta(minutes=1)  # a day of tries, no overflow


def test_a_report_its_handler_fails_is_handed_over_again_with_its_own_time(tick: Tick) -> None:
    handler = StoreDown(VirtualClock(START), failures=3)
    sms = sms_world(handler)
    sms.send(SmsMessage("n-1", RU_MOBILE, "text"))

    run_until_done(handler.clock, sms)

    assert [at - START for at in handler.tried_at("n-1")] == [
        timedelta(seconds=seconds) for seconds in (5, 6, 8, 12)
    ]
    assert [type(event) for event in handler.taken] == [SmsDelivered]
    assert handler.taken[0].at == START + timedelta(seconds=5)  # the phone's, not the retry's
    assert sms.pending() == 0


def test_a_failing_event_is_tried_once_a_round_and_the_events_behind_it_go(tick: Tick) -> None:
    handler = StoreDown(VirtualClock(START), broken="n-1")
    sms = sms_world(handler)
    sms.send(SmsMessage("n-1", RU_MOBILE, "text"))
    sms.send(SmsMessage("n-2", OTHER_MOBILE, "text"))
    handler.clock.advance(timedelta(seconds=5))

    assert sms.run_due() == 1

    assert len(handler.tried_at("n-1")) == 1  # its next try is a second away
    assert [event.notification_id for event in handler.taken] == ["n-2"]
    assert sms.next_due() == START + timedelta(seconds=6)


def test_an_event_withdrawn_while_kept_is_never_handed_over(tick: Tick) -> None:
    handler = StoreDown(VirtualClock(START), failures=1)
    events = EventSchedule(handler.clock, handler)
    events.add(MessageDelivered("n-1", "vk-1", Channel.VK, START))
    events.run_due()  # refused: kept for a second later

    events.cancel("vk-1")
    handler.clock.advance(timedelta(hours=1))

    assert events.run_due() == 0
    assert len(handler.tried) == 1 and handler.taken == []
    assert events.pending() == 0 and events.next_due() is None


def test_an_event_that_always_fails_is_tried_a_minute_apart_for_a_day_then_given_up_once(
    tick: Tick, caplog: pytest.LogCaptureFixture
) -> None:
    handler = StoreDown(VirtualClock(START))  # a bug: fails whenever it is handed over
    events = EventSchedule(handler.clock, handler)
    events.add(MessageDelivered("n-1", "vk-1", Channel.VK, START))

    run_until_done(handler.clock, events)

    tried = handler.tried_at("n-1")
    gaps = [later - earlier for earlier, later in pairwise(tried)]
    assert min(gaps) == timedelta(seconds=1) and max(gaps) == timedelta(minutes=1)
    assert tried[-1] - tried[0] <= GIVE_UP_AFTER
    assert tried[-1] - tried[0] > GIVE_UP_AFTER - timedelta(minutes=1)
    assert len(tried) < 24 * 60 + 10  # about one a minute, never a tight loop
    given_up = [record for record in caplog.records if "gave up" in record.getMessage()]
    assert len(given_up) == 1 and given_up[0].levelno == logging.WARNING
    assert "MessageDelivered of notification n-1" in given_up[0].getMessage()
    assert events.pending() == 0


def logged(caplog: pytest.LogCaptureFixture) -> list[tuple[str, bool]]:
    """What the simulators' side logged: each line, and whether it carries a traceback."""
    return [
        (record.getMessage(), record.exc_info is not None)
        for record in caplog.records
        if record.name == "delivery.channels.schedule"
    ]


def test_the_pump_logs_a_traceback_once_then_a_count_a_minute_then_a_line_when_back(
    tick: Tick, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "delivery.channels.schedule")
    handler = StoreDown(VirtualClock(START))
    sms = sms_world(handler)
    for number in range(40):  # forty reports fall due in the outage
        sms.send(SmsMessage(f"n-{number}", RU_MOBILE, "text"))
    pump = SimulatorPump([sms])
    for _ in range(600):  # two minutes of the pump's rounds, five a second
        handler.clock.advance(timedelta(seconds=0.2))
        tick.now += 0.2
        pump.run_once()
    failed = len(handler.tried)

    handler.failures = 0  # the store is back
    for _ in range(300):
        handler.clock.advance(timedelta(seconds=0.2))
        pump.run_once()

    # each report tried at 5, 6, 8, 12, 20, 36 and 68 s: the minute is up at 68 s's first try
    assert failed == 40 * 7
    assert logged(caplog) == [
        ("a simulator's event failed in its handler; it is handed over again later", True),
        (
            f"simulators' events failed in their handler {40 * 6} more times the same way, "
            "last: OperationalError: (builtins.Exception) connection refused",
            False,
        ),
        (f"simulators' events go through again after {failed} failed tries", False),
    ]
    assert len(handler.taken) == 40 and sms.pending() == 0
