"""OAuth 1.0a over real HTTP: requests-oauthlib, an independent client, against uvicorn."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from cryptography.fernet import Fernet
from fastapi import FastAPI
from requests_oauthlib import OAuth1
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from api import auth
from api.auth import Authenticator, build_authenticator
from api.deps import AuthenticatedClientDep
from api.errors import install_error_handlers
from api.observability import ObservabilityMiddleware
from pipelines.settings import Settings, load_settings
from store.clients import IssuedCredentials, register_client
from store.secrets import SecretCipher, load_cipher
from store.tables import NonceRow
from tests.api.service import serving

LOOPBACK = "127.0.0.0/8"  # where these tests call from
ELSEWHERE = "192.0.2.0/24"
PAYMENT = {"phone": "+79234567823", "amount": 1}
BIGGER_PAYMENT = {"phone": "+79234567823", "amount": 1000}


@pytest.fixture(scope="module")
def app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(ObservabilityMiddleware)  # echoes x-correlator, as in the service
    install_error_handlers(app)

    @app.post("/echo")
    def echo(client: AuthenticatedClientDep, payload: dict[str, Any]) -> dict[str, Any]:
        return {"client": client.name, "payload": payload}

    @app.post("/echo/{word}")
    def echo_word(client: AuthenticatedClientDep, word: str) -> dict[str, Any]:
        return {"client": client.name, "word": word}

    return app


@pytest.fixture(scope="module")
def base_url(app: FastAPI) -> Iterator[str]:
    with serving(app, lifespan="off") as url:
        yield url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(database_url=database_url, secret_key=Fernet.generate_key().decode())


@pytest.fixture
def cipher(settings: Settings) -> SecretCipher:
    return load_cipher(settings.secret_key_text(), settings.secret_key_file)


@pytest.fixture
def authenticator(app: FastAPI, settings: Settings, engine: Engine) -> Authenticator:
    """Built as the API's lifespan builds it, and handed to the app for this test."""
    app.state.authenticator = build_authenticator(settings, engine)
    return app.state.authenticator  # type: ignore[no-any-return]


def register(
    sessions: sessionmaker[Session], cipher: SecretCipher, name: str, cidr: str
) -> IssuedCredentials:
    with sessions.begin() as session:
        return register_client(session, name, [cidr], cipher)


@pytest.fixture
def bank(
    sessions: sessionmaker[Session], cipher: SecretCipher, authenticator: Authenticator
) -> IssuedCredentials:
    return register(sessions, cipher, "bank", LOOPBACK)


def signed(credentials: IssuedCredentials, method: str = "HMAC-SHA256", **kwargs: Any) -> OAuth1:
    # force_include_body makes requests-oauthlib sign JSON bodies with oauth_body_hash
    return OAuth1(
        credentials.key,
        credentials.secret,
        signature_method=method,
        force_include_body=True,
        **kwargs,
    )


def prepared(url: str, credentials: IssuedCredentials) -> requests.PreparedRequest:
    """A signed call, ready to be altered or sent again."""
    return requests.Request("POST", url, json=PAYMENT, auth=signed(credentials)).prepare()


def assert_refused(
    response: requests.Response, status: int, code: str, message: str, *secrets: str
) -> None:
    """Refused with the envelope only: no secret, no trace, nothing but the three fields."""
    assert response.status_code == status, response.text
    assert response.json() == {"status": status, "code": code, "message": message}
    assert "Traceback" not in response.text
    assert all(secret not in response.text for secret in secrets)
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("OAuth")


@pytest.mark.parametrize("method", ["HMAC-SHA1", "HMAC-SHA256"])
def test_a_signed_call_is_answered(base_url: str, bank: IssuedCredentials, method: str) -> None:
    response = requests.post(f"{base_url}/echo", json=PAYMENT, auth=signed(bank, method))

    assert response.status_code == 200, response.text
    assert response.json() == {"client": "bank", "payload": PAYMENT}


@pytest.mark.parametrize("word", ["заказ", "a;b", "a b", "100%"])
def test_a_path_the_client_percent_encoded_is_verified_as_sent(
    base_url: str, bank: IssuedCredentials, word: str
) -> None:
    response = requests.post(
        f"{base_url}/echo/{quote(word, safe=';')}", json=PAYMENT, auth=signed(bank)
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"client": "bank", "word": word}


def test_a_signed_call_spends_one_nonce(
    base_url: str, bank: IssuedCredentials, sessions: sessionmaker[Session]
) -> None:
    requests.post(f"{base_url}/echo", json=PAYMENT, auth=signed(bank)).raise_for_status()

    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(NonceRow)) == 1


def test_a_wrong_secret_is_unauthenticated(base_url: str, bank: IssuedCredentials) -> None:
    forged = IssuedCredentials(bank.key, "not-" + bank.secret)

    response = requests.post(f"{base_url}/echo", json=PAYMENT, auth=signed(forged))

    assert_refused(response, 401, "UNAUTHENTICATED", auth.BAD_SIGNATURE, bank.secret)


def test_an_unknown_key_is_told_what_a_wrong_secret_is(
    base_url: str, bank: IssuedCredentials
) -> None:
    stranger = IssuedCredentials("UnknownKey00000000000000", bank.secret)

    response = requests.post(f"{base_url}/echo", json=PAYMENT, auth=signed(stranger))

    assert_refused(response, 401, "UNAUTHENTICATED", auth.BAD_SIGNATURE, bank.secret)


def test_a_body_other_than_the_signed_one_is_refused(
    base_url: str, bank: IssuedCredentials
) -> None:
    request = prepared(f"{base_url}/echo", bank)
    request.prepare_body(data=None, files=None, json=BIGGER_PAYMENT)

    response = requests.Session().send(request)

    assert_refused(response, 401, "UNAUTHENTICATED", auth.BODY_MISMATCH, bank.secret)


def test_a_body_left_out_of_the_signature_is_refused(
    base_url: str, bank: IssuedCredentials
) -> None:
    unsigned_body = OAuth1(bank.key, bank.secret, signature_method="HMAC-SHA256")

    response = requests.post(f"{base_url}/echo", json=PAYMENT, auth=unsigned_body)

    assert_refused(response, 401, "UNAUTHENTICATED", auth.NO_BODY_HASH, bank.secret)


def test_another_query_than_the_signed_one_is_refused(
    base_url: str, bank: IssuedCredentials
) -> None:
    request = prepared(f"{base_url}/echo?page=1", bank)
    request.url = f"{base_url}/echo?page=2"

    response = requests.Session().send(request)

    assert_refused(response, 401, "UNAUTHENTICATED", auth.BAD_SIGNATURE, bank.secret)


def signed_in_the_query(credentials: IssuedCredentials, method: str = "HMAC-SHA256") -> OAuth1:
    """requests-oauthlib putting the oauth_ parameters in the query (RFC 5849 §3.5.3)."""
    return signed(credentials, method, signature_type="query")


def query_signature(response: requests.Response) -> str:
    url = response.request.url or ""
    return parse_qs(urlsplit(url).query)["oauth_signature"][0]


@pytest.mark.parametrize("method", ["HMAC-SHA1", "HMAC-SHA256"])
def test_a_call_signed_in_the_query_is_answered(
    base_url: str, bank: IssuedCredentials, method: str
) -> None:
    response = requests.post(
        f"{base_url}/echo?page=1", json=PAYMENT, auth=signed_in_the_query(bank, method)
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"client": "bank", "payload": PAYMENT}
    assert "Authorization" not in response.request.headers
    assert "oauth_body_hash=" in (response.request.url or "")


def test_a_call_signed_in_the_query_is_refused_when_the_rest_of_its_query_changes(
    base_url: str, bank: IssuedCredentials
) -> None:
    request = requests.Request(
        "POST", f"{base_url}/echo?page=1", json=PAYMENT, auth=signed_in_the_query(bank)
    ).prepare()
    request.url = (request.url or "").replace("page=1", "page=2")

    response = requests.Session().send(request)

    assert_refused(response, 401, "UNAUTHENTICATED", auth.BAD_SIGNATURE, bank.secret)


def test_a_call_signed_in_the_query_is_held_to_its_body_hash(
    base_url: str, bank: IssuedCredentials
) -> None:
    request = requests.Request(
        "POST", f"{base_url}/echo", json=PAYMENT, auth=signed_in_the_query(bank)
    ).prepare()
    request.prepare_body(data=None, files=None, json=BIGGER_PAYMENT)

    response = requests.Session().send(request)

    assert_refused(response, 401, "UNAUTHENTICATED", auth.BODY_MISMATCH, bank.secret)


def test_a_call_signed_in_the_query_is_answered_once(
    base_url: str, bank: IssuedCredentials
) -> None:
    request = requests.Request(
        "POST", f"{base_url}/echo", json=PAYMENT, auth=signed_in_the_query(bank)
    ).prepare()
    client = requests.Session()

    assert client.send(request).status_code == 200
    replay = client.send(request)

    assert_refused(replay, 401, "UNAUTHENTICATED", auth.NONCE_REUSED, bank.secret)


def test_a_call_signed_in_the_query_ten_minutes_ago_is_refused(
    base_url: str, bank: IssuedCredentials
) -> None:
    stamp = str(int(time.time()) - 600)
    stale = signed(bank, signature_type="query", timestamp=stamp)

    response = requests.post(f"{base_url}/echo", json=PAYMENT, auth=stale)

    assert_refused(response, 401, "UNAUTHENTICATED", auth.STALE, bank.secret)


def test_a_call_signed_both_in_the_header_and_in_the_query_is_refused(
    base_url: str, bank: IssuedCredentials
) -> None:
    request = requests.Request(
        "POST", f"{base_url}/echo", json=PAYMENT, auth=signed_in_the_query(bank)
    ).prepare()
    signed(bank)(request)  # and signed again in the header, over the URL the query signed
    assert "oauth_signature=" in (request.url or "")
    assert "Authorization" in request.headers

    response = requests.Session().send(request)

    assert_refused(response, 401, "UNAUTHENTICATED", auth.TWO_WAYS, bank.secret)


def test_a_signature_in_the_query_is_written_in_no_log_line_of_the_service(
    base_url: str, bank: IssuedCredentials, caplog: pytest.LogCaptureFixture
) -> None:
    """A URL may carry a live signature: the service logs at info, and even at debug (where
    oauthlib writes the base string of a signature that fails) no signature is written."""
    forged = IssuedCredentials(bank.key, "not-" + bank.secret)
    caplog.set_level(logging.DEBUG)

    answered = requests.post(f"{base_url}/echo", json=PAYMENT, auth=signed_in_the_query(bank))
    refused = requests.post(f"{base_url}/echo", json=PAYMENT, auth=signed_in_the_query(forged))

    assert (answered.status_code, refused.status_code) == (200, 401)
    # the service's lines are written on its threads; this one's are the client's own
    service_lines = [record for record in caplog.records if record.thread != threading.get_ident()]
    assert service_lines  # oauthlib tells of the refused signature
    text = "\n".join(record.getMessage() for record in service_lines)
    for response in (answered, refused):
        signature = query_signature(response)
        assert signature not in text and quote(signature, safe="") not in text
    assert not [
        record
        for record in service_lines
        if "oauth_" in record.getMessage() and record.levelno >= logging.INFO
    ]


def test_a_replayed_call_is_refused(base_url: str, bank: IssuedCredentials) -> None:
    request = prepared(f"{base_url}/echo", bank)
    client = requests.Session()

    assert client.send(request).status_code == 200
    replay = client.send(request)

    assert_refused(replay, 401, "UNAUTHENTICATED", auth.NONCE_REUSED, bank.secret)


@pytest.mark.parametrize("age_seconds", [600, -600])
def test_a_call_stamped_ten_minutes_away_is_refused(
    base_url: str, bank: IssuedCredentials, age_seconds: int
) -> None:
    stamp = str(int(time.time()) - age_seconds)

    response = requests.post(f"{base_url}/echo", json=PAYMENT, auth=signed(bank, timestamp=stamp))

    assert_refused(response, 401, "UNAUTHENTICATED", auth.STALE, bank.secret)


def test_a_call_from_outside_the_allow_list_is_denied(
    base_url: str,
    sessions: sessionmaker[Session],
    cipher: SecretCipher,
    authenticator: Authenticator,
) -> None:
    remote_bank = register(sessions, cipher, "remote bank", ELSEWHERE)

    response = requests.post(f"{base_url}/echo", json=PAYMENT, auth=signed(remote_bank))

    assert_refused(response, 403, "PERMISSION_DENIED", auth.FOREIGN_ADDRESS, remote_bank.secret)


def test_plaintext_signatures_are_refused(base_url: str, bank: IssuedCredentials) -> None:
    response = requests.post(f"{base_url}/echo", json=PAYMENT, auth=signed(bank, "PLAINTEXT"))

    assert_refused(response, 401, "UNAUTHENTICATED", auth.BAD_METHOD, bank.secret)


def test_rsa_signatures_are_refused(base_url: str, bank: IssuedCredentials) -> None:
    header = (
        f'OAuth oauth_consumer_key="{bank.key}", oauth_signature_method="RSA-SHA1", '
        f'oauth_timestamp="{int(time.time())}", oauth_nonce="abcdefghijklmnopqrstu", '
        'oauth_version="1.0", oauth_signature="c2lnbmF0dXJl"'
    )

    response = requests.post(f"{base_url}/echo", headers={"Authorization": header})

    assert_refused(response, 401, "UNAUTHENTICATED", auth.BAD_METHOD, bank.secret)


def test_an_unsigned_call_is_unauthenticated_and_its_correlator_echoed(
    base_url: str, bank: IssuedCredentials
) -> None:
    response = requests.post(
        f"{base_url}/echo", json=PAYMENT, headers={"x-correlator": "b4333c46-49c0-4f62"}
    )

    assert_refused(response, 401, "UNAUTHENTICATED", auth.NOT_SIGNED)
    assert response.headers["x-correlator"] == "b4333c46-49c0-4f62"
