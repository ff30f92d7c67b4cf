"""A notify service over a scored, crafted history, on each database, on a virtual clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from delivery.clock import VirtualClock
from delivery.dispatching import TRY_AGAIN_AFTER
from delivery.notify import NotifyRequest, NotifyService
from ownership.channels import Channel
from ownership.notifications import Fallback
from ownership.policy import Policy
from pipelines.reference import load_countries, load_prices
from pipelines.snapshot import Snapshot
from store.clients import register_client
from store.secrets import SecretCipher
from tests.api.service import NOW, crafted_history, score_history
from tests.delivery.fakes import (
    FixedTemplate,
    RecordingSms,
    RecordingSocial,
    RecordingWebhooks,
    StaticTemplates,
)

ORDER_READY = FixedTemplate("tpl_order", "Ваш заказ #order# готов к выдаче", ("order",))


@pytest.fixture(scope="session")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return score_history(crafted_history(), tmp_path_factory.mktemp("notify"))


@dataclass
class Notifier:
    service: NotifyService
    clock: VirtualClock
    vk: RecordingSocial
    ok: RecordingSocial
    sms: RecordingSms
    webhooks: RecordingWebhooks
    client_key: str

    def request(self, phone: str, request_id: str = "r-1", **overrides: object) -> NotifyRequest:
        fields: dict[str, object] = {
            "request_id": request_id,
            "phone": phone,
            "template_id": ORDER_READY.id,
            "params": {"order": "A-17"},
            "action_type": "order",
            "action_at": self.clock.now() - timedelta(minutes=5),
            "ttl": timedelta(hours=1),
            "fallback": Fallback.SMS,
        } | overrides
        return NotifyRequest(**fields)  # type: ignore[arg-type]

    def notify(self, phone: str, request_id: str = "r-1", **overrides: object) -> str:
        accepted = self.service.accept(
            self.client_key, self.request(phone, request_id, **overrides)
        )
        self.service.dispatch_due()
        return str(accepted.answer["id"])

    def next_round(self) -> int:
        """A dispatch round once those the last one could not carry are due again."""
        self.clock.advance(TRY_AGAIN_AFTER)
        return self.service.dispatch_due()

    def status(self, notification_id: str) -> str:
        found = self.service.notification(self.client_key, notification_id)
        assert found is not None
        return str(found["status"])


@pytest.fixture
def notifier(
    engine: Engine, sessions: sessionmaker[Session], cipher: SecretCipher, scored: Path
) -> Iterator[Notifier]:
    with sessions.begin() as session:
        client = register_client(session, "bank", ["127.0.0.0/8"], cipher)
    clock = VirtualClock(NOW.replace(tzinfo=UTC))
    snapshot = Snapshot(scored / "snapshot.bin")
    vk, ok = RecordingSocial(Channel.VK), RecordingSocial(Channel.OK)
    sms, webhooks = RecordingSms(), RecordingWebhooks()
    service = NotifyService(
        engine,
        clock,
        lambda: snapshot,
        {Channel.VK: vk, Channel.OK: ok},
        sms,
        StaticTemplates({ORDER_READY.id: ORDER_READY}),
        load_countries(),
        load_prices(),
        Policy(),
        webhooks,
    )
    yield Notifier(service, clock, vk, ok, sms, webhooks, client.key)
