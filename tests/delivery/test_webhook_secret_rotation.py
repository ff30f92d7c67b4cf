"""A client renews its webhook secret without failing a delivery, on SQLite and PostgreSQL:
during the overlap each delivery verifies with the old secret and with the new one, as the
Standard Webhooks library checks it; after it, with the new one only."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, select
from standardwebhooks import Webhook

from delivery.clock import VirtualClock
from delivery.webhooks import SendResult, WebhookDispatcher
from delivery.webhooks.fakes import RecordingWebhookSender, SentWebhook
from delivery.webhooks.signing import signature
from store.clients import IssuedCredentials, RenewedWebhookSecret, renew_webhook_secret
from store.database import session_factory
from store.secrets import SecretCipher
from store.tables import ClientRow
from tests.delivery.webhook_helpers import enqueue_status, register_shop

DAY = timedelta(hours=24)


class Shop:
    """A registered client, its endpoint's recorder, and a dispatcher whose clock, which also
    dates the signatures, the test moves."""

    def __init__(self, engine: Engine, cipher: SecretCipher) -> None:
        self.engine = engine
        self.cipher = cipher
        self.clock = VirtualClock(datetime.now(UTC))
        self.endpoint = RecordingWebhookSender()
        self.credentials: IssuedCredentials = register_shop(engine, cipher)
        self.dispatcher = WebhookDispatcher(engine, cipher, self.endpoint, self.clock)

    @property
    def first_secret(self) -> str:
        assert self.credentials.webhook_secret is not None
        return self.credentials.webhook_secret

    def renew(self, overlap: timedelta = DAY, end_previous: bool = False) -> RenewedWebhookSecret:
        with session_factory(self.engine).begin() as session:
            return renew_webhook_secret(
                session,
                "shop",
                self.cipher,
                overlap=overlap,
                end_previous=end_previous,
                now=self.clock.now,
            )

    def delivery(self) -> SentWebhook:
        """The next event, as the client's endpoint receives it."""
        enqueue_status(self.engine, self.credentials.key, self.clock.now())
        assert self.dispatcher.dispatch_due() == 1
        return self.endpoint.sent[-1]


def verifies(secret: str, sent: SentWebhook) -> bool:
    """Whether a client's Standard Webhooks library holding `secret` takes the delivery: one
    of its signatures is the one the library makes (its check of the timestamp against the
    client's own clock aside, since the test's clock is virtual)."""
    headers = sent.headers
    at = datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC)
    made = Webhook(secret).sign(headers["webhook-id"], at, sent.body.decode())
    return made in headers["webhook-signature"].split(" ")


def test_during_the_overlap_a_delivery_verifies_with_the_old_secret_and_with_the_new(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = Shop(engine, cipher)
    renewed = shop.renew(overlap=DAY)
    shop.clock.advance(DAY - timedelta(seconds=1))

    sent = shop.delivery()

    assert verifies(shop.first_secret, sent)
    assert verifies(renewed.secret, sent)


def test_the_new_secret_signs_first_in_the_one_signature_header(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = Shop(engine, cipher)
    renewed = shop.renew()

    sent = shop.delivery()

    stamp = int(sent.headers["webhook-timestamp"])
    assert sent.headers["webhook-signature"].split(" ") == [
        signature(secret, sent.event_id, stamp, sent.body)
        for secret in (renewed.secret, shop.first_secret)
    ]


def test_after_the_overlap_only_the_new_secret_verifies(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = Shop(engine, cipher)
    renewed = shop.renew(overlap=DAY)
    assert renewed.previous_signs_until is not None
    shop.clock.set(renewed.previous_signs_until)

    sent = shop.delivery()

    assert verifies(renewed.secret, sent)
    assert not verifies(shop.first_secret, sent)
    assert " " not in sent.headers["webhook-signature"]


def test_renewed_with_no_overlap_the_old_secret_stops_at_once(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = Shop(engine, cipher)
    renewed = shop.renew(overlap=timedelta(0))

    sent = shop.delivery()

    assert renewed.previous_signs_until is None
    assert verifies(renewed.secret, sent)
    assert not verifies(shop.first_secret, sent)


def test_a_second_renewal_ending_the_previous_during_the_overlap_drops_the_oldest_secret(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = Shop(engine, cipher)
    second = shop.renew()
    shop.clock.advance(timedelta(hours=1))
    third = shop.renew(end_previous=True)

    sent = shop.delivery()

    assert verifies(third.secret, sent)
    assert verifies(second.secret, sent)
    assert not verifies(shop.first_secret, sent)
    assert len(sent.headers["webhook-signature"].split(" ")) == 2


def test_an_event_retried_after_the_overlap_is_signed_anew_with_the_new_secret_only(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = Shop(engine, cipher)
    renewed = shop.renew(overlap=timedelta(minutes=1))
    shop.endpoint.answer = lambda _sent: SendResult(500)
    first_attempt = shop.delivery()
    shop.endpoint.answer = lambda _sent: SendResult(200)
    shop.clock.advance(timedelta(hours=2))  # past the overlap and the first retry

    assert shop.dispatcher.dispatch_due() == 1

    retry = shop.endpoint.sent[-1]
    assert retry.event_id == first_attempt.event_id
    assert verifies(shop.first_secret, first_attempt)
    assert not verifies(shop.first_secret, retry)
    assert verifies(renewed.secret, retry)


def test_a_previous_secret_the_key_cannot_open_is_logged_and_the_new_one_still_signs(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    old_cipher, new_cipher = SecretCipher([_fernet_key()]), SecretCipher([_fernet_key()])
    shop = Shop(engine, old_cipher)
    renewed = shop.renew()
    # the current secret sealed under a new key, the previous one left under the old one,
    # which the service no longer has
    _seal_current_under(engine, new_cipher, renewed.secret)
    shop.dispatcher = WebhookDispatcher(engine, new_cipher, shop.endpoint, shop.clock)

    with caplog.at_level(logging.WARNING, logger="delivery.webhooks.outbox"):
        sent = shop.delivery()

    assert verifies(renewed.secret, sent)
    assert not verifies(shop.first_secret, sent)
    assert "cannot open the previous webhook secret of client" in caplog.text


def _fernet_key() -> str:
    return Fernet.generate_key().decode()


def _seal_current_under(engine: Engine, cipher: SecretCipher, secret: str) -> None:
    with session_factory(engine).begin() as session:
        row = session.scalars(select(ClientRow).where(ClientRow.name == "shop")).one()
        row.webhook_secret_encrypted = cipher.encrypt(secret)


def test_an_attempt_made_after_the_overlap_ended_within_its_batch_is_signed_with_the_new_only(
    engine: Engine, cipher: SecretCipher
) -> None:
    # a batch claimed a second before the end, whose sends take two seconds each
    shop = Shop(engine, cipher)
    renewed = shop.renew(overlap=timedelta(minutes=1))
    shop.clock.advance(timedelta(seconds=59))
    for _ in range(3):
        enqueue_status(shop.engine, shop.credentials.key, shop.clock.now())

    def slow(_sent: SentWebhook) -> SendResult:
        shop.clock.advance(timedelta(seconds=2))
        return SendResult(200)

    shop.endpoint.answer = slow
    dispatcher = WebhookDispatcher(engine, cipher, shop.endpoint, shop.clock, concurrency=1)

    assert dispatcher.dispatch_due() == 3

    first, *later = shop.endpoint.sent
    assert verifies(shop.first_secret, first)
    assert [verifies(shop.first_secret, sent) for sent in later] == [False, False]
    assert all(verifies(renewed.secret, sent) for sent in shop.endpoint.sent)


def test_the_overlap_ends_in_real_time_whatever_the_clock_the_jobs_run_on(
    engine: Engine, cipher: SecretCipher
) -> None:
    # the demo's jobs run on a clock weeks behind, sped up; the operator renewed in real time
    shop = Shop(engine, cipher)
    renewed = shop.renew(overlap=timedelta(hours=1))
    shop.clock.advance(timedelta(hours=1, seconds=1))  # the real time signatures are dated by
    jobs = VirtualClock(shop.clock.now() - timedelta(days=20))
    dispatcher = WebhookDispatcher(engine, cipher, shop.endpoint, jobs, signing_clock=shop.clock)
    enqueue_status(engine, shop.credentials.key, jobs.now())

    assert dispatcher.dispatch_due() == 1

    (sent,) = shop.endpoint.sent
    assert verifies(renewed.secret, sent) and not verifies(shop.first_secret, sent)
