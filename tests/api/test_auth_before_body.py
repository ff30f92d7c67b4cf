"""Authentication before the body: a caller who cannot sign learns nothing of a route's shape.

FastAPI parses a declared JSON body before it solves any dependency; the client routes
authenticate first (api.deps.AuthenticatedFirst), so an unsigned or badly signed call is 401
whatever its body, and a signed call whose body the route cannot read is still 400. What the
URL and headers alone refuse is refused before a byte of the body is asked for: the caller is
not sent `100 Continue`. What needs a key (the signature) waits for the body, known key or not.
"""

from __future__ import annotations

import dataclasses
import json
import socket
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, asynccontextmanager
from typing import Any

import pytest
import requests
from fastapi import FastAPI
from requests_oauthlib import OAuth1

from api import auth
from api.auth import AuthenticatedClient, Authenticator
from api.deps import AuthenticatedClientDep
from api.errors import install_error_handlers
from tests.api.service import VERIFIED_FRESH, Caller, serving
from tests.api.test_authenticator import RecordingStore
from tests.api.wire import authorization, first_answer, request_sent

SIGNED_ROUTES_WITH_A_BODY = (
    "/v1/check",
    "/v1/check/bulk",
    "/number-recycling/v0.2/check",
    "/kyc-tenure/v0.3/check-tenure",
    "/v1/notify",
    "/v1/message_template",
)
# a body each route cannot read, as (text, content type), and what a signed caller is told
UNREADABLE_BODIES = {
    "cut-short JSON": ('{"phone": "+7923', "application/json", "the body is not valid JSON"),
    "JSON sent as text": (
        '{"phone": "+79234567823"}',
        "text/plain",
        "the body must be a JSON object, sent as application/json",
    ),
}


def post(
    caller: Caller, path: str, body: str, content_type: str, auth: OAuth1 | None
) -> requests.Response:
    return requests.post(
        f"{caller.url}{path}",
        data=body.encode(),
        headers={"Content-Type": content_type},
        auth=auth,
        timeout=30,
    )


def signer(caller: Caller, secret: str | None = None) -> OAuth1:
    # the body hash covers whatever bytes are sent, JSON or not
    return OAuth1(
        caller.key,
        secret or caller.secret,
        signature_method="HMAC-SHA256",
        force_include_body=True,
    )


def assert_unauthenticated(response: requests.Response, message: str) -> None:
    assert response.status_code == 401, response.text
    assert response.json() == {"status": 401, "code": "UNAUTHENTICATED", "message": message}
    assert response.headers["WWW-Authenticate"].startswith("OAuth")


@pytest.mark.parametrize("body", UNREADABLE_BODIES)
@pytest.mark.parametrize("path", SIGNED_ROUTES_WITH_A_BODY)
def test_an_unsigned_call_is_unauthenticated_whatever_its_body(
    caller: Caller, path: str, body: str
) -> None:
    text, content_type, _ = UNREADABLE_BODIES[body]

    response = post(caller, path, text, content_type, auth=None)

    assert_unauthenticated(response, auth.NOT_SIGNED)


@pytest.mark.parametrize("body", UNREADABLE_BODIES)
@pytest.mark.parametrize("path", SIGNED_ROUTES_WITH_A_BODY)
def test_a_badly_signed_call_is_unauthenticated_whatever_its_body(
    caller: Caller, path: str, body: str
) -> None:
    text, content_type, _ = UNREADABLE_BODIES[body]

    response = post(caller, path, text, content_type, signer(caller, "not-" + caller.secret))

    assert_unauthenticated(response, auth.BAD_SIGNATURE)


@pytest.mark.parametrize("body", UNREADABLE_BODIES)
@pytest.mark.parametrize("path", SIGNED_ROUTES_WITH_A_BODY)
def test_a_signed_call_whose_body_cannot_be_read_is_an_invalid_argument(
    caller: Caller, path: str, body: str
) -> None:
    text, content_type, told = UNREADABLE_BODIES[body]

    response = post(caller, path, text, content_type, signer(caller))

    assert response.status_code == 400, response.text
    answer = response.json()
    assert (answer["status"], answer["code"]) == (400, "INVALID_ARGUMENT")
    assert answer["message"].startswith(told)
    assert set(answer) == {"status", "code", "message"}


def test_every_signed_route_with_a_body_is_among_those_authenticated_first(
    caller: Caller,
) -> None:
    """The document's list, so that a route added later is held to the same order."""
    document = caller.get("/openapi.json").json()
    signed_with_a_body = {
        path
        for path, operations in document["paths"].items()
        for operation in operations.values()
        if "requestBody" in operation and {"OAuth1": []} in operation.get("security", [])
    }

    assert signed_with_a_body == set(SIGNED_ROUTES_WITH_A_BODY)


BODY = json.dumps({"phone": VERIFIED_FRESH}).encode()
# requests-oauthlib's arguments that make a call its URL and headers alone refuse, None for an
# unsigned call, and what the caller is told
REFUSED_BY_HEADERS: dict[str, tuple[dict[str, str] | None, str]] = {
    "no oauth_ parameter": (None, auth.NOT_SIGNED),
    "a timestamp of 2001": ({"timestamp": "1000000000"}, auth.STALE),
    "a signature method not allowed": ({"signature_method": "PLAINTEXT"}, auth.BAD_METHOD),
    "an access token": ({"resource_owner_key": "token"}, auth.TOKEN_GIVEN),
}


def waiting_for_the_body(
    caller: Caller, target: str, signing: dict[str, str] | None
) -> AbstractContextManager[socket.socket]:
    """A POST to `target` announcing BODY and waiting, as `Expect: 100-continue` has it, to be
    asked for it; the connection, whose first answer the test reads."""
    headers = {
        "Content-Type": "application/json",
        "Content-Length": str(len(BODY)),
        "Expect": "100-continue",
    }
    if signing is not None:
        headers["Authorization"] = authorization(caller, "POST", target, BODY, **signing)
    return request_sent(caller.url, "POST", target, headers)


@pytest.mark.parametrize("target", ["/v1/check", "/v1/ping"])
@pytest.mark.parametrize("refusal", REFUSED_BY_HEADERS)
def test_a_call_its_url_and_headers_refuse_is_answered_before_its_body_is_asked_for(
    caller: Caller, target: str, refusal: str
) -> None:
    signing, told = REFUSED_BY_HEADERS[refusal]

    with waiting_for_the_body(caller, target, signing) as connection:
        answer = first_answer(connection)

    assert answer.status == 401, answer
    assert json.loads(answer.body) == {"status": 401, "code": "UNAUTHENTICATED", "message": told}


@pytest.mark.parametrize("key", ["known", "unknown"])
def test_a_call_whose_url_and_headers_hold_is_asked_for_its_body_whatever_its_key(
    caller: Caller, key: str
) -> None:
    """Only the signature, which covers the body, tells a known key from an unknown one."""
    signer = caller if key == "known" else dataclasses.replace(caller, key="UnknownKey0000000")

    with waiting_for_the_body(signer, "/v1/check", {}) as connection:
        answer = first_answer(connection)

    assert answer.status == 100, answer


def test_a_client_found_in_the_request_state_is_not_taken_for_a_signature() -> None:
    """A request's state starts as a copy of the lifespan's, and any middleware may write it:
    the client a call was authenticated as is kept where only the signature's check writes."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        app.state.authenticator = Authenticator(RecordingStore({}))
        yield {"signed_by": AuthenticatedClient(name="intruder", key="IntruderKey")}

    app = FastAPI(lifespan=lifespan)
    install_error_handlers(app)

    @app.post("/whoami")
    async def whoami(client: AuthenticatedClientDep) -> dict[str, str]:
        return {"name": client.name}

    with serving(app) as url:
        response = requests.post(f"{url}/whoami", timeout=30)

    assert_unauthenticated(response, auth.NOT_SIGNED)
