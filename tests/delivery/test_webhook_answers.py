"""What an endpoint's answer says about the next attempt, as Standard Webhooks advises: 410 Gone
ends the retries of that event, and a 429 or 503 with Retry-After puts the next one off."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from delivery.clock import VirtualClock
from delivery.webhooks import SendResult
from delivery.webhooks.dispatcher import MOST_RETRY_AFTER_SECONDS
from delivery.webhooks.fakes import RecordingWebhookSender
from store.secrets import SecretCipher
from tests.delivery.webhook_helpers import (
    START,
    delivery_row,
    dispatcher,
    dripping,
    enqueue_status,
    loopback_sender,
    register_shop,
)

FIRST_RETRY = timedelta(seconds=5)  # the schedule's wait after a first failure


def answering(result: SendResult) -> RecordingWebhookSender:
    return RecordingWebhookSender(lambda _sent: result)


def test_an_endpoint_that_answers_410_gone_is_not_tried_again_for_that_event(
    engine: Engine, cipher: SecretCipher, caplog: pytest.LogCaptureFixture
) -> None:
    shop = register_shop(engine, cipher)
    event_id = enqueue_status(engine, shop.key, START)
    clock = VirtualClock(START)
    sender = answering(SendResult(410, "HTTP 410: gone"))

    with caplog.at_level(logging.WARNING, logger="delivery.webhooks.dispatcher"):
        dispatcher(engine, cipher, sender, clock).dispatch_due()

    row = delivery_row(engine, event_id)
    assert (row.state, row.attempts, row.last_status_code) == ("given_up", 1, 410)
    assert f"webhook {event_id}" in caplog.text and "given up after 1 attempts" in caplog.text
    clock.advance(timedelta(days=1))
    assert dispatcher(engine, cipher, sender, clock).dispatch_due() == 0


@pytest.mark.parametrize("status", [429, 503])
def test_a_retry_after_longer_than_the_schedules_wait_puts_the_next_attempt_off(
    engine: Engine, cipher: SecretCipher, status: int
) -> None:
    shop = register_shop(engine, cipher)
    event_id = enqueue_status(engine, shop.key, START)
    asked = timedelta(minutes=10)
    sender = answering(SendResult(status, f"HTTP {status}", retry_after=asked))

    dispatcher(engine, cipher, sender, VirtualClock(START)).dispatch_due()

    row = delivery_row(engine, event_id)
    assert (row.state, row.next_attempt_at) == ("pending", START + asked)


def test_a_retry_after_shorter_than_the_schedules_wait_keeps_the_schedule(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    event_id = enqueue_status(engine, shop.key, START)
    sender = answering(SendResult(429, "HTTP 429", retry_after=timedelta(seconds=1)))

    dispatcher(engine, cipher, sender, VirtualClock(START)).dispatch_due()

    assert delivery_row(engine, event_id).next_attempt_at == START + FIRST_RETRY


def test_a_retry_after_past_the_retry_window_gives_the_event_up(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    event_id = enqueue_status(engine, shop.key, START)
    sender = answering(SendResult(503, "HTTP 503", retry_after=timedelta(days=2)))

    dispatcher(engine, cipher, sender, VirtualClock(START)).dispatch_due()

    assert delivery_row(engine, event_id).state == "given_up"


@pytest.mark.parametrize(
    ("status", "header", "expected"),
    [
        (b"429 Too Many Requests", b"120", timedelta(seconds=120)),
        (b"503 Service Unavailable", b"120", timedelta(seconds=120)),
        (b"429 Too Many Requests", b"Wed, 21 Oct 2015 07:28:00 GMT", timedelta(0)),  # gone by
        (b"429 Too Many Requests", b"soon", None),
        (b"500 Internal Server Error", b"120", None),  # not an answer Retry-After is meant for
        # the last date there is: a wait no date arithmetic past it can overflow
        (
            b"503 Service Unavailable",
            b"Fri, 31 Dec 9999 23:59:59 -2359",
            timedelta(seconds=MOST_RETRY_AFTER_SECONDS),
        ),
    ],
    ids=["seconds", "seconds on 503", "a date", "unreadable", "on a 500", "the end of time"],
)
def test_the_http_sender_reads_retry_after_as_seconds_or_a_date_on_a_429_or_503(
    status: bytes, header: bytes, expected: timedelta | None
) -> None:
    answer = b"HTTP/1.1 %s\r\nretry-after: %s\r\ncontent-length: 0\r\n\r\n" % (status, header)
    sender = loopback_sender(2.0)
    with dripping(answer, every=0) as url:
        try:
            result = sender.send(url, b"{}", {})
        finally:
            sender.close()  # hangs up, which ends the endpoint

    assert (result.status_code, result.retry_after) == (int(status[:3]), expected)
