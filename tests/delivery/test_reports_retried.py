"""A simulator's delivery report that the notify service could not take (the store down for a
while) is handed over again, as a gateway retries a report its receiver answered 5xx, after a
second, then two, then four…, with the report's own time: the SMS ends delivered, billed once,
at the time the phone took it. Runs on SQLite and PostgreSQL, on a virtual clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from delivery import records
from delivery.channels.sms_simulator import SmsSimulator
from delivery.clock import VirtualClock
from delivery.events import InboundEvent
from delivery.notify import NotifyRequest
from delivery.runtime import NotifyRuntime, build_notify_runtime
from delivery.templates import TemplateDesk
from delivery.webhooks.fakes import RecordingWebhookSender
from ownership.moderation import Decision, TemplateDraft
from pipelines.moderation_rules import load_moderation_rules
from pipelines.settings import load_settings
from pipelines.snapshot import Snapshot
from store.clients import register_client
from store.secrets import SecretCipher
from tests.api.service import NOW, RECYCLED

REPORT_AFTER = timedelta(seconds=20)


class StoreDownFor:
    """The notify service's handler behind a store that refuses its first `failures` calls."""

    def __init__(self, handle: Callable[[InboundEvent], None], clock: VirtualClock, failures: int):
        self.handle = handle
        self.clock = clock
        self.failures = failures
        self.tried_at: list[datetime] = []

    def __call__(self, event: InboundEvent) -> None:
        self.tried_at.append(self.clock.now())
        if len(self.tried_at) <= self.failures:
            raise OperationalError(
                "UPDATE notifications SET status=%(status)s", {}, Exception("connection refused")
            )
        self.handle(event)


def sent_by_sms(
    engine: Engine, sessions: sessionmaker[Session], cipher: SecretCipher, scored: Path
) -> tuple[NotifyRuntime, VirtualClock, str, str]:
    """A recycled number's notification, sent by SMS now; its report due in 20 s."""
    with sessions.begin() as session:
        client = register_client(session, "bank", ["127.0.0.0/8"], cipher)
    desk = TemplateDesk(sessions, load_moderation_rules())
    draft = TemplateDraft.of("Ваш заказ #order# готов к выдаче", "order_status", {"order": "A"})
    template = desk.submit(client.key, draft)
    desk.decide(template.id, Decision.APPROVE, note=None, by="moderator")
    clock = VirtualClock(NOW.replace(tzinfo=UTC))
    snapshot = Snapshot(scored / "snapshot.bin")
    runtime = build_notify_runtime(
        load_settings(),
        engine,
        clock,
        lambda: snapshot,
        desk,
        history_dir=scored.parent / "events",
        webhook_sender=RecordingWebhookSender(),
        cipher=cipher,
    )
    sms = runtime.channels.sms
    assert isinstance(sms, SmsSimulator)
    sms.script_delivery(RECYCLED, REPORT_AFTER)
    request = NotifyRequest(
        request_id="outage-1",
        phone=RECYCLED,
        template_id=template.id,
        params={"order": "A-17"},
        action_type="order",
        action_at=clock.now() - timedelta(minutes=5),
        ttl=timedelta(hours=1),
    )
    notification_id = str(runtime.service.accept(client.key, request).answer["id"])
    runtime.service.dispatch_due()
    return runtime, clock, client.key, notification_id


def test_a_report_the_store_could_not_take_is_handed_over_again_and_the_sms_ends_delivered(
    engine: Engine,
    sessions: sessionmaker[Session],
    cipher: SecretCipher,
    scored: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runtime, clock, client_key, notification_id = sent_by_sms(engine, sessions, cipher, scored)
    sent_at = clock.now()
    store_down = StoreDownFor(runtime.service.handle, clock, failures=3)
    monkeypatch.setattr(runtime.service, "handle", store_down)

    sms = runtime.channels.sms
    assert isinstance(sms, SmsSimulator)
    while (due := sms.next_due()) is not None:  # the simulator's moments, one after the other
        clock.set(due)
        sms.run_due()

    # failed at 20 s, then tried 1, 2 and 4 s after each failure
    assert [moment - sent_at for moment in store_down.tried_at] == [
        timedelta(seconds=seconds) for seconds in (20, 21, 23, 27)
    ]
    found = runtime.service.notification(client_key, notification_id)
    assert found is not None
    statuses = [step["status"] for step in found["history"]]
    assert statuses == ["accepted", "sms_sent", "sms_delivered"]
    delivered_at = found["history"][-1]["at"]
    assert delivered_at.replace(tzinfo=None) == (sent_at + REPORT_AFTER).replace(tzinfo=None)
    with engine.connect() as connection:
        billed = connection.execute(
            select(records.ledger.c.channel, records.ledger.c.delivered_at)
        ).all()
    assert [(channel, at.replace(tzinfo=None)) for channel, at in billed] == [
        ("sms", (sent_at + REPORT_AFTER).replace(tzinfo=None))
    ]
