"""An SMS's validity: while its gateway cannot be reached, each sweep tries a notification's
SMS again, until `sms_validity` past its TTL; then it is `sms_failed`, told once, billed
nothing, and never sent however the gateway comes back, or however late a worker comes.
Whichever way it came to SMS: its TTL's fallback, the policy's SMS given back, a claim a crash
left."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from delivery.channels.ports import ChannelUnavailableError, SendResult, SmsMessage
from delivery.clock import VirtualClock
from delivery.notify_core import SMS_VALIDITY_RAN_OUT
from delivery.runtime import build_notify_runtime
from delivery.templates import TemplateDesk
from delivery.webhooks.events import NotificationStatusChanged
from ownership.channels import Channel
from ownership.notifications import Fallback
from pipelines.moderation_rules import load_moderation_rules
from pipelines.settings import load_settings
from pipelines.snapshot import Snapshot
from store.secrets import SecretCipher
from tests.api.service import NOW, RECYCLED, SUSPICIOUS, VERIFIED_FRESH
from tests.delivery.conftest import Notifier
from tests.delivery.test_notify_edges import ProcessDied, history, told, told_everything
from tests.delivery.test_sms_given_back import billed

TTL = timedelta(minutes=10)


def down(sms: SmsMessage) -> SendResult:
    raise ChannelUnavailableError("the SMS gateway is down")


def dies(sms: SmsMessage) -> SendResult:
    raise ProcessDied


def by_the_ttls_fallback(notifier: Notifier, monkeypatch: pytest.MonkeyPatch) -> str:
    sent = notifier.notify(VERIFIED_FRESH, ttl=TTL)  # in VK, then withdrawn at the TTL
    monkeypatch.setattr(notifier.sms, "send", down)
    return sent


def by_the_policy_given_back(notifier: Notifier, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(notifier.sms, "send", down)
    return notifier.notify(RECYCLED, ttl=TTL, fallback=Fallback.NONE)


def by_a_claim_a_crash_left(notifier: Notifier, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(notifier.sms, "send", dies)
    accepted = notifier.service.accept(notifier.client_key, notifier.request(RECYCLED, ttl=TTL))
    with pytest.raises(ProcessDied):
        notifier.service.dispatch_due()
    monkeypatch.setattr(notifier.sms, "send", down)
    return str(accepted.answer["id"])


def told_on(notifier: Notifier, notification_id: str) -> list[tuple[str, str | None]]:
    """Each status the client was told, with the channel its webhook names."""
    return [
        (e.event.status, e.event.channel)
        for e in notifier.webhooks.events
        if isinstance(e.event, NotificationStatusChanged)
        and e.event.notification_id == notification_id
    ]


WayToSms = Callable[[Notifier, pytest.MonkeyPatch], str]
WAYS_TO_SMS: list[WayToSms] = [
    by_the_ttls_fallback,
    by_the_policy_given_back,
    by_a_claim_a_crash_left,
]


def sweep_every_half_hour(notifier: Notifier, until: timedelta) -> None:
    swept = timedelta()
    while swept < until:
        notifier.service.sweep()
        notifier.clock.advance(timedelta(minutes=30))
        swept += timedelta(minutes=30)


@pytest.mark.parametrize("way", WAYS_TO_SMS, ids=lambda way: way.__name__)
def test_an_sms_whose_gateway_stays_down_fails_once_its_validity_ran_out(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch, way: WayToSms
) -> None:
    sent = way(notifier, monkeypatch)
    notifier.clock.advance(TTL)
    sweep_every_half_hour(notifier, notifier.service.sms_validity)
    notifier.service.sweep()
    monkeypatch.undo()  # the gateway is back: too late
    sweep_every_half_hour(notifier, timedelta(hours=2))

    assert notifier.status(sent) == "sms_failed"
    assert history(notifier, sent)[-2:] == ["sms_sent", "sms_failed"]
    assert told_everything(notifier, sent)
    assert notifier.sms.sent == []
    assert billed(notifier) == []


@pytest.mark.parametrize("way", WAYS_TO_SMS, ids=lambda way: way.__name__)
def test_an_sms_whose_gateway_comes_back_before_then_is_sent_once(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch, way: WayToSms
) -> None:
    sent = way(notifier, monkeypatch)
    notifier.clock.advance(TTL)
    sweep_every_half_hour(notifier, notifier.service.sms_validity - timedelta(hours=1))
    monkeypatch.undo()
    notifier.service.sweep()

    assert notifier.status(sent) == "sms_sent"
    assert [row[0] for row in notifier.sms.sent] == [sent]
    assert told(notifier, sent).count("sms_sent") == 1
    assert told_everything(notifier, sent)


def test_no_stale_sms_is_sent_by_a_worker_that_comes_back_after_its_validity(
    notifier: Notifier,
) -> None:
    sent = notifier.notify(VERIFIED_FRESH, ttl=TTL)  # in VK; no worker runs for hours
    notifier.clock.advance(TTL + notifier.service.sms_validity)

    notifier.service.sweep()

    assert notifier.sms.sent == []
    assert history(notifier, sent)[-3:] == ["sent", "expired", "sms_failed"]  # no sms_sent
    assert told_everything(notifier, sent)
    found = notifier.service.notification(notifier.client_key, sent)
    assert found is not None
    assert found["history"][-1]["detail"] == {"channel": "sms", "error": SMS_VALIDITY_RAN_OUT}
    assert told_on(notifier, sent)[-1] == ("sms_failed", "sms")


def test_a_no_given_after_the_sms_validity_sends_no_sms(notifier: Notifier) -> None:
    asked = notifier.notify(SUSPICIOUS, sensitive=True, ttl=TTL)  # OK asks; no worker runs
    notifier.clock.advance(TTL + notifier.service.sms_validity + timedelta(hours=1))

    notifier.service.answered(asked, False, notifier.clock.now(), by=Channel.OK)
    notifier.service.sweep()

    assert notifier.sms.sent == []
    assert history(notifier, asked) == ["accepted", "reverify_pending", "sms_failed"]
    assert told_everything(notifier, asked)
    assert told_on(notifier, asked)[-1] == ("sms_failed", "sms")


def test_an_sms_is_sent_by_a_worker_that_comes_back_within_its_validity(
    notifier: Notifier,
) -> None:
    sent = notifier.notify(VERIFIED_FRESH, ttl=TTL)
    notifier.clock.advance(TTL + notifier.service.sms_validity - timedelta(minutes=1))

    notifier.service.sweep()

    assert [row[0] for row in notifier.sms.sent] == [sent]


def test_an_sms_validity_is_a_setting(
    engine: Engine, sessions: sessionmaker[Session], cipher: SecretCipher, scored: Path
) -> None:
    settings = load_settings(sms_validity_seconds="7200")  # as OWNERSHIP_SMS_VALIDITY_SECONDS
    desk = TemplateDesk(sessions, load_moderation_rules())
    snapshot = Snapshot(scored / "snapshot.bin")
    clock = VirtualClock(NOW.replace(tzinfo=UTC))

    runtime = build_notify_runtime(settings, engine, clock, lambda: snapshot, desk, cipher=cipher)

    assert runtime.service.sms_validity == timedelta(hours=2)
