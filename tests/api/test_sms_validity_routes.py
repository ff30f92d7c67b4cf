"""`sms_validity` on `POST /v1/notify`: how long the notification's SMS stays worth delivering,
refused in the envelope when it is no whole number of seconds from five minutes to a week, the
service's own when not given, and part of what a repeat must say alike."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.service import RECYCLED, Caller
from tests.api.test_notify_routes import body

# the service's own validity behind `caller` (NotifyService's default, as the setting's)
THE_SERVICES = 36_000
A_CODES_FIVE_MINUTES = 300


def shown(caller: Caller, request_id: str, **overrides: Any) -> dict[str, Any]:
    response = caller.post("/v1/notify", body(request_id, phone=RECYCLED, **overrides))
    assert response.status_code == 202, response.text
    found = caller.get_signed(f"/v1/notifications/{response.json()['id']}")
    assert found.status_code == 200, found.text
    return dict(found.json())


def test_a_notification_without_an_sms_validity_gets_the_services_own(caller: Caller) -> None:
    assert shown(caller, "validity-default")["sms_validity"] == THE_SERVICES


def test_a_notification_keeps_the_sms_validity_its_client_chose(caller: Caller) -> None:
    chosen = shown(caller, "validity-otp", sms_validity=A_CODES_FIVE_MINUTES)

    assert chosen["sms_validity"] == A_CODES_FIVE_MINUTES


def test_a_validity_longer_than_the_services_own_is_taken_and_shown_as_the_services(
    caller: Caller,
) -> None:
    # a week is a validity the API takes; this service hands an SMS over for ten hours at most
    assert shown(caller, "validity-week", sms_validity=7 * 86_400)["sms_validity"] == THE_SERVICES


@pytest.mark.parametrize(
    ("sms_validity", "code", "said"),
    [
        (299, "OUT_OF_RANGE", "between 300 s and 604800 s, not 299 s"),
        (60, "OUT_OF_RANGE", "not 60 s"),  # a crash before a hand-over is recovered only then
        (604_801, "OUT_OF_RANGE", "between 300 s and 604800 s, not 604801 s"),
        (0, "OUT_OF_RANGE", "not 0 s"),
        (-300, "OUT_OF_RANGE", "not -300 s"),
        (2**40, "OUT_OF_RANGE", "between 300 s and 604800 s"),  # however far out
        (-(10**30), "OUT_OF_RANGE", "between 300 s and 604800 s"),  # beyond any duration
        (1e300, "OUT_OF_RANGE", "between 300 s and 604800 s"),  # whole, with an exponent
        ("300", "INVALID_ARGUMENT", "not text"),
        (True, "INVALID_ARGUMENT", "not true or false"),
        (300.5, "INVALID_ARGUMENT", "sms_validity"),
        ([300], "INVALID_ARGUMENT", "sms_validity"),
    ],
)
def test_an_sms_validity_that_is_no_whole_number_of_seconds_within_bounds_is_refused(
    caller: Caller, sms_validity: object, code: str, said: str
) -> None:
    response = caller.post("/v1/notify", body(f"validity-{code}", sms_validity=sms_validity))

    assert response.status_code == 400, response.text
    assert response.json()["code"] == code
    assert said in response.json()["message"]
    assert set(response.json()) == {"status", "code", "message"}


def test_a_repeat_with_another_sms_validity_is_a_conflict(caller: Caller) -> None:
    first = caller.post("/v1/notify", body("validity-repeat", sms_validity=600))
    again = caller.post("/v1/notify", body("validity-repeat", sms_validity=600))
    otherwise = caller.post("/v1/notify", body("validity-repeat", sms_validity=900))
    silent = caller.post("/v1/notify", body("validity-repeat"))

    assert first.status_code == again.status_code == 202, first.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert otherwise.status_code == silent.status_code == 409
    assert otherwise.json()["code"] == "CONFLICT"


def test_a_repeat_that_never_named_a_validity_is_the_same_request_as_before(
    caller: Caller,
) -> None:
    assert caller.post("/v1/notify", body("validity-none")).status_code == 202

    again = caller.post("/v1/notify", body("validity-none"))
    named = caller.post("/v1/notify", body("validity-none", sms_validity=THE_SERVICES))

    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    # naming the service's validity of today is not leaving it to the service
    assert named.status_code == 409


def test_the_openapi_document_gives_the_bounds_and_an_example(caller: Caller) -> None:
    document = caller.get("/openapi.json").json()
    field = document["components"]["schemas"]["NotificationCreate"]["properties"]["sms_validity"]
    examples = document["paths"]["/v1/notify"]["post"]["requestBody"]["content"][
        "application/json"
    ]["examples"]

    assert "expired" in str(field) and "300 to 604800" in str(field)
    assert any("sms_validity" in example["value"] for example in examples.values())


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("1e309", "not a number that large"),  # valid JSON, read as infinity
        ("-1e309", "not a negative number that large"),
        ("1e300", "not a number that large"),  # not three hundred digits repeated back
        (str(10**25), "not a number that large"),
    ],
)
def test_a_validity_past_any_duration_is_out_of_range_and_named_not_written_out(
    caller: Caller, written: str, said: str
) -> None:
    text = json.dumps(body(f"validity-{written}", sms_validity=0))
    text = text.replace('"sms_validity": 0', f'"sms_validity": {written}')
    response = caller.post_text("/v1/notify", text)

    assert response.status_code == 400, response.text
    assert response.json()["code"] == "OUT_OF_RANGE"
    assert response.json()["message"] == f"sms_validity must be between 300 s and 604800 s, {said}"


def test_a_validity_of_nan_is_refused_as_no_number(caller: Caller) -> None:
    text = json.dumps(body("validity-nan", sms_validity=0))
    response = caller.post_text(
        "/v1/notify", text.replace('"sms_validity": 0', '"sms_validity": NaN')
    )

    assert response.status_code == 400, response.text
    assert response.json()["code"] == "INVALID_ARGUMENT"
    assert response.json()["message"].endswith("a number of seconds, not NaN")
