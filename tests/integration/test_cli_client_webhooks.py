"""`ownership clients webhooks [NAME]`: what an operator sees of a client whose webhooks do not
arrive: the waits that hold its events back, and its backlog in the outbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from delivery.clock import VirtualClock
from delivery.webhooks import SendResult
from delivery.webhooks.endpoints import EndpointWait, remember_wait
from delivery.webhooks.fakes import RecordingWebhookSender
from pipelines.cli import main
from store.secrets import SecretCipher
from tests.delivery.webhook_helpers import SHOP_HOOKS, dispatcher, enqueue_status

BANK_OFFICE = "203.0.113.0/24"
BANK_HOOKS = "https://bank.example/hooks"
SLOW_DOWN = SendResult(429, "HTTP 429: slow down", retry_after=timedelta(minutes=5))


def add(capsys: pytest.CaptureFixture[str], name: str, *options: str) -> str:
    """Register a client; its key."""
    assert main(["clients", "add", name, "--allow-ip", BANK_OFFICE, *options]) == 0
    key: str = json.loads(capsys.readouterr().out)["key"]
    return key


def webhooks(capsys: pytest.CaptureFixture[str], *name: str) -> list[dict[str, Any]]:
    assert main(["clients", "webhooks", *name]) == 0
    shown: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return shown


def utc(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def shop_asked_to_wait(
    engine: Engine, secret_key: str, capsys: pytest.CaptureFixture[str]
) -> tuple[str, datetime]:
    """The shop, whose endpoint answered the first of its 3 events 429 with a Retry-After of
    5 minutes, then had a 4th event queued; its key and when (now, in real time)."""
    shop = add(capsys, "shop", "--webhook-url", SHOP_HOOKS)
    now = datetime.now(UTC)
    for _ in range(3):
        enqueue_status(engine, shop, now)
    sender = RecordingWebhookSender(lambda _: SLOW_DOWN)
    cipher = SecretCipher([secret_key])
    dispatcher(engine, cipher, sender, VirtualClock(now), concurrency=1).dispatch_due()
    enqueue_status(engine, shop, now)
    return shop, now


def test_a_stuck_clients_webhooks_show_its_endpoints_wait_and_its_backlog(
    secret_key: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    bank = add(capsys, "bank")
    shop, asked_at = shop_asked_to_wait(engine, secret_key, capsys)

    shown = webhooks(capsys)

    assert shown == [
        {
            "name": "bank",
            "key": bank,
            "webhook_url": None,
            "disabled": False,
            "waits": [],
            "backlog": {"pending": 0, "due": 0, "next_attempt_at": None},
        },
        {
            "name": "shop",
            "key": shop,
            "webhook_url": SHOP_HOOKS,
            "disabled": False,
            "waits": [
                {
                    "url": SHOP_HOOKS,
                    "until": utc(asked_at + timedelta(minutes=5)),
                    "asked_until": utc(asked_at + timedelta(minutes=5)),
                    "reason": "HTTP 429: slow down",
                }
            ],
            # the 3 put off with the wait, and the one queued since, due (held back if claimed)
            "backlog": {"pending": 4, "due": 1, "next_attempt_at": utc(asked_at)},
        },
    ]


def test_a_wait_that_is_over_is_not_shown(
    secret_key: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    bank = add(capsys, "bank", "--webhook-url", BANK_HOOKS)
    ended = EndpointWait(datetime.now(UTC) - timedelta(seconds=1), None, "no answer")
    with engine.begin() as connection:  # not yet forgotten by the dispatcher's sweep
        remember_wait(connection, client_key=bank, url=BANK_HOOKS, wait=ended)

    assert webhooks(capsys, "bank")[0]["waits"] == []


def test_a_clients_webhooks_are_shown_alone_by_its_name(
    secret_key: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    add(capsys, "bank")
    shop, _ = shop_asked_to_wait(engine, secret_key, capsys)

    shown = webhooks(capsys, "shop")

    assert [(client["name"], client["key"]) for client in shown] == [("shop", shop)]
    assert shown[0]["backlog"]["pending"] == 4


def test_setting_the_url_again_lifts_the_waits_shown_and_keeps_the_backlog(
    secret_key: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    shop_asked_to_wait(engine, secret_key, capsys)
    before = webhooks(capsys, "shop")[0]

    assert main(["clients", "set-webhook", "shop", SHOP_HOOKS]) == 0
    capsys.readouterr()
    after = webhooks(capsys, "shop")[0]

    assert (len(before["waits"]), after["waits"]) == (1, [])
    assert after["backlog"] == before["backlog"]


def test_an_unknown_name_is_a_one_line_error(
    secret_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    add(capsys, "bank")

    assert main(["clients", "webhooks", "nobody"]) == 2

    captured = capsys.readouterr()
    assert "no client is named 'nobody'" in captured.err
    assert "Traceback" not in captured.err and captured.out == ""


def test_the_help_says_what_each_field_means_and_how_to_lift_a_wait(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["clients", "webhooks", "--help"])

    shown = " ".join(capsys.readouterr().out.split())
    for field in ("until", "asked_until", "reason", "pending", "due", "next_attempt_at"):
        assert field in shown
    assert "ownership clients set-webhook NAME URL" in shown
