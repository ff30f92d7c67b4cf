"""An operator's revoke and secret rotation as a client's calls meet them over real HTTP: the
store's client as the API's workers read it, once their 30 s cache of it lapses."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from cryptography.fernet import Fernet
from fastapi import FastAPI
from requests_oauthlib import OAuth1
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api import auth
from api.auth import Authenticator
from api.deps import AuthenticatedClientDep
from api.errors import install_error_handlers
from store.client_access import rotate_secret, set_disabled
from store.clients import IssuedCredentials, SqlClientStore, register_client
from store.secrets import SecretCipher
from tests.api.service import serving

LOOPBACK = "127.0.0.0/8"
PAYMENT = {"phone": "+79234567823", "amount": 1}
CACHE_LAPSED = timedelta(seconds=31)
OVERLAP = timedelta(hours=1)


@dataclass
class Clock:
    """The authenticator's clock, moved by the test; it starts at the real time, which the
    signatures' timestamps are taken from."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/echo")
    def echo(client: AuthenticatedClientDep, payload: dict[str, Any]) -> dict[str, Any]:
        return {"client": client.name}

    return app


@pytest.fixture(scope="module")
def base_url(app: FastAPI) -> Iterator[str]:
    with serving(app, lifespan="off") as url:
        yield url


@pytest.fixture
def cipher() -> SecretCipher:
    return SecretCipher([Fernet.generate_key().decode()])


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC))


@pytest.fixture
def bank(
    app: FastAPI,
    engine: Engine,
    sessions: sessionmaker[Session],
    cipher: SecretCipher,
    clock: Clock,
) -> IssuedCredentials:
    app.state.authenticator = Authenticator(SqlClientStore(engine, cipher), clock=clock)
    with sessions.begin() as session:
        return register_client(session, "bank", [LOOPBACK], cipher)


def call(base_url: str, clock: Clock, key: str, secret: str) -> requests.Response:
    """A call signed at the authenticator's time, so that a moved clock keeps it in the window."""
    stamp = str(int(clock.now.timestamp()))
    signing = OAuth1(
        key, secret, signature_method="HMAC-SHA256", force_include_body=True, timestamp=stamp
    )
    return requests.post(f"{base_url}/echo", json=PAYMENT, auth=signing)


def assert_unauthenticated(response: requests.Response) -> None:
    """Refused as an unknown key or a bad signature is: the same envelope, nothing more."""
    assert response.status_code == 401, response.text
    assert response.json() == {
        "status": 401,
        "code": "UNAUTHENTICATED",
        "message": auth.BAD_SIGNATURE,
    }


def test_a_disabled_client_is_refused_once_the_workers_cache_lapses_and_enabled_again(
    base_url: str, bank: IssuedCredentials, sessions: sessionmaker[Session], clock: Clock
) -> None:
    assert call(base_url, clock, bank.key, bank.secret).status_code == 200
    with sessions.begin() as session:
        assert set_disabled(session, "bank", True)

    clock.now += CACHE_LAPSED
    assert_unauthenticated(call(base_url, clock, bank.key, bank.secret))

    with sessions.begin() as session:
        assert set_disabled(session, "bank", False)
    clock.now += CACHE_LAPSED
    assert call(base_url, clock, bank.key, bank.secret).status_code == 200


def test_after_a_rotation_both_secrets_work_until_the_overlap_ends_then_only_the_new(
    base_url: str,
    bank: IssuedCredentials,
    sessions: sessionmaker[Session],
    cipher: SecretCipher,
    clock: Clock,
) -> None:
    with sessions.begin() as session:
        rotated = rotate_secret(session, "bank", cipher, overlap=OVERLAP, now=clock)
    clock.now += CACHE_LAPSED

    assert rotated.key == bank.key and rotated.secret != bank.secret
    assert call(base_url, clock, bank.key, rotated.secret).status_code == 200
    assert call(base_url, clock, bank.key, bank.secret).status_code == 200

    assert rotated.previous_accepted_until is not None
    clock.now = rotated.previous_accepted_until
    assert_unauthenticated(call(base_url, clock, bank.key, bank.secret))
    assert call(base_url, clock, bank.key, rotated.secret).status_code == 200


def test_a_rotation_without_overlap_refuses_the_old_secret_at_once(
    base_url: str,
    bank: IssuedCredentials,
    sessions: sessionmaker[Session],
    cipher: SecretCipher,
    clock: Clock,
) -> None:
    with sessions.begin() as session:
        rotated = rotate_secret(session, "bank", cipher, overlap=timedelta(0), now=clock)
    clock.now += CACHE_LAPSED

    assert rotated.previous_accepted_until is None
    assert_unauthenticated(call(base_url, clock, bank.key, bank.secret))
    assert call(base_url, clock, bank.key, rotated.secret).status_code == 200


def test_a_nonce_spent_under_the_old_secret_is_spent_under_the_new_one(
    base_url: str,
    bank: IssuedCredentials,
    sessions: sessionmaker[Session],
    cipher: SecretCipher,
    clock: Clock,
) -> None:
    with sessions.begin() as session:
        rotated = rotate_secret(session, "bank", cipher, overlap=OVERLAP, now=clock)
    clock.now += CACHE_LAPSED
    stamp = str(int(clock.now.timestamp()))

    def with_nonce(secret: str) -> requests.Response:
        signing = OAuth1(
            bank.key,
            secret,
            signature_method="HMAC-SHA256",
            force_include_body=True,
            timestamp=stamp,
            nonce="one-nonce-for-both-secrets",
        )
        return requests.post(f"{base_url}/echo", json=PAYMENT, auth=signing)

    assert with_nonce(bank.secret).status_code == 200
    replayed = with_nonce(rotated.secret)

    assert replayed.status_code == 401
    assert replayed.json()["message"] == auth.NONCE_REUSED
