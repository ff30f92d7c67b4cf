"""`ownership clients webhooks [NAME]`: what an operator sees of a client whose webhooks do not
arrive: the waits that hold its events back, and its backlog in the outbox, at a moment of the
dispatchers' clock that the answer names."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from delivery.clock import AnchoredClock, VirtualClock
from delivery.webhooks import SendResult
from delivery.webhooks.endpoints import EndpointWait, remember_wait
from delivery.webhooks.fakes import RecordingWebhookSender, SentWebhook
from pipelines.cli import main
from store.clients import set_webhook_url
from store.database import session_factory
from store.secrets import SecretCipher
from tests.delivery.webhook_helpers import SHOP_HOOKS, START, dispatcher, enqueue_status

BANK_OFFICE = "203.0.113.0/24"
BANK_HOOKS = "https://bank.example/hooks"
OLD_SHOP_HOOKS = "https://shop.example/old-hooks"
SLOW_DOWN = SendResult(429, "HTTP 429: slow down", retry_after=timedelta(minutes=5))
CLOCK_SETTINGS = ("OWNERSHIP_CLOCK_SPEED", "OWNERSHIP_CLOCK_ANCHOR", "OWNERSHIP_CLOCK_START")


@pytest.fixture(autouse=True)
def real_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command on the system clock, unless a test sets another."""
    for variable in CLOCK_SETTINGS:
        monkeypatch.delenv(variable, raising=False)


def add(capsys: pytest.CaptureFixture[str], name: str, *options: str) -> str:
    """Register a client; its key."""
    assert main(["clients", "add", name, "--allow-ip", BANK_OFFICE, *options]) == 0
    key: str = json.loads(capsys.readouterr().out)["key"]
    return key


def webhooks(capsys: pytest.CaptureFixture[str], *name: str) -> list[dict[str, Any]]:
    """The clients shown."""
    clients: list[dict[str, Any]] = answer(capsys, *name)["clients"]
    return clients


def answer(capsys: pytest.CaptureFixture[str], *name: str) -> dict[str, Any]:
    """The whole answer: `now` and the clients; nothing on stderr."""
    assert main(["clients", "webhooks", *name]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    shown: dict[str, Any] = json.loads(captured.out)
    return shown


def utc(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def a_second_ago() -> datetime:
    """A whole second now past: what is due then is due at the command's `now` too."""
    return datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)


def shop_asked_to_wait(
    engine: Engine, secret_key: str, capsys: pytest.CaptureFixture[str]
) -> tuple[str, datetime]:
    """The shop, whose endpoint answered the first of its 3 events 429 with a Retry-After of
    5 minutes, then had a 4th event queued; its key and when (a second ago, in real time)."""
    shop = add(capsys, "shop", "--webhook-url", SHOP_HOOKS)
    now = a_second_ago()
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

    before = datetime.now(UTC).replace(microsecond=0)
    shown = answer(capsys)

    assert before <= datetime.fromisoformat(shown["now"]) <= datetime.now(UTC)
    assert shown["clients"] == [
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
                    "holds": 4,  # every pending event of the shop's goes there
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
    fields = ("now", "clients", "key", "disabled", "webhook_url", "until", "asked_until")
    for field in (*fields, "reason", "holds", "pending", "due", "next_attempt_at"):
        assert re.search(rf"\b{field}\b", shown), field
    assert "on the dispatchers' clock" in shown
    assert "OWNERSHIP_CLOCK_ANCHOR" in shown
    assert "ownership clients set-webhook NAME URL" in shown
    # what that leaves as it was
    assert "the events they already put off keep their next attempt" in shown
    assert "backlog.next_attempt_at" in shown


def test_the_answer_names_the_moment_of_the_workers_clock_it_judged_at(
    secret_key: str,
    engine: Engine,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    anchor = datetime.now(UTC) - timedelta(minutes=10)  # a worker's, as a demo's started then
    for variable, value in zip(
        CLOCK_SETTINGS, ("60", anchor.isoformat(), START.isoformat()), strict=True
    ):
        monkeypatch.setenv(variable, value)
    workers = AnchoredClock(60, anchor, START)
    shop = add(capsys, "shop", "--webhook-url", SHOP_HOOKS)
    worker_now = workers.now()  # some 10 hours past START
    enqueue_status(engine, shop, worker_now - timedelta(minutes=1))
    with engine.begin() as connection:
        ended = EndpointWait(worker_now - timedelta(minutes=1), None, "no answer")
        remember_wait(connection, client_key=shop, url=OLD_SHOP_HOOKS, wait=ended)
        live = EndpointWait(worker_now + timedelta(hours=1), None, "no answer")
        remember_wait(connection, client_key=shop, url=SHOP_HOOKS, wait=live)

    shown = answer(capsys)

    judged_at = datetime.fromisoformat(shown["now"])
    assert worker_now.replace(microsecond=0) <= judged_at <= workers.now()
    (client,) = shown["clients"]
    assert [wait["url"] for wait in client["waits"]] == [SHOP_HOOKS]
    assert client["backlog"]["due"] == 1


def test_a_sped_up_clock_without_an_anchor_is_said_to_be_the_commands_own(
    secret_key: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    add(capsys, "shop", "--webhook-url", SHOP_HOOKS)
    monkeypatch.setenv("OWNERSHIP_CLOCK_SPEED", "60")  # a worker's started with the worker

    assert main(["clients", "webhooks"]) == 0

    captured = capsys.readouterr()
    assert json.loads(captured.out)["clients"][0]["name"] == "shop"  # stdout: the JSON alone
    (note,) = captured.err.splitlines()
    assert "this command's own clock" in note
    assert "give OWNERSHIP_CLOCK_ANCHOR and OWNERSHIP_CLOCK_START as the worker has them" in note


def test_a_wait_left_on_the_url_the_client_moved_from_holds_none_of_its_events(
    secret_key: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    shop = add(capsys, "shop", "--webhook-url", OLD_SHOP_HOOKS)
    now = a_second_ago()
    enqueue_status(engine, shop, now, url=OLD_SHOP_HOOKS)

    def moved_meanwhile(_: SentWebhook) -> SendResult:
        with session_factory(engine).begin() as session:  # the operator, while it is in flight
            set_webhook_url(session, "shop", SHOP_HOOKS)
        return SendResult(503, "HTTP 503: maintenance", retry_after=timedelta(hours=1))

    sender = RecordingWebhookSender(moved_meanwhile)
    dispatcher(engine, SecretCipher([secret_key]), sender, VirtualClock(now)).dispatch_due()
    enqueue_status(engine, shop, now, url=SHOP_HOOKS)

    (shown,) = webhooks(capsys, "shop")

    # recorded by the batch that sent there, but both events go to the new URL now
    assert [(wait["url"], wait["holds"]) for wait in shown["waits"]] == [(OLD_SHOP_HOOKS, 0)]
    assert shown["backlog"] == {"pending": 2, "due": 1, "next_attempt_at": utc(now)}


def test_times_are_rounded_up_to_the_second_a_wait_never_shown_ending_sooner(
    secret_key: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    bank = add(capsys, "bank", "--webhook-url", BANK_HOOKS)
    later = a_second_ago() + timedelta(hours=1, milliseconds=250)
    enqueue_status(engine, bank, later, url=BANK_HOOKS)
    with engine.begin() as connection:
        wait = EndpointWait(later, later, "HTTP 503")
        remember_wait(connection, client_key=bank, url=BANK_HOOKS, wait=wait)

    (shown,) = webhooks(capsys, "bank")

    next_second = utc(later.replace(microsecond=0) + timedelta(seconds=1))
    assert (shown["waits"][0]["until"], shown["waits"][0]["asked_until"]) == (2 * (next_second,))
    assert shown["backlog"]["next_attempt_at"] == next_second
