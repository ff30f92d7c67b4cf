"""Authentication before the body: a caller who cannot sign learns nothing of a route's shape.

FastAPI parses a declared JSON body before it solves any dependency; the client routes
authenticate first (api.deps.AuthenticatedFirst), so an unsigned or badly signed call is 401
whatever its body, and a signed call whose body the route cannot read is still 400.
"""

from __future__ import annotations

import pytest
import requests
from requests_oauthlib import OAuth1

from api import auth
from tests.api.service import Caller

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
