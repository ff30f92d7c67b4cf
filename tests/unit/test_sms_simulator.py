"""The SMS simulator: a delivery report for every SMS, failures by their shares or scripted."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from delivery.channels.ports import SmsKind, SmsMessage
from delivery.channels.sms_simulator import SmsSimulator, SmsSimulatorSettings
from delivery.clock import VirtualClock
from delivery.events import RecordingInboundEvents, SmsDelivered, SmsError, SmsFailed
from ownership.channels import Channel

START = datetime(2026, 6, 2, 9, 0, tzinfo=UTC)
RU_MOBILE = "+79234567823"
RECYCLED = "+79161234567"


def world(**settings: object) -> tuple[VirtualClock, RecordingInboundEvents, SmsSimulator]:
    clock = VirtualClock(START)
    inbound = RecordingInboundEvents()
    chosen = SmsSimulatorSettings(**settings) if settings else None  # type: ignore[arg-type]
    return clock, inbound, SmsSimulator(clock, inbound, seed=1, settings=chosen)


def test_every_sms_gets_a_report_within_the_report_delay() -> None:
    clock, inbound, sms = world()
    for number in range(500):
        assert sms.send(SmsMessage(f"n-{number}", RU_MOBILE, "1234 – ваш код")).accepted
    clock.advance(timedelta(seconds=19))
    early = sms.run_due()
    clock.advance(timedelta(seconds=1))
    assert early + sms.run_due() == 500 and sms.pending() == 0
    assert all(event.channel is Channel.SMS for event in inbound.events)


def test_an_sms_repeated_for_a_notification_is_sent_once() -> None:
    clock, inbound, sms = world()

    first = sms.send(SmsMessage("n-1", RU_MOBILE, "1234 – ваш код"))
    again = sms.send(SmsMessage("n-1", RU_MOBILE, "1234 – ваш код"))
    clock.advance(timedelta(minutes=1))
    sms.run_due()

    assert again.provider_id == first.provider_id
    assert len(sms.sent) == 1 and len(inbound.events) == 1


def test_failures_follow_their_shares_by_error() -> None:
    shares = {SmsError.ABSENT_SUBSCRIBER: 0.10, SmsError.NETWORK: 0.05}
    clock, inbound, sms = world(failure_shares=shares)
    sent = 10_000
    for number in range(sent):
        sms.send(SmsMessage(f"n-{number}", RU_MOBILE, "text"))
    clock.advance(timedelta(minutes=1))
    sms.run_due()
    errors = Counter(event.error for event in inbound.of_type(SmsFailed))
    assert errors[SmsError.ABSENT_SUBSCRIBER] / sent == pytest.approx(0.10, abs=0.01)
    assert errors[SmsError.NETWORK] / sent == pytest.approx(0.05, abs=0.01)
    assert len(inbound.of_type(SmsDelivered)) / sent == pytest.approx(0.85, abs=0.01)


def test_a_scripted_failure_is_reported_for_that_phone_only() -> None:
    clock, inbound, sms = world(failure_shares={})
    sms.script_failure(RECYCLED, "unknown_subscriber", after=timedelta(seconds=3))
    failed = sms.send(SmsMessage("n-1", RECYCLED, "text"))
    sms.send(SmsMessage("n-2", RU_MOBILE, "text"))
    clock.advance(timedelta(minutes=1))
    sms.run_due()
    assert inbound.of_type(SmsFailed) == [
        SmsFailed(
            "n-1",
            str(failed.provider_id),
            Channel.SMS,
            START + timedelta(seconds=3),
            SmsError.UNKNOWN_SUBSCRIBER,
        )
    ]
    assert [event.notification_id for event in inbound.of_type(SmsDelivered)] == ["n-2"]
    assert SmsError.UNKNOWN_SUBSCRIBER.is_permanent and not SmsError.NETWORK.is_permanent


def test_failure_shares_above_one_are_refused() -> None:
    with pytest.raises(ValueError, match="shares"):
        SmsSimulatorSettings(failure_shares={SmsError.NETWORK: 0.7, SmsError.EXPIRED: 0.4})


def ru_mobiles(count: int) -> list[str]:
    return [f"+7923{index:07d}" for index in range(count)]


def outcomes_by_phone(inbound: RecordingInboundEvents, sent: dict[str, str]) -> dict[str, set[str]]:
    """Every phone's outcomes: "delivered" or the error, from the reports of `sent`
    (notification id → phone)."""
    seen: dict[str, set[str]] = {phone: set() for phone in sent.values()}
    for delivered in inbound.of_type(SmsDelivered):
        seen[sent[delivered.notification_id]].add("delivered")
    for failed in inbound.of_type(SmsFailed):
        seen[sent[failed.notification_id]].add(failed.error)
    return seen


def send_to_each(sms: SmsSimulator, phones: list[str], times: int) -> dict[str, str]:
    sent = {}
    for round_ in range(times):
        for phone in phones:
            notification_id = f"n-{round_}-{phone}"
            sms.send(SmsMessage(notification_id, phone, "text"))
            sent[notification_id] = phone
    return sent


def test_a_number_out_of_service_fails_every_sms_and_no_other_number_ever_does() -> None:
    # DESIGN §3: unknown_subscriber is the number being out of service, not bad luck
    shares = {SmsError.UNKNOWN_SUBSCRIBER: 0.2, SmsError.ABSENT_SUBSCRIBER: 0.2}
    clock, inbound, sms = world(failure_shares=shares)
    sent = send_to_each(sms, ru_mobiles(100), times=30)
    clock.advance(timedelta(minutes=1))
    sms.run_due()

    seen = outcomes_by_phone(inbound, sent)
    out_of_service = [phone for phone, outcomes in seen.items() if "unknown_subscriber" in outcomes]
    assert out_of_service
    assert all(seen[phone] == {"unknown_subscriber"} for phone in out_of_service)
    # the numbers in service still fail now and then, each SMS on its own
    assert any(outcomes == {"delivered", "absent_subscriber"} for outcomes in seen.values())


def test_numbers_are_out_of_service_at_the_unknown_subscriber_share() -> None:
    clock, inbound, sms = world()
    phones = ru_mobiles(20_000)
    send_to_each(sms, phones, times=1)
    clock.advance(timedelta(minutes=1))
    sms.run_due()

    errors = Counter(event.error for event in inbound.of_type(SmsFailed))
    # the shares of all SMS sent are kept, the permanent one included (one SMS a number)
    assert errors[SmsError.UNKNOWN_SUBSCRIBER] / len(phones) == pytest.approx(0.005, abs=0.002)
    assert errors[SmsError.ABSENT_SUBSCRIBER] / len(phones) == pytest.approx(0.02, abs=0.004)
    assert errors[SmsError.NETWORK] / len(phones) == pytest.approx(0.01, abs=0.003)
    assert errors[SmsError.EXPIRED] / len(phones) == pytest.approx(0.005, abs=0.002)


def test_the_seed_decides_which_numbers_are_out_of_service() -> None:
    def out_of_service(seed: int) -> set[str]:
        clock = VirtualClock(START)
        inbound = RecordingInboundEvents()
        settings = SmsSimulatorSettings(failure_shares={SmsError.UNKNOWN_SUBSCRIBER: 0.1})
        sms = SmsSimulator(clock, inbound, seed=seed, settings=settings)
        sent = send_to_each(sms, ru_mobiles(1_000), times=1)
        clock.advance(timedelta(minutes=1))
        sms.run_due()
        return {sent[event.notification_id] for event in inbound.of_type(SmsFailed)}

    assert out_of_service(seed=7) == out_of_service(seed=7)
    assert out_of_service(seed=7) != out_of_service(seed=8)


def test_a_restarted_simulator_gives_no_sms_an_earlier_runs_id() -> None:
    _, _, earlier = world()
    _, _, restarted = world()

    first = earlier.send(SmsMessage("n-1", "+79234567823", "Код 1234"))
    second = restarted.send(SmsMessage("n-2", "+79234567823", "Код 5678"))

    assert first.provider_id != second.provider_id


def test_the_person_reads_each_notifications_code_apart_from_the_others() -> None:
    _, _, sms = world(failure_shares={})
    sms.send(SmsMessage("n-1", RU_MOBILE, "Код 111111", kind=SmsKind.CODE, issued=1))
    sms.send(SmsMessage("n-2", RU_MOBILE, "Код 222222", kind=SmsKind.CODE, issued=1))

    assert [text for _, text in sms.codes_delivered(RU_MOBILE, "n-1")] == ["Код 111111"]
    assert [text for _, text in sms.codes_delivered(RU_MOBILE, "n-3")] == []
    for other in range(4):  # other notifications' codes to the phone push none of them out
        sms.send(SmsMessage(f"m-{other}", RU_MOBILE, "Код 333333", kind=SmsKind.CODE, issued=1))
    assert [text for _, text in sms.codes_delivered(RU_MOBILE, "n-2")] == ["Код 222222"]


def test_an_sms_whose_validity_runs_out_before_its_phone_is_back_fails_as_expired() -> None:
    clock, inbound, sms = world(failure_shares={})
    sms.script_delivery(RU_MOBILE, after=timedelta(hours=2))  # the phone off for two hours
    valid_until = START + timedelta(hours=1)

    taken = sms.send(SmsMessage("n-1", RU_MOBILE, "1234 – ваш код", valid_until=valid_until))
    clock.advance(timedelta(hours=3))
    sms.run_due()

    assert inbound.events == [
        SmsFailed("n-1", str(taken.provider_id), Channel.SMS, valid_until, SmsError.EXPIRED)
    ]


def test_an_sms_whose_phone_is_back_within_its_validity_is_delivered() -> None:
    clock, inbound, sms = world(failure_shares={})
    sms.script_delivery(RU_MOBILE, after=timedelta(minutes=50))

    sms.send(SmsMessage("n-1", RU_MOBILE, "text", valid_until=START + timedelta(hours=1)))
    clock.advance(timedelta(hours=3))
    sms.run_due()

    assert [type(event) for event in inbound.events] == [SmsDelivered]
    assert inbound.events[0].at == START + timedelta(minutes=50)


def test_a_number_out_of_service_fails_as_such_whatever_the_validity() -> None:
    clock, inbound, sms = world(failure_shares={})
    sms.script_failure(RECYCLED, "unknown_subscriber", after=timedelta(hours=2))

    sms.send(SmsMessage("n-1", RECYCLED, "text", valid_until=START + timedelta(minutes=5)))
    clock.advance(timedelta(hours=3))
    sms.run_due()

    assert [event.error for event in inbound.of_type(SmsFailed)] == [SmsError.UNKNOWN_SUBSCRIBER]


def test_a_code_past_its_validity_is_never_read_by_the_phone() -> None:
    clock, inbound, sms = world(failure_shares={})
    sms.script_delivery(RU_MOBILE, after=timedelta(minutes=20))
    code = SmsMessage(
        "n-1",
        RU_MOBILE,
        "Код 042917",
        kind=SmsKind.CODE,
        issued=1,
        valid_until=START + timedelta(minutes=10),
    )

    sms.send(code)
    clock.advance(timedelta(hours=1))
    sms.run_due()

    assert sms.codes_delivered(RU_MOBILE, "n-1") == []
    assert [event.error for event in inbound.of_type(SmsFailed)] == [SmsError.EXPIRED]


def test_an_sms_takes_its_validity_as_an_aware_time_only() -> None:
    with pytest.raises(ValueError, match="aware"):
        SmsMessage("n-1", RU_MOBILE, "text", valid_until=datetime(2026, 6, 2, 10))
