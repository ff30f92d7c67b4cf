"""A template is submitted and decided on the service's clock, the one its webhooks go by: on
the demo's faster clock, a decision stamped in real time would wait until that clock caught up
with it (hours) before its webhook went out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from delivery.templates import build_template_desk
from ownership.moderation import Decision, TemplateDraft
from pipelines.settings import load_settings
from store.clients import register_client
from store.secrets import SecretCipher

DEMO_START = datetime(2026, 11, 1, tzinfo=UTC)


def test_a_template_is_decided_on_the_demos_clock(
    sessions: sessionmaker[Session], cipher: SecretCipher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OWNERSHIP_CLOCK_SPEED", "60")
    monkeypatch.setenv("OWNERSHIP_CLOCK_ANCHOR", datetime.now(UTC).isoformat())
    monkeypatch.setenv("OWNERSHIP_CLOCK_START", DEMO_START.isoformat())
    with sessions.begin() as session:
        client = register_client(session, "bank", ["127.0.0.0/8"], cipher)
    desk = build_template_desk(load_settings(), sessions)
    draft = TemplateDraft.of("Ваш заказ #order# готов", "order_status", {"order": "A-17"})

    submitted = desk.submit(client.key, draft)
    decided = desk.decide(submitted.id, Decision.APPROVE, note=None, by="moderator")

    for moment in (submitted.created_at, decided.decided_at):
        assert moment is not None
        assert DEMO_START <= moment.astimezone(UTC) < DEMO_START + timedelta(hours=1)
