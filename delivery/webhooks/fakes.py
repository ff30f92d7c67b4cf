"""A recording webhook sender for tests and the demo: keeps what it was sent, answers as told."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from delivery.webhooks.dispatcher import SendResult


@dataclass(frozen=True)
class SentWebhook:
    url: str
    body: bytes
    headers: Mapping[str, str] = field(repr=False)
    named_by_client: bool = False

    @property
    def event_id(self) -> str:
        return self.headers["webhook-id"]


def always_ok(_sent: SentWebhook) -> SendResult:
    return SendResult(200)


class RecordingWebhookSender:
    """Records every send; `answer` decides each reply (200 unless told otherwise).

    Thread-safe, since a dispatcher sends from a pool of threads.
    """

    def __init__(self, answer: Callable[[SentWebhook], SendResult] = always_ok) -> None:
        self.answer = answer
        self._sent: list[SentWebhook] = []
        self._lock = threading.Lock()

    def send(
        self, url: str, body: bytes, headers: Mapping[str, str], *, named_by_client: bool = False
    ) -> SendResult:
        sent = SentWebhook(url, body, dict(headers), named_by_client)
        with self._lock:
            self._sent.append(sent)
        return self.answer(sent)

    @property
    def sent(self) -> list[SentWebhook]:
        with self._lock:
            return list(self._sent)
