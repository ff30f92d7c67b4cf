"""The notify path end to end on a virtual clock, on SQLite and PostgreSQL: the real channel
simulators, the outbox, and webhooks that a client verifies with the standardwebhooks library,
retried after the client's endpoint fails."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks import Webhook

from delivery import records
from delivery.channels.sms_simulator import SmsSimulator
from delivery.clock import VirtualClock
from delivery.notify import NotifyRequest
from delivery.runtime import NotifyRuntime, build_notify_runtime
from delivery.templates import TemplateDesk
from delivery.webhooks.dispatcher import SendResult
from delivery.webhooks.fakes import RecordingWebhookSender, SentWebhook
from ownership.codes import ReverifyMethod
from ownership.moderation import Decision, TemplateDraft
from pipelines.moderation_rules import load_moderation_rules
from pipelines.settings import Settings, load_settings
from pipelines.snapshot import Snapshot
from store.clients import IssuedCredentials, register_client
from store.secrets import SecretCipher
from tests.api.service import NOW, RECYCLED, SUSPICIOUS, VERIFIED_FRESH

HOOKS = "https://bank.example/hooks"


@dataclass
class Flow:
    runtime: NotifyRuntime
    clock: VirtualClock
    client: IssuedCredentials
    template_id: str
    hooks: RecordingWebhookSender
    engine: Engine

    def notify(
        self,
        phone: str,
        request_id: str,
        sensitive: bool = False,
        callback_url: str | None = None,
        reverify: ReverifyMethod = ReverifyMethod.PROMPT,
        sms_validity: timedelta | None = None,
    ) -> str:
        request = NotifyRequest(
            request_id=request_id,
            phone=phone,
            template_id=self.template_id,
            params={"order": "A-17"},
            action_type="order",
            action_at=self.clock.now() - timedelta(minutes=5),
            ttl=timedelta(hours=1),
            sensitive=sensitive,
            callback_url=callback_url,
            reverify=reverify,
            sms_validity=sms_validity,
        )
        accepted = self.runtime.service.accept(self.client.key, request)
        return str(accepted.answer["id"])

    def run(self, minutes: float, step: float = 0.5) -> None:
        """Time passes: dispatch, channel events, the sweeper and webhooks, every step."""
        for _ in range(int(minutes / step)):
            self.runtime.service.dispatch_due()
            for simulator in self.runtime.channels.simulators:
                simulator.run_due()
            self.runtime.service.sweep()
            self.runtime.dispatcher.dispatch_due()
            self.clock.advance(timedelta(minutes=step))

    def history(self, notification_id: str) -> list[str]:
        found = self.runtime.service.notification(self.client.key, notification_id)
        assert found is not None
        return [step["status"] for step in found["history"]]


@pytest.fixture
def flow(
    engine: Engine, sessions: sessionmaker[Session], cipher: SecretCipher, scored: Path
) -> Iterator[Flow]:
    yield build_flow(engine, sessions, cipher, scored, load_settings())


def build_flow(
    engine: Engine,
    sessions: sessionmaker[Session],
    cipher: SecretCipher,
    scored: Path,
    settings: Settings,
) -> Flow:
    """A bank with an approved template, and the notify path over `scored` on a virtual clock."""
    with sessions.begin() as session:
        client = register_client(session, "bank", ["127.0.0.0/8"], cipher, webhook_url=HOOKS)
    desk = TemplateDesk(sessions, load_moderation_rules())
    submitted = desk.submit(
        client.key,
        TemplateDraft.of("Ваш заказ #order# готов к выдаче", "order_status", {"order": "A-17"}),
    )
    desk.decide(submitted.id, Decision.APPROVE, note=None, by="moderator")
    clock = VirtualClock(NOW.replace(tzinfo=UTC))
    snapshot = Snapshot(scored / "snapshot.bin")
    hooks = RecordingWebhookSender()
    runtime = build_notify_runtime(
        settings,
        engine,
        clock,
        lambda: snapshot,
        desk,
        history_dir=scored.parent / "events",
        webhook_sender=hooks,
        cipher=cipher,
    )
    return Flow(runtime, clock, client, submitted.id, hooks, engine)


def verified(flow: Flow, sent: SentWebhook) -> dict[str, object]:
    """The webhook as a client checks it: its signature, then its body."""
    assert flow.client.webhook_secret is not None
    payload: dict[str, object] = Webhook(flow.client.webhook_secret).verify(
        sent.body, dict(sent.headers)
    )
    return payload


def test_a_notification_is_delivered_read_billed_and_told_by_signed_webhooks(flow: Flow) -> None:
    flow.runtime.channels.vk.script_delivery(  # type: ignore[attr-defined]
        VERIFIED_FRESH, timedelta(seconds=40), read_after=timedelta(minutes=3)
    )

    sent = flow.notify(VERIFIED_FRESH, "e2e-1", sensitive=True)
    flow.run(minutes=5)

    assert flow.history(sent) == ["accepted", "sent", "delivered", "read"]
    with flow.engine.connect() as connection:
        billed = connection.execute(select(records.ledger.c.channel)).scalars().all()
    assert billed == ["vk"]
    statuses = [
        verified(flow, hook)["data"]["status"]  # type: ignore[index]
        for hook in flow.hooks.sent
    ]
    assert statuses == ["sent", "delivered", "read"]
    assert {hook.url for hook in flow.hooks.sent} == {HOOKS}


def test_the_webhooks_of_a_callback_url_go_out_as_named_by_the_client(flow: Flow) -> None:
    callback = "https://shop.example/orders/17/hooks"

    flow.notify(VERIFIED_FRESH, "e2e-callback", callback_url=callback)
    flow.notify(RECYCLED, "e2e-registered")
    flow.run(minutes=2)

    sent = {(hook.url, hook.named_by_client) for hook in flow.hooks.sent}
    assert sent == {(callback, True), (HOOKS, False)}


def test_a_denied_reverification_goes_by_sms_and_is_kept_for_the_batch(flow: Flow) -> None:
    flow.runtime.channels.ok.script_answer(  # type: ignore[attr-defined]
        SUSPICIOUS, "denied", timedelta(minutes=1)
    )
    flow.runtime.channels.sms.script_delivery(SUSPICIOUS, timedelta(seconds=20))  # type: ignore[attr-defined]

    asked = flow.notify(SUSPICIOUS, "e2e-2", sensitive=True)
    flow.run(minutes=3)

    assert flow.history(asked) == ["accepted", "reverify_pending", "sms_sent", "sms_delivered"]
    with flow.engine.connect() as connection:
        kept = connection.execute(
            select(records.verifications.c.phone, records.verifications.c.result)
        ).all()
    assert [tuple(row) for row in kept] == [(SUSPICIOUS, "denied")]


def kept_results(flow: Flow) -> list[tuple[str, str, str]]:
    table = records.verifications
    with flow.engine.connect() as connection:
        kept = connection.execute(select(table.c.phone, table.c.method, table.c.result))
        return [tuple(row) for row in kept]


def test_the_simulated_sim_holder_enters_the_code_the_sms_simulator_delivered(flow: Flow) -> None:
    flow.runtime.channels.ok.script_answer(  # type: ignore[attr-defined]
        SUSPICIOUS, "confirmed", timedelta(seconds=30)
    )
    flow.runtime.channels.ok.script_delivery(  # type: ignore[attr-defined]
        SUSPICIOUS, timedelta(seconds=10)
    )
    flow.runtime.channels.sms.script_delivery(SUSPICIOUS, timedelta(seconds=5))  # type: ignore[attr-defined]

    asked = flow.notify(SUSPICIOUS, "e2e-code-1", sensitive=True, reverify=ReverifyMethod.SMS_CODE)
    flow.run(minutes=10)  # the code is entered a while after its SMS came

    assert flow.history(asked) == ["accepted", "reverify_pending", "sent", "delivered"]
    assert kept_results(flow) == [(SUSPICIOUS, "sms_code", "confirmed")]
    with flow.engine.connect() as connection:
        billed = connection.execute(select(records.ledger.c.channel)).scalars().all()
    assert billed == ["ok"]  # the code's SMS, delivered too, is billed to no one
    sms = flow.runtime.channels.sms
    assert len(sms.sent) == 1 and sms.notifications_sent == []  # type: ignore[attr-defined]
    # the client heard what a Yes/No prompt tells, and never the code
    statuses = [json.loads(hook.body)["data"]["status"] for hook in flow.hooks.sent]
    assert statuses == ["reverify_pending", "sent", "delivered"]
    code = sms.sent[0].text.split()[1]  # type: ignore[attr-defined]
    assert not any(code in hook.body.decode() for hook in flow.hooks.sent)


def test_a_simulated_stranger_to_the_sim_fails_the_code_and_it_goes_by_sms(flow: Flow) -> None:
    flow.runtime.channels.ok.script_answer(  # type: ignore[attr-defined]
        SUSPICIOUS, "denied", timedelta(seconds=30)
    )
    flow.runtime.channels.sms.script_delivery(SUSPICIOUS, timedelta(seconds=5))  # type: ignore[attr-defined]

    asked = flow.notify(SUSPICIOUS, "e2e-code-2", sensitive=True, reverify=ReverifyMethod.SMS_CODE)
    flow.run(minutes=30)

    assert flow.history(asked) == ["accepted", "reverify_pending", "sms_sent", "sms_delivered"]
    assert kept_results(flow) == [(SUSPICIOUS, "sms_code", "failed")]
    regular = flow.notify(SUSPICIOUS, "e2e-code-3")  # no denial: still its owner's number
    flow.run(minutes=1)
    assert flow.history(regular)[:2] == ["accepted", "sent"]


def test_webhooks_are_retried_after_the_clients_endpoint_fails(flow: Flow) -> None:
    calls = itertools.count(1)
    answers: dict[str, list[int]] = defaultdict(list)

    def down_for_two_calls(sent: SentWebhook) -> SendResult:
        answer = SendResult(503 if next(calls) <= 2 else 200)
        answers[sent.event_id].append(answer.status_code or 0)
        return answer

    flow.hooks.answer = down_for_two_calls
    flow.notify(RECYCLED, "e2e-3")
    flow.run(minutes=3)

    # the endpoint was down, then every event went through, once each
    assert sorted(code for codes in answers.values() for code in codes if code != 200) == [503] * 2
    assert len(answers) > 1 and all(codes[-1] == 200 for codes in answers.values())
    assert all(codes.count(200) == 1 for codes in answers.values())
    bodies = {hook.event_id: hook.body for hook in flow.hooks.sent}
    assert all(
        json.loads(hook.body) == json.loads(bodies[hook.event_id]) for hook in flow.hooks.sent
    )


def test_a_phone_back_only_after_its_sms_validity_never_gets_the_sms(flow: Flow) -> None:
    sms = flow.runtime.channels.sms
    assert isinstance(sms, SmsSimulator)
    sms.script_delivery(RECYCLED, after=timedelta(minutes=50))  # the phone off until then
    sent = flow.notify(RECYCLED, "phone-off", sms_validity=timedelta(minutes=20))  # by SMS

    flow.run(minutes=60, step=5)

    assert flow.history(sent) == ["accepted", "sms_sent", "sms_failed"]
    found = flow.runtime.service.notification(flow.client.key, sent)
    assert found is not None
    assert found["history"][-1]["detail"]["error"] == "expired"


def test_a_phone_back_within_its_sms_validity_gets_the_sms(flow: Flow) -> None:
    sms = flow.runtime.channels.sms
    assert isinstance(sms, SmsSimulator)
    sms.script_delivery(RECYCLED, after=timedelta(minutes=15))
    sent = flow.notify(RECYCLED, "phone-back", sms_validity=timedelta(minutes=20))

    flow.run(minutes=30, step=5)

    assert flow.history(sent) == ["accepted", "sms_sent", "sms_delivered"]


def test_a_delivery_report_hours_after_the_hand_over_within_the_validity_is_taken_and_billed(
    flow: Flow,
) -> None:
    sms = flow.runtime.channels.sms
    assert isinstance(sms, SmsSimulator)
    # the phone off for two hours, longer than the report time-out, within the ten hours of
    # the service's validity, which the gateway was told
    sms.script_delivery(RECYCLED, after=timedelta(hours=2))
    sent = flow.notify(RECYCLED, "phone-off-for-hours")

    flow.run(minutes=150, step=5)

    assert flow.history(sent) == ["accepted", "sms_sent", "sms_delivered"]
    with flow.engine.connect() as connection:
        billed = connection.execute(
            select(records.ledger.c.channel).where(records.ledger.c.notification_id == sent)
        )
        assert billed.scalars().all() == ["sms"]


def test_an_sms_whose_validity_runs_out_before_its_phone_is_back_is_reported_expired(
    flow: Flow,
) -> None:
    sms = flow.runtime.channels.sms
    assert isinstance(sms, SmsSimulator)
    sms.script_delivery(RECYCLED, after=timedelta(hours=3))
    handed_over = flow.clock.now()
    sent = flow.notify(RECYCLED, "phone-off-past-validity", sms_validity=timedelta(hours=2))

    flow.run(minutes=200, step=5)

    found = flow.runtime.service.notification(flow.client.key, sent)
    assert found is not None
    assert [step["status"] for step in found["history"]] == ["accepted", "sms_sent", "sms_failed"]
    # at the end of its two hours, as the gateway reports it, not "no delivery report" at one
    assert found["history"][-1]["detail"]["error"] == "expired"
    assert found["history"][-1]["at"] - handed_over < timedelta(hours=2, minutes=5)
