"""One error envelope for every refusal, with the caller's correlator echoed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import cast

import pytest
import requests
from fastapi import FastAPI, Request
from psycopg.errors import InFailedSqlTransaction, ReadOnlySqlTransaction
from requests_oauthlib import OAuth1
from sqlalchemy.exc import InternalError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from api.app import create_app
from api.auth import AuthenticatedClient, Authenticator
from api.deps import authenticated_client
from api.error_codes import ErrorCode
from api.errors import ApiError, StoreUnreachable, install_error_handlers
from api.observability import ObservabilityMiddleware
from api.serving import SnapshotSource, SnapshotUnavailableError
from pipelines.logs import FailureStreaks
from pipelines.settings import load_settings
from tests.api.service import NOW, VERIFIED_FRESH, Caller, serving


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    app = FastAPI()
    app.add_middleware(ObservabilityMiddleware)  # echoes x-correlator, as in the service
    install_error_handlers(app)

    @app.get("/conflict")
    def conflict() -> None:
        raise ApiError(409, ErrorCode.CONFLICT, "The template is already under moderation")

    @app.get("/bug")
    def bug() -> None:
        raise RuntimeError("secret internals")

    @app.get("/store-down")
    def store_down() -> None:
        raise OperationalError("select 1", {}, ConnectionRefusedError("connection refused"))

    @app.get("/store-busy")
    def store_busy() -> None:
        raise PoolTimeoutError("QueuePool limit of size 5 overflow 10 reached")

    @app.get("/unscored")
    def unscored() -> None:
        raise SnapshotUnavailableError("no serving snapshot at /srv/ownership/scores yet")

    with serving(app, lifespan="off") as url:
        yield url


@pytest.fixture(scope="module")
def failing_service_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service itself, with a bug in authentication that fails every signed route."""
    folder = tmp_path_factory.mktemp("failing")
    app = create_app(
        load_settings(scores_dir=folder),
        snapshots=SnapshotSource(folder / "snapshot.bin"),
        authenticator=cast(Authenticator, object()),  # never called: the override fails first
        clock=lambda: NOW,
    )

    async def broken_authentication() -> AuthenticatedClient:
        raise RuntimeError("secret internals")

    app.dependency_overrides[authenticated_client] = broken_authentication
    with serving(app) as url:
        yield url


def test_an_api_error_is_rendered_in_the_envelope(base_url: str) -> None:
    response = requests.get(f"{base_url}/conflict", headers={"x-correlator": "req-42"})

    assert response.status_code == 409
    assert response.json() == {
        "status": 409,
        "code": "CONFLICT",
        "message": "The template is already under moderation",
    }
    assert response.headers["x-correlator"] == "req-42"


def test_an_unexpected_error_shows_nothing_of_itself(base_url: str) -> None:
    response = requests.get(f"{base_url}/bug")

    assert response.status_code == 500
    assert response.json() == {"status": 500, "code": "INTERNAL", "message": "Server error"}
    assert "secret internals" not in response.text


def test_no_snapshot_yet_is_unavailable_without_showing_the_servers_folders(
    base_url: str,
) -> None:
    response = requests.get(f"{base_url}/unscored")

    assert response.status_code == 503
    assert response.json()["code"] == "UNAVAILABLE"
    assert "/srv" not in response.text


def test_a_check_before_any_snapshot_is_unavailable_without_showing_the_servers_folders(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "secret-ops-folder"
    folder.mkdir()
    app = create_app(
        load_settings(scores_dir=folder, database_url=f"sqlite:///{tmp_path / 'o.db'}"),
        snapshots=SnapshotSource(folder / "snapshot.bin"),
        clock=lambda: NOW,
    )
    app.dependency_overrides[authenticated_client] = lambda: AuthenticatedClient("bank", "key")

    with serving(app) as url:
        answers = [
            requests.post(f"{url}{path}", json=body)
            for path, body in (
                ("/v1/check", {"phone": VERIFIED_FRESH}),
                ("/v1/check/bulk", {"phones": [VERIFIED_FRESH]}),
                ("/number-recycling/v0.2/check", {"phoneNumber": VERIFIED_FRESH}),
            )
        ]

    for answer in answers:
        assert answer.status_code == 503
        assert answer.json()["code"] == "UNAVAILABLE"
        assert "secret-ops-folder" not in answer.text


def test_a_malformed_correlator_is_not_echoed(base_url: str) -> None:
    response = requests.get(f"{base_url}/conflict", headers={"x-correlator": "a b" * 200})

    assert "x-correlator" not in response.headers


def test_a_failure_of_the_service_keeps_the_envelope_and_echoes_the_correlator(
    failing_service_url: str,
) -> None:
    response = requests.post(
        f"{failing_service_url}/v1/check",
        json={"phone": VERIFIED_FRESH},
        headers={"x-correlator": "req-500"},
        timeout=30,
    )

    assert response.status_code == 500
    assert response.json() == {"status": 500, "code": "INTERNAL", "message": "Server error"}
    assert response.headers["x-correlator"] == "req-500"


@pytest.mark.parametrize("path", ["/store-down", "/store-busy"])
def test_a_store_that_cannot_be_reached_is_503_to_try_again_not_a_500(
    base_url: str, path: str
) -> None:
    response = requests.get(f"{base_url}{path}", headers={"x-correlator": "c-1"})

    assert response.status_code == 503
    assert response.json()["code"] == "UNAVAILABLE"
    assert "refused" not in response.text
    assert response.headers["x-correlator"] == "c-1"


def test_a_body_over_the_bound_is_413_before_it_is_read_or_its_signature_checked(
    caller: Caller,
) -> None:
    # the oauth_ parameters hold, so the body is asked for; the signature is a guess
    forged = OAuth1(caller.key, "not-" + caller.secret, signature_method="HMAC-SHA256")
    declared = requests.post(
        f"{caller.url}/v1/check",
        data=b" " * (2 << 20),
        headers={"Content-Type": "application/json"},
        auth=forged,
        timeout=30,
    )

    def chunks() -> Iterator[bytes]:
        for _ in range(32):
            yield b" " * 65_536

    streamed = requests.post(
        f"{caller.url}/v1/check",
        data=chunks(),
        headers={"Content-Type": "application/json"},
        auth=forged,
        timeout=30,
    )

    for response in (declared, streamed):
        assert response.status_code == 413, response.text
        assert response.json()["code"] == "PAYLOAD_TOO_LARGE"


def test_an_unsigned_body_over_the_bound_is_refused_unread_as_unauthenticated(
    caller: Caller,
) -> None:
    response = requests.post(
        f"{caller.url}/v1/check",
        data=b" " * (2 << 20),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )

    assert response.status_code == 401, response.text
    assert response.json()["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b'{"phone": ', "application/json", "not valid JSON: Expecting value at character 10"),
        (b'{"phone": "+79234567823"}', "text/plain", "must be a JSON object"),
    ],
)
def test_a_body_that_is_no_json_object_is_told_so_plainly(
    caller: Caller, body: bytes, content_type: str, message: str
) -> None:
    auth = OAuth1(
        caller.key, caller.secret, signature_method="HMAC-SHA256", force_include_body=True
    )

    response = requests.post(
        f"{caller.url}/v1/check", data=body, headers={"Content-Type": content_type}, auth=auth
    )

    assert response.status_code == 400, response.text
    assert message in response.json()["message"]


def test_the_health_check_answers_head_as_balancers_ask(caller: Caller) -> None:
    assert requests.head(f"{caller.url}/healthz", timeout=10).status_code == 200


def test_a_method_a_path_does_not_take_is_405_naming_every_method_it_takes(caller: Caller) -> None:
    health = requests.delete(f"{caller.url}/healthz", timeout=10)
    check = requests.get(f"{caller.url}/v1/check", timeout=10)

    assert (health.status_code, health.headers["Allow"]) == (405, "GET, HEAD")
    assert health.json()["code"] == "METHOD_NOT_ALLOWED"
    assert check.headers["Allow"] == "POST"


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/check/"), ("POST", "/v1/notify/"), ("GET", "/healthz/"), ("GET", "/nowhere/")],
)
def test_a_path_with_a_slash_too_many_is_unknown_not_redirected(
    caller: Caller, method: str, path: str
) -> None:
    # a redirect would take a signed call to a URL its signature does not cover: a 401
    auth = OAuth1(caller.key, caller.secret, signature_method="HMAC-SHA256")

    response = requests.request(
        method, f"{caller.url}{path}", auth=auth, allow_redirects=False, timeout=30
    )

    assert response.status_code == 404, response.headers
    assert response.json() == {"status": 404, "code": "NOT_FOUND", "message": "Not Found"}


@pytest.mark.parametrize(
    ("path", "bound"),
    [
        ("/v1/notifications/" + "n" * 41, 40),
        ("/v1/message_template/" + "t" * 33, 32),
    ],
)
def test_an_id_over_its_length_is_told_its_bound_in_characters(
    caller: Caller, path: str, bound: int
) -> None:
    response = caller.get_signed(path)

    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_ARGUMENT"
    assert f"at most {bound} characters" in response.json()["message"]


def test_a_store_down_is_logged_in_one_line_once_without_the_sql_or_its_parameters(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/v1/notify")
    def notify() -> None:
        # the nonce's insert, as the store refuses it, with the caller's key and nonce
        raise OperationalError(
            "INSERT INTO nonces (consumer_key, nonce) VALUES (%(consumer_key)s, %(nonce)s)",
            {"consumer_key": "ck_live_5f3a9e", "nonce": "n0nce-8c1d2b"},
            Exception("connection failed: connection refused\nIs the server running?"),
        )

    with serving(app, lifespan="off") as url:
        answers = [requests.post(f"{url}/v1/notify").status_code for _ in range(20)]

    assert answers == [503] * 20
    told = [record for record in caplog.records if record.name == "api.errors"]
    assert [record.getMessage() for record in told] == [
        "the store failed on POST /v1/notify: "
        "OperationalError: (builtins.Exception) connection failed: connection refused"
    ]
    assert told[0].exc_info is None


def test_a_store_down_for_a_while_is_counted_in_a_line_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seconds = iter(range(0, 1_000, 5))  # a failed request every 5 s
    store_unreachable = StoreUnreachable(
        FailureStreaks(timedelta(minutes=1), lambda: next(seconds))
    )
    request = Request(
        {"type": "http", "method": "GET", "path": "/v1/notifications/n-1", "headers": []}
    )
    for number in range(13):
        refused = Exception(f"connection to server at 127.0.0.1 port 5432 failed, try {number}")
        asyncio.run(store_unreachable(request, OperationalError("SELECT 1", {}, refused)))

    assert [record.getMessage() for record in caplog.records] == [
        "the store failed on GET /v1/notifications/n-1: OperationalError: (builtins.Exception) "
        "connection to server at 127.0.0.1 port 5432 failed, try 0",
        "the store failed 12 more times the same way, last on GET /v1/notifications/n-1: "
        "OperationalError: (builtins.Exception) connection to server at 127.0.0.1 port 5432 "
        "failed, try 12",
    ]


def test_a_store_back_is_told_with_the_failures_counted_and_a_later_outage_told_afresh(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    store_unreachable = StoreUnreachable(FailureStreaks(timedelta(minutes=1), lambda: now[0]))
    request = Request({"type": "http", "method": "POST", "path": "/v1/check", "headers": []})

    def refused() -> None:
        error = OperationalError("SELECT 1", {}, Exception("connection refused"))
        asyncio.run(store_unreachable(request, error))

    with caplog.at_level(logging.INFO, logger="api.errors"):
        for second in range(50):  # a 50 s outage
            now[0] = second
            refused()
        now[0] = 70.0
        store_unreachable.works()  # a call's nonce kept
        now[0] = 3_600.0
        refused()  # another outage, an hour later

    assert [record.getMessage() for record in caplog.records] == [
        "the store failed on POST /v1/check: OperationalError: (builtins.Exception) "
        "connection refused",
        "the store answers again, after 50 failed requests",
        "the store failed on POST /v1/check: OperationalError: (builtins.Exception) "
        "connection refused",
    ]


def test_a_store_that_takes_no_writes_is_503_to_try_again_in_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/v1/check")
    def check() -> None:  # a standby after a failover: psycopg's ReadOnlySqlTransaction
        raise InternalError(
            "INSERT INTO nonces (consumer_key, nonce) VALUES (%(consumer_key)s, %(nonce)s)",
            {"consumer_key": "ck_live_5f3a9e", "nonce": "n0nce-8c1d2b"},
            ReadOnlySqlTransaction("cannot execute INSERT in a read-only transaction"),
        )

    with serving(app, lifespan="off") as url:
        answers = [requests.post(f"{url}/v1/check").status_code for _ in range(5)]

    assert answers == [503] * 5
    told = [record.getMessage() for record in caplog.records if record.name == "api.errors"]
    assert len(told) == 1
    assert "ck_live" not in told[0] and "VALUES" not in told[0]


def test_an_internal_error_of_a_transaction_of_ours_is_a_500_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/v1/check")
    def check() -> None:  # a query after a failed one, in the same transaction
        raise InternalError("SELECT 1", {}, InFailedSqlTransaction("current transaction aborted"))

    app.add_middleware(ObservabilityMiddleware)  # as create_app: it adds the x-correlator
    with serving(app, lifespan="off") as url:
        answer = requests.post(f"{url}/v1/check", headers={"x-correlator": "c-7"})

    assert (answer.status_code, answer.json()["code"]) == (500, "INTERNAL")
    assert answer.raw.headers.getlist("x-correlator") == ["c-7"]  # once
    assert [
        record.exc_info is not None for record in caplog.records if record.name == "api.errors"
    ] == [True]


def test_an_answer_beside_failures_ends_no_run_of_them(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    store_unreachable = StoreUnreachable(FailureStreaks(timedelta(minutes=1), lambda: now[0]))
    request = Request({"type": "http", "method": "POST", "path": "/v1/check", "headers": []})

    with caplog.at_level(logging.INFO, logger="api.errors"):
        for second in range(30):  # every call's nonce kept, its own query timed out
            now[0] = second
            store_unreachable.works()
            error = OperationalError("SELECT 1", {}, Exception("canceling statement"))
            asyncio.run(store_unreachable(request, error))

    assert len(caplog.records) == 1  # the first; the rest counted
