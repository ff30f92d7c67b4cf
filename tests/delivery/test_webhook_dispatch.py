"""Webhooks from the outbox to the client's endpoint, on SQLite and PostgreSQL: signed as the
standard says, retried with back-off for a day, durable across restarts, exclusive per claim."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from delivery.clock import SystemClock, VirtualClock
from delivery.http_deadline import is_public
from delivery.ports import ClientEvent
from delivery.webhooks import (
    HttpWebhookSender,
    SendResult,
    TemplateModerated,
    WebhookDispatcher,
    enqueue,
    enqueue_event,
    webhook_of,
)
from delivery.webhooks.events import NotificationReplied
from delivery.webhooks.fakes import RecordingWebhookSender, SentWebhook
from delivery.webhooks.outbox import OutboxWebhooks, claim_due, event_id_of
from store.clients import register_client
from store.database import make_engine, session_factory
from store.secrets import SecretCipher
from store.tables import ClientRow
from store.tables_webhooks import WebhookDeliveryRow
from tests.delivery.webhook_helpers import (
    SHOP_HOOKS,
    START,
    STATUS_DELIVERED,
    CountingSender,
    delivery_row,
    dispatcher,
    dripping,
    enqueue_status,
    loopback_sender,
    notification_calling_back,
    proxy_answering_200,
    receiving,
    register_shop,
)


def failing_first(failures: int, status: int = 500) -> RecordingWebhookSender:
    """A client endpoint that answers `status` to the first `failures` attempts, then 200."""
    sender = RecordingWebhookSender()
    sender.answer = lambda _sent: SendResult(status if len(sender.sent) <= failures else 200)
    return sender


def attempts_until_settled(
    engine: Engine, clock: VirtualClock, event_id: str, send: Callable[[], int]
) -> list[float]:
    """Dispatch whenever the event is next due; the attempt times, in seconds from START."""
    times = []
    while (row := delivery_row(engine, event_id)).state == "pending":
        clock.set(max(clock.now(), row.next_attempt_at))
        assert send() == 1
        times.append((clock.now() - START).total_seconds())
    return times


def test_a_delivery_verifies_with_the_standards_library_as_the_client_does(
    engine: Engine, cipher: SecretCipher
) -> None:
    clock = VirtualClock(datetime.now(UTC))  # the client checks the timestamp against its own
    with receiving() as receiver:
        shop = register_shop(engine, cipher, webhook_url=receiver.url)
        assert shop.webhook_secret is not None
        ids = [enqueue_status(engine, shop.key, clock.now(), url=receiver.url) for _ in range(3)]
        sender = loopback_sender(2.0)
        try:
            assert dispatcher(engine, cipher, sender, clock).dispatch_due() == 3
        finally:
            sender.close()

    assert sorted(r.headers["webhook-id"] for r in receiver.received) == sorted(ids)
    for received in receiver.received:
        envelope = Webhook(shop.webhook_secret).verify(received.body, received.headers)
        assert envelope["type"] == "notification.status"
        assert envelope["data"] == STATUS_DELIVERED
        assert received.headers["content-type"] == "application/json"
    assert {delivery_row(engine, i).state for i in ids} == {"delivered"}
    assert delivery_row(engine, ids[0]).last_status_code == 204


def test_a_failing_endpoint_is_retried_with_back_off_until_it_answers(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    clock = VirtualClock(START)
    sender = failing_first(3)
    event_id = enqueue_status(engine, shop.key, START)
    send = dispatcher(engine, cipher, sender, clock).dispatch_due

    assert attempts_until_settled(engine, clock, event_id, send) == [0, 5, 35, 155]

    row = delivery_row(engine, event_id)
    assert (row.state, row.attempts, row.last_status_code) == ("delivered", 4, 200)
    assert {sent.event_id for sent in sender.sent} == {event_id}  # one id to de-duplicate by
    assert len({sent.headers["webhook-timestamp"] for sent in sender.sent}) == 4
    assert len({sent.body for sent in sender.sent}) == 1


def test_nothing_is_sent_before_the_next_attempt_is_due(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    clock = VirtualClock(START)
    enqueue_status(engine, shop.key, START)
    send = dispatcher(engine, cipher, failing_first(5), clock).dispatch_due

    assert send() == 1
    clock.advance(timedelta(seconds=4.9))
    assert send() == 0
    clock.advance(timedelta(seconds=0.1))
    assert send() == 1


def test_an_endpoint_down_for_a_day_is_given_up_after_24_hours(
    engine: Engine, cipher: SecretCipher, caplog: pytest.LogCaptureFixture
) -> None:
    shop = register_shop(engine, cipher)
    clock = VirtualClock(START)
    sender = RecordingWebhookSender(lambda _sent: SendResult(503))
    event_id = enqueue_status(engine, shop.key, START)
    send = dispatcher(engine, cipher, sender, clock).dispatch_due

    with caplog.at_level(logging.WARNING, logger="delivery.webhooks.dispatcher"):
        times = attempts_until_settled(engine, clock, event_id, send)

    assert len(times) == 11 and times[-1] <= 24 * 3600
    row = delivery_row(engine, event_id)
    assert (row.state, row.attempts, row.last_status_code) == ("given_up", 11, 503)
    assert row.finished_at == START + timedelta(seconds=times[-1])
    assert f"webhook {event_id}" in caplog.text and "given up after 11 attempts" in caplog.text
    clock.advance(timedelta(days=2))
    assert send() == 0


def test_an_unreachable_endpoint_is_a_failure_like_any_other(
    engine: Engine, cipher: SecretCipher
) -> None:
    # port 9 of the loopback (discard) refuses the connection at once
    shop = register_shop(engine, cipher, webhook_url="http://127.0.0.1:9/hooks")
    clock = VirtualClock(START)
    event_id = enqueue_status(engine, shop.key, START, url="http://127.0.0.1:9/hooks")
    sender = loopback_sender(1.0)
    try:
        assert dispatcher(engine, cipher, sender, clock).dispatch_due() == 1
    finally:
        sender.close()

    row = delivery_row(engine, event_id)
    assert (row.state, row.attempts, row.last_status_code) == ("pending", 1, None)
    assert row.last_error is not None and "ConnectError" in row.last_error
    assert row.next_attempt_at == START + timedelta(seconds=5)


def dispatch_over_http(
    engine: Engine, cipher: SecretCipher, sender: HttpWebhookSender, clock: VirtualClock
) -> None:
    try:
        assert dispatcher(engine, cipher, sender, clock).dispatch_due() == 1
    finally:
        sender.close()


def test_a_callback_url_whose_name_leads_into_a_private_network_is_not_posted_to(
    engine: Engine, cipher: SecretCipher
) -> None:
    # the API refuses private addresses and `localhost` as written; any other name of one
    # is judged by the addresses it resolves to, when the webhook is sent
    shop = register_shop(engine, cipher)
    with receiving() as receiver:
        named = receiver.url.replace("127.0.0.1", "localhost")
        notification_calling_back(engine, shop.key, named)
        event_id = enqueue_status(engine, shop.key, START, url=named)
        dispatch_over_http(engine, cipher, HttpWebhookSender.with_timeout(1.0), VirtualClock(START))

    assert receiver.received == []
    row = delivery_row(engine, event_id)
    assert (row.state, row.attempts, row.last_status_code) == ("pending", 1, None)
    assert row.last_error is not None
    assert "localhost is not a public address (127.0.0.1" in row.last_error


@pytest.mark.parametrize(
    "proxies",
    [
        {"HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "localhost"},
        {"HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "localhost:{port}"},
        {"HTTPS_PROXY": "http://127.0.0.1:9"},  # plain http goes direct
    ],
    ids=["bypassed by name", "bypassed by name and port", "a proxy for https only"],
)
def test_behind_a_proxy_a_callback_that_goes_direct_is_still_checked(
    engine: Engine, cipher: SecretCipher, monkeypatch: pytest.MonkeyPatch, proxies: dict[str, str]
) -> None:
    shop = register_shop(engine, cipher)
    with receiving() as receiver:
        named = receiver.url.replace("127.0.0.1", "localhost")
        for name, value in proxies.items():  # nothing listens on the proxy's port
            monkeypatch.setenv(name, value.format(port=httpx.URL(named).port))
        notification_calling_back(engine, shop.key, named)
        event_id = enqueue_status(engine, shop.key, START, url=named)
        dispatch_over_http(engine, cipher, HttpWebhookSender.with_timeout(1.0), VirtualClock(START))

    assert receiver.received == []
    last_error = delivery_row(engine, event_id).last_error
    assert last_error is not None and "localhost is not a public address" in last_error


def test_behind_a_proxy_a_callback_goes_through_the_proxy(
    engine: Engine, cipher: SecretCipher, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = register_shop(engine, cipher)
    callback = "http://shop.example/hooks"  # resolved by the proxy, never here
    with proxy_answering_200() as (proxy, asked):
        monkeypatch.setenv("HTTP_PROXY", proxy)
        notification_calling_back(engine, shop.key, callback)
        event_id = enqueue_status(engine, shop.key, START, url=callback)
        dispatch_over_http(engine, cipher, HttpWebhookSender.with_timeout(2.0), VirtualClock(START))

    assert asked == [f"POST {callback} HTTP/1.1"]
    assert delivery_row(engine, event_id).state == "delivered"


def test_a_client_naming_another_clients_registered_url_holds_only_its_own_events_back(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    with receiving() as receiver:
        with session_factory(engine).begin() as session:
            bank = register_client(
                session, "bank", ["203.0.113.0/24"], cipher, webhook_url=receiver.url
            )
        notification_calling_back(engine, shop.key, receiver.url)  # the shop's ntf_1
        shops = enqueue_status(engine, shop.key, START, url=receiver.url)
        banks = enqueue_status(
            engine, bank.key, START, url=receiver.url, notification_id="ntf_2", status="sent"
        )
        sender = HttpWebhookSender.with_timeout(1.0)
        try:
            assert dispatcher(engine, cipher, sender, VirtualClock(START)).dispatch_due() == 2
        finally:
            sender.close()

    assert [hook.headers["webhook-id"] for hook in receiver.received] == [banks]
    assert delivery_row(engine, shops).state == "pending"


def test_the_webhook_url_the_operator_registered_may_be_on_a_private_network(
    engine: Engine, cipher: SecretCipher
) -> None:
    with receiving() as receiver:
        with session_factory(engine).begin() as session:
            shop = register_client(
                session, "shop", ["203.0.113.0/24"], cipher, webhook_url=receiver.url
            )
        event_id = enqueue_status(engine, shop.key, START, url=receiver.url)
        dispatch_over_http(engine, cipher, HttpWebhookSender.with_timeout(1.0), VirtualClock(START))

    assert len(receiver.received) == 1
    assert delivery_row(engine, event_id).state == "delivered"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "169.254.169.254",  # the clouds' metadata service
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "::1",
        "fe80::1%eth0",
        "fd00::1",
        "::ffff:10.0.0.1",  # IPv4-mapped
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, client 10.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1, as a DNS64 resolver answers
        "64:ff9b:1::a9fe:a9fe",  # a network's own NAT64 prefix
        "::127.0.0.1",  # IPv4-compatible
        "::ffff:0:7f00:1",  # IPv4-translated
        "224.0.0.1",  # multicast groups, no host
        "239.255.255.250",
        "ff0e::1",
        "::ffff:224.0.0.1",
        # not globally reachable by IANA's registries, global by Python 3.11's tables
        "192.0.0.8",  # IETF protocol assignments
        "::ffff:192.0.0.8",
        "fec0::1",  # site-local
        "3fff::1",  # documentation
        "5f00::1",  # SRv6 segment identifiers
    ],
)
def test_addresses_inside_private_networks_are_not_public(address: str) -> None:
    assert not is_public(address)


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "64:ff9b::5db8:d70e"]
)
def test_addresses_on_the_internet_are_public(address: str) -> None:
    assert is_public(address)


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(b"HTTP/1.1 200 OK\r\nx-padding: " + b"." * 200, id="headers a byte at a time"),
        pytest.param(
            b"HTTP/1.1 500 Oops\r\ncontent-length: 200\r\n\r\n" + b"." * 200,
            id="a failure's body a byte at a time",
        ),
    ],
)
def test_an_endpoint_answering_a_byte_at_a_time_is_cut_off_at_the_timeout(
    engine: Engine, cipher: SecretCipher, answer: bytes
) -> None:
    # every byte comes within the read timeout: only a deadline on the whole attempt ends it
    clock = VirtualClock(START)
    with dripping(answer) as url:
        shop = register_shop(engine, cipher, webhook_url=url)
        event_id = enqueue_status(engine, shop.key, START, url=url)
        sender = loopback_sender(1.0)
        try:
            assert dispatcher(engine, cipher, sender, clock).dispatch_due() == 1
        finally:
            sender.close()

    row = delivery_row(engine, event_id)
    assert (row.state, row.attempts) == ("pending", 1)
    assert row.last_error == "no complete answer within 1 s"


def after_a_reply(
    engine: Engine, cipher: SecretCipher, status: bytes, reply: bytes
) -> WebhookDeliveryRow:
    """The outbox's row of an event whose endpoint answered `status` with `reply`."""
    answer = b"HTTP/1.1 %s\r\ncontent-length: %d\r\n\r\n%s" % (status, len(reply), reply)
    with dripping(answer, every=0) as url:
        shop = register_shop(engine, cipher, webhook_url=url)
        event_id = enqueue_status(engine, shop.key, START, url=url)
        sender = loopback_sender(2.0)
        try:
            dispatcher(engine, cipher, sender, VirtualClock(START)).dispatch_due()
        finally:
            sender.close()
    return delivery_row(engine, event_id)


def test_a_failing_endpoints_reply_is_kept_in_part_to_show_why(
    engine: Engine, cipher: SecretCipher
) -> None:
    reply = b"quota exceeded " * 1000

    row = after_a_reply(engine, cipher, b"429 Too Many", reply)

    assert (row.state, row.last_status_code) == ("pending", 429)
    assert row.last_error == "HTTP 429: " + reply.decode()[:200]


def test_a_reply_cannot_write_lines_into_the_services_log(
    engine: Engine, cipher: SecretCipher
) -> None:
    forged = "busy\n2026-11-29 06:00:00,000 CRITICAL api.auth rotate all keys\r\x1b[2J\u2028\u202e"

    kept = after_a_reply(engine, cipher, b"503 Busy", forged.encode()).last_error

    assert kept == (
        "HTTP 503: busy\\n2026-11-29 06:00:00,000 CRITICAL api.auth rotate all keys"
        "\\r\\x1b[2J\\u2028\\u202e"
    )
    assert kept.isprintable()


def test_an_event_queued_again_under_its_id_is_one_event(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    reply = NotificationReplied(notification_id="ntf_1", text="Спасибо!", at=START)
    event_id = event_id_of("reply", "ntf_1", START.isoformat(), "Спасибо!")
    outbox = OutboxWebhooks()

    for _ in range(2):
        with engine.begin() as connection:
            outbox.enqueue(connection, [ClientEvent(shop.key, None, reply, event_id)], START)

    with Session(engine) as session:
        queued = session.scalars(select(WebhookDeliveryRow.event_id)).all()
    assert queued == [event_id]


def test_a_client_whose_secret_the_key_cannot_open_holds_no_other_client_back(
    engine: Engine,
) -> None:
    current, dropped = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    cipher = SecretCipher([current])
    shop = register_shop(engine, cipher)
    # sealed under a key given first then, and dropped since
    old = register_shop(engine, SecretCipher([dropped, current]), name="old")
    clock = VirtualClock(START)
    sealed_away = enqueue_status(engine, old.key, START)
    fine = enqueue_status(engine, shop.key, START)
    sender = RecordingWebhookSender()

    assert dispatcher(engine, cipher, sender, clock).dispatch_due() == 2

    assert [sent.headers["webhook-id"] for sent in sender.sent] == [fine]
    row = delivery_row(engine, sealed_away)
    assert (row.state, row.attempts) == ("pending", 1)
    assert row.last_error == "the client has no webhook secret the service can open"


def test_events_survive_a_restart_and_keep_their_id(
    database_url: str, engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    clock = VirtualClock(START)
    event_id = enqueue_status(engine, shop.key, START)
    dispatcher(engine, cipher, failing_first(1), clock).dispatch_due()

    restarted = make_engine(database_url)  # a new process: new engine, new dispatcher
    try:
        sender = RecordingWebhookSender()
        clock.advance(timedelta(seconds=5))
        assert dispatcher(restarted, cipher, sender, clock).dispatch_due() == 1
    finally:
        restarted.dispose()

    assert [sent.event_id for sent in sender.sent] == [event_id]
    assert delivery_row(engine, event_id).state == "delivered"


def test_a_dispatcher_that_died_mid_send_leaves_the_event_to_another_after_its_lease(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    clock = VirtualClock(START)
    event_id = enqueue_status(engine, shop.key, START)
    lease = timedelta(minutes=5)
    with engine.begin() as connection:  # claimed, then the process was killed
        assert len(claim_due(connection, now=START, lease=lease, limit=10, per_client=10)) == 1
    sender = RecordingWebhookSender()
    survivor = dispatcher(engine, cipher, sender, clock, lease=lease)

    assert survivor.dispatch_due() == 0
    clock.advance(lease - timedelta(seconds=1))
    assert survivor.dispatch_due() == 0
    clock.advance(timedelta(seconds=1))
    assert survivor.dispatch_due() == 1

    assert [sent.event_id for sent in sender.sent] == [event_id]
    row = delivery_row(engine, event_id)
    assert (row.state, row.attempts) == ("delivered", 2)


def test_a_late_failure_from_an_expired_claim_does_not_undo_a_delivery(
    engine: Engine, cipher: SecretCipher
) -> None:
    """A slow dispatcher's failure, recorded after another delivered the event, changes nothing."""
    shop = register_shop(engine, cipher)
    clock = VirtualClock(START)
    event_id = enqueue_status(engine, shop.key, START)
    lease = timedelta(seconds=30)
    slow_one_released = threading.Event()
    slow_one_sending = threading.Event()

    def slow_failure(_sent: SentWebhook) -> SendResult:
        slow_one_sending.set()
        assert slow_one_released.wait(10)
        return SendResult(500)

    slow = threading.Thread(
        target=dispatcher(
            engine, cipher, RecordingWebhookSender(slow_failure), clock, lease
        ).dispatch_due
    )
    slow.start()
    assert slow_one_sending.wait(10)
    clock.advance(lease)
    assert dispatcher(engine, cipher, RecordingWebhookSender(), clock, lease).dispatch_due() == 1
    slow_one_released.set()
    slow.join(10)

    row = delivery_row(engine, event_id)
    assert (row.state, row.attempts, row.last_status_code) == ("delivered", 2, 200)


def test_two_dispatchers_at_once_send_each_event_exactly_once(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    clock = VirtualClock(START)
    with session_factory(engine).begin() as session:
        ids = {
            enqueue(
                session,
                client_key=shop.key,
                url=SHOP_HOOKS,
                event_type="notification.status",
                payload={"n": n},
                now=START,
            )
            for n in range(300)
        }
    sender = CountingSender()
    sent_by: list[int] = [0, 0]

    def work(slot: int) -> None:
        one = dispatcher(engine, cipher, sender, clock)
        while attempted := one.dispatch_due(limit=20):
            sent_by[slot] += attempted

    workers = [threading.Thread(target=work, args=(slot,)) for slot in (0, 1)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)

    assert set(sender.counted) == ids and set(sender.counted.values()) == {1}
    assert sum(sent_by) == 300
    with Session(engine) as session:
        states = session.scalars(select(WebhookDeliveryRow.state).distinct()).all()
    assert states == ["delivered"]


def test_a_client_without_a_webhook_secret_gets_nothing_unsigned(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    with session_factory(engine).begin() as session:
        row = session.scalar(select(ClientRow).where(ClientRow.consumer_key == shop.key))
        assert row is not None
        row.webhook_secret_encrypted = None  # registered before webhooks existed
    clock = VirtualClock(START)
    event_id = enqueue_status(engine, shop.key, START)
    sender = RecordingWebhookSender()

    assert dispatcher(engine, cipher, sender, clock).dispatch_due() == 1

    assert sender.sent == []
    row_after = delivery_row(engine, event_id)
    assert (row_after.state, row_after.last_error) == (
        "pending",
        "the client has no webhook secret the service can open",
    )


def test_an_event_commits_with_the_change_it_reports_or_not_at_all(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)

    with pytest.raises(RuntimeError), session_factory(engine).begin() as session:
        enqueue(
            session,
            client_key=shop.key,
            url=SHOP_HOOKS,
            event_type="template.status",
            payload={"template_id": "tpl_1", "status": "approved"},
            now=START,
        )
        raise RuntimeError("the status change failed")

    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(WebhookDeliveryRow)) == 0


def test_an_unknown_event_type_is_refused(engine: Engine, cipher: SecretCipher) -> None:
    shop = register_shop(engine, cipher)

    with pytest.raises(ValueError):
        enqueue_status(engine, shop.key, START, event_type="notification.teleported")


def test_the_body_is_the_standards_envelope(engine: Engine, cipher: SecretCipher) -> None:
    shop = register_shop(engine, cipher)
    clock = VirtualClock(START)
    enqueue_status(engine, shop.key, START)
    sender = RecordingWebhookSender()

    dispatcher(engine, cipher, sender, clock).dispatch_due()

    assert json.loads(sender.sent[0].body) == {
        "type": "notification.status",
        "timestamp": "2026-11-27T12:00:00Z",
        "data": STATUS_DELIVERED,
    }


def test_a_template_decision_reaches_the_client_as_its_event(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    decided = TemplateModerated("tpl_7", START, {"id": "tpl_7", "status": "approved"})
    with session_factory(engine).begin() as session:
        enqueue_event(session, client_key=shop.key, url=SHOP_HOOKS, event=decided, now=START)
    sender = RecordingWebhookSender()

    dispatcher(engine, cipher, sender, VirtualClock(START)).dispatch_due()

    (sent,) = sender.sent
    assert json.loads(sent.body)["type"] == "template.status"
    assert json.loads(sent.body)["data"] == webhook_of(decided)[1]


def test_settled_events_are_forgotten_after_the_retention_and_pending_ones_kept(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    clock = VirtualClock(START)
    delivered = enqueue_status(engine, shop.key, START)
    one = dispatcher(engine, cipher, RecordingWebhookSender(), clock)
    one.dispatch_due()
    waiting = enqueue_status(engine, shop.key, START)  # say its first attempt is not due yet

    clock.advance(timedelta(days=30))
    assert one.forget_settled(timedelta(days=30)) == 0
    clock.advance(timedelta(seconds=1))
    assert one.forget_settled(timedelta(days=30)) == 1

    with Session(engine) as session:
        left = session.scalars(select(WebhookDeliveryRow.event_id)).all()
    assert left == [waiting] and delivered not in left


def test_on_a_fast_virtual_clock_the_signatures_can_carry_the_real_time(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    assert shop.webhook_secret is not None
    demo_clock = VirtualClock(datetime.now(UTC) + timedelta(days=3))  # the demo ran ahead
    enqueue_status(engine, shop.key, demo_clock.now())
    sender = RecordingWebhookSender()
    one = WebhookDispatcher(engine, cipher, sender, demo_clock, signing_clock=SystemClock())

    assert one.dispatch_due() == 1

    (sent,) = sender.sent
    verified = Webhook(shop.webhook_secret).verify(sent.body, dict(sent.headers))
    assert verified["data"] == STATUS_DELIVERED


def test_a_stopping_dispatcher_starts_no_new_batch(engine: Engine, cipher: SecretCipher) -> None:
    shop = register_shop(engine, cipher)
    event_id = enqueue_status(engine, shop.key, START)
    stopping = dispatcher(engine, cipher, RecordingWebhookSender(), VirtualClock(START))
    stopping.stopping.set()  # SIGTERM: the worker stops taking work

    assert stopping.dispatch_all_due() == 0
    assert delivery_row(engine, event_id).attempts == 0  # left for the next process


def test_without_a_proxy_no_proxy_is_not_read_and_nothing_is_said_of_proxies(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NO_PROXY", "localhost,[::1]")  # httpx cannot read `[::1]`

    HttpWebhookSender.with_timeout(1.0).close()

    assert "proxy" not in caplog.text
