"""Schemathesis over the OpenAPI schema, signed like any client: no 5xx, no answer off-schema.

Bounded to stay fast: a few dozen generated cases per operation, no shrinking. Every default
check runs but two: a schema-valid phone may still be no number (`+00000`), and a valid date
may precede the history, so a 400 for schema-valid data is the API working, not failing; and
the OAuth 1.0a signature is made by the caller's `requests` auth, which replaces any
Authorization header schemathesis generates, so its "invalid auth" calls arrive signed
(tests/api/test_auth.py refuses unsigned and badly signed calls).
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from requests_oauthlib import OAuth1
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

from tests.api.service import Caller

EXAMPLES_PER_OPERATION = 40


def test_every_operation_answers_within_its_schema(caller: Caller) -> None:
    schema = schemathesis.openapi.from_url(f"{caller.url}/openapi.json")
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results), "schemathesis cannot read every operation"
    assert {operation.path for operation in operations} >= {
        "/v1/check",
        "/v1/check/bulk",
        "/number-recycling/v0.2/check",
        "/kyc-tenure/v0.3/check-tenure",
        "/v1/message_template",
        "/v1/message_template/{template_id}",
        "/v1/admin/message_template/{template_id}/decision",
    }

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def answers_within_schema(case: schemathesis.Case[Any]) -> None:
            signed = OAuth1(
                caller.key,
                caller.secret,
                signature_method="HMAC-SHA256",
                force_include_body=isinstance(case.body, dict | list),
            )
            response = case.call(base_url=caller.url, auth=signed)
            case.validate_response(
                response, excluded_checks=[positive_data_acceptance, ignored_auth]
            )

        answers_within_schema()


def test_the_document_lists_the_errors_the_api_answers_with(caller: Caller) -> None:
    document = caller.get("/openapi.json").json()
    operations = {
        f"{method.upper()} {path}": operation
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }

    # a request the schema refuses is answered 400 in the envelope, never FastAPI's 422
    assert "HTTPValidationError" not in str(document)
    envelope = {"$ref": "#/components/schemas/ErrorInfo"}
    for name, operation in operations.items():
        if name not in ("GET /healthz", "GET /metrics", "POST /v1/ping"):
            answer = operation["responses"]["400"]["content"]["application/json"]["schema"]
            assert answer == envelope, name
    # CAMARA's own 422: a call without a phone number (MISSING_IDENTIFIER)
    assert "422" in operations["POST /number-recycling/v0.2/check"]["responses"]
    # what the middleware answers on every route: 413 for a body too large, the correlator
    for name, operation in operations.items():
        if "requestBody" in operation:
            assert operation["responses"]["413"]["content"]["application/json"]["schema"] == (
                envelope
            ), name
        assert "x-correlator" in [parameter["name"] for parameter in operation["parameters"]]
        for answer in operation["responses"].values():
            assert "x-correlator" in answer["headers"], name


def test_the_document_says_how_each_call_is_signed(caller: Caller) -> None:
    document = caller.get("/openapi.json").json()
    schemes = document["components"]["securitySchemes"]

    assert schemes["OAuth1"]["type"] == "http" and schemes["OAuth1"]["scheme"] == "OAuth"
    assert "oauth_body_hash" in schemes["OAuth1"]["description"]
    assert schemes["AdminToken"]["scheme"] == "bearer"
    assert schemes["SmsGateway"]["name"] == "webhook-signature"
    paths = document["paths"]
    assert paths["/v1/check"]["post"]["security"] == [{"OAuth1": []}]
    assert paths["/kyc-tenure/v0.3/check-tenure"]["post"]["security"] == [{"OAuth1": []}]
    decision = paths["/v1/admin/message_template/{template_id}/decision"]["post"]
    assert decision["security"] == [{"AdminToken": []}]
    assert paths["/v1/networks/{network}/events"]["post"]["security"] == [{"NetworkGateway": []}]
    assert "security" not in paths["/healthz"]["get"]
