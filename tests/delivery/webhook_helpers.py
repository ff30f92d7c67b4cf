"""Builders for the webhook tests: a registered client, a receiver, a dispatcher."""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI, Request, Response
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from delivery.clock import Clock
from delivery.webhooks import (
    HttpWebhookSender,
    RetrySchedule,
    SendResult,
    WebhookDispatcher,
    WebhookSender,
    enqueue,
)
from delivery.webhooks.fakes import RecordingWebhookSender, SentWebhook
from store.clients import IssuedCredentials, register_client
from store.database import session_factory
from store.secrets import SecretCipher
from store.tables_notifications import NotificationRow
from store.tables_webhooks import WebhookDeliveryRow
from tests.api.service import serving

START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SHOP_HOOKS = "https://shop.example/hooks"
STATUS_DELIVERED = {"notification_id": "ntf_1", "status": "delivered", "at": "2026-11-27T12:00Z"}


def register_shop(
    engine: Engine, cipher: SecretCipher, name: str = "shop", webhook_url: str = SHOP_HOOKS
) -> IssuedCredentials:
    """A client whose webhooks go to `webhook_url`: an event queued for another URL is one of
    its notifications' callback_url, or it follows the registration there when sent."""
    with session_factory(engine).begin() as session:
        return register_client(session, name, ["203.0.113.0/24"], cipher, webhook_url=webhook_url)


def enqueue_status(
    engine: Engine,
    client_key: str,
    now: datetime,
    url: str = SHOP_HOOKS,
    event_type: str = "notification.status",
    **payload: str,
) -> str:
    with session_factory(engine).begin() as session:
        return enqueue(
            session,
            client_key=client_key,
            url=url,
            event_type=event_type,
            payload=payload or STATUS_DELIVERED,
            now=now,
        )


def notification_calling_back(engine: Engine, client_key: str, url: str) -> None:
    """Notification `ntf_1` (the one STATUS_DELIVERED is of), whose client named `url` as its
    callback_url. Inserted with the columns it names only, so that a store at an earlier
    migration, without the columns added since, takes it too."""
    with Session(engine) as session, session.begin():
        session.execute(
            insert(NotificationRow).values(
                id="ntf_1",
                client_key=client_key,
                request_id="r-1",
                request_hash="0" * 64,
                phone="+79234567823",
                country="RU",
                template_id="tpl_1",
                text="Ваш заказ готов",
                action_type="order",
                action_at=START,
                sensitive=False,
                mobile_only=False,
                fallback="sms",
                callback_url=url,
                decision="deliver",
                policy_case="VERIFIED_FRESH",
                number_status="verified",
                reasons=[],
                status="delivered",
                created_at=START,
                expires_at=START + timedelta(hours=1),
                updated_at=START,
                answer={},
            )
        )


def delivery_row(engine: Engine, event_id: str) -> WebhookDeliveryRow:
    with Session(engine) as session:
        row = session.scalar(
            select(WebhookDeliveryRow).where(WebhookDeliveryRow.event_id == event_id)
        )
    assert row is not None
    return row


def dispatcher(
    engine: Engine,
    cipher: SecretCipher,
    sender: WebhookSender,
    clock: Clock,
    lease: timedelta = timedelta(minutes=5),
    concurrency: int = 8,
) -> WebhookDispatcher:
    """A dispatcher without jitter, so the back-off times are exact."""
    return WebhookDispatcher(
        engine,
        cipher,
        sender,
        clock,
        schedule=RetrySchedule(jitter=0),
        lease=lease,
        concurrency=concurrency,
    )


class CountingSender(RecordingWebhookSender):
    """Answers 200 to every event, counting how often each was sent, from any thread."""

    def __init__(self) -> None:
        self.counted: Counter[str] = Counter()
        self._counting = threading.Lock()
        super().__init__(self._count)

    def _count(self, sent: SentWebhook) -> SendResult:
        with self._counting:
            self.counted[sent.event_id] += 1
        return SendResult(200)


def loopback_sender(seconds: float) -> HttpWebhookSender:
    """The HTTP sender the receivers here can be reached by: they listen on the loopback, as a
    client on the service's own network does, where callback URLs must be let in."""
    return HttpWebhookSender.with_timeout(seconds, private_callbacks=True)


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]


@dataclass
class Receiver:
    """A client's webhook endpoint: keeps what it is sent, answers `status`."""

    url: str
    status: int = 204
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def receiving() -> Iterator[Receiver]:
    app = FastAPI()
    receiver = Receiver(url="")

    @app.post("/hooks")
    async def hooks(request: Request) -> Response:
        body = await request.body()
        with receiver.lock:
            receiver.received.append(Received(body, dict(request.headers)))
        return Response(status_code=receiver.status)

    with serving(app, lifespan="off") as base_url:
        receiver.url = f"{base_url}/hooks"
        yield receiver


@contextmanager
def proxy_answering_200() -> Iterator[tuple[str, list[str]]]:
    """An HTTP proxy that answers every request 200 itself; its URL, and the request lines it
    was asked (a proxy's are absolute: `POST http://host/path HTTP/1.1`)."""
    listener = socket.create_server(("127.0.0.1", 0))
    asked: list[str] = []

    def answer() -> None:
        with suppress(OSError):
            while True:
                connection, _ = listener.accept()
                with connection:
                    head = _read_request(connection)
                    asked.append(head.split(b"\r\n", 1)[0].decode())
                    connection.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", asked
    finally:
        listener.close()


@contextmanager
def dripping(head: bytes, every: float = 0.2) -> Iterator[str]:
    """An endpoint that reads the request, then answers `head` one byte every `every` seconds,
    each byte well within any read timeout; the URL to post to. It stops when the caller
    hangs up."""
    listener = socket.create_server(("127.0.0.1", 0))
    stopped = threading.Event()

    def answer() -> None:
        connection, _ = listener.accept()
        with connection:
            _read_request(connection)
            for byte in head:
                if stopped.wait(every):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:  # the caller hung up
                    return
            # closing with the caller still writing would reset the connection under its read
            connection.settimeout(5)
            with suppress(OSError):
                while connection.recv(65536):
                    pass

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hooks"
    finally:
        stopped.set()
        listener.close()
        thread.join()


def _read_request(connection: socket.socket) -> bytes:
    """Read a request whole; its head."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += connection.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += connection.recv(65536)
    return head
