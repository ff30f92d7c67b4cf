"""Schemathesis over the OpenAPI schema, signed like any client: no 5xx, no answer off-schema.

Bounded to stay fast: a few dozen generated cases per operation, no shrinking. Every default
check runs but one: a schema-valid phone may still be no number (`+00000`), and a valid date
may precede the history, so a 400 for schema-valid data is the API working, not failing.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from requests_oauthlib import OAuth1
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import positive_data_acceptance

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
            case.validate_response(response, excluded_checks=[positive_data_acceptance])

        answers_within_schema()
