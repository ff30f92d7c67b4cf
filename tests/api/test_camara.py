"""CAMARA Number Recycling v0.2 and KYC Tenure v0.3: answers and every error of the issue."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests

from tests.api.service import (
    ACCOUNT_ONLY,
    NO_HOLDER_SINCE_CHANGE,
    NOON_OWNER_SINCE,
    RECYCLED,
    RECYCLED_AT_NOON,
    UNSEEN,
    VERIFIED_FRESH,
    Caller,
)

RECYCLING = "/number-recycling/v0.2/check"
TENURE = "/kyc-tenure/v0.3/check-tenure"
# the recycled number's new holder arrived on 2026-02-21; the history starts on 2025-04-27;
# NO_HOLDER_SINCE_CHANGE was reported changed on 2026-01-02 and no one has shown on it since


def ask(caller: Caller, path: str, body: Any) -> requests.Response:
    return caller.post(path, body, headers={"x-correlator": "camara-7"})


def test_a_number_recycled_after_the_date_answers_true(caller: Caller) -> None:
    response = ask(caller, RECYCLING, {"phoneNumber": RECYCLED, "specifiedDate": "2025-12-01"})

    assert response.status_code == 200
    assert response.json() == {"phoneNumberRecycled": True}
    assert response.headers["x-correlator"] == "camara-7"


def test_a_number_held_since_the_date_answers_false(caller: Caller) -> None:
    for phone, day in ((VERIFIED_FRESH, "2025-06-01"), (RECYCLED, "2026-02-21")):
        response = ask(caller, RECYCLING, {"phoneNumber": phone, "specifiedDate": day})
        assert response.json() == {"phoneNumberRecycled": False}, (phone, day)


def test_tenure_holds_since_a_date_inside_the_current_holders_tenure(caller: Caller) -> None:
    response = ask(caller, TENURE, {"phoneNumber": VERIFIED_FRESH, "tenureDate": "2025-06-01"})

    assert response.status_code == 200
    assert response.json() == {"tenureDateCheck": True}


def test_tenure_fails_since_a_date_before_the_number_changed_hands(caller: Caller) -> None:
    response = ask(caller, TENURE, {"phoneNumber": RECYCLED, "tenureDate": "2025-12-01"})

    assert response.json() == {"tenureDateCheck": False}


@pytest.mark.parametrize("day", ["2025-06-01", "2026-01-02", "2026-01-03", "2026-06-02"])
def test_a_number_no_holder_has_shown_on_since_its_change_is_recycled_and_held_by_no_one(
    caller: Caller, day: str
) -> None:
    recycled = ask(caller, RECYCLING, {"phoneNumber": NO_HOLDER_SINCE_CHANGE, "specifiedDate": day})
    held = ask(caller, TENURE, {"phoneNumber": NO_HOLDER_SINCE_CHANGE, "tenureDate": day})

    assert (recycled.status_code, recycled.json()) == (200, {"phoneNumberRecycled": True})
    assert (held.status_code, held.json()) == (200, {"tenureDateCheck": False})


@pytest.mark.parametrize("path", [RECYCLING, TENURE])
@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"phoneNumber": VERIFIED_FRESH, "DATE": "2030-01-01"}, 400, "OUT_OF_RANGE"),
        ({"phoneNumber": VERIFIED_FRESH, "DATE": "2024-01-01"}, 400, "OUT_OF_RANGE"),
        ({"phoneNumber": VERIFIED_FRESH, "DATE": "2025-13-45"}, 400, "INVALID_ARGUMENT"),
        ({"phoneNumber": VERIFIED_FRESH, "DATE": "yesterday"}, 400, "INVALID_ARGUMENT"),
        # a date, and only a date: no Unix time, no time of day, no basic format
        ({"phoneNumber": VERIFIED_FRESH, "DATE": 1748736000}, 400, "INVALID_ARGUMENT"),
        ({"phoneNumber": VERIFIED_FRESH, "DATE": "2025-06-01T00:00:00"}, 400, "INVALID_ARGUMENT"),
        ({"phoneNumber": VERIFIED_FRESH, "DATE": "20250601"}, 400, "INVALID_ARGUMENT"),
        ({"phoneNumber": "79234567823", "DATE": "2025-06-01"}, 400, "INVALID_ARGUMENT"),
        ({"phoneNumber": "+7 923", "DATE": "2025-06-01"}, 400, "INVALID_ARGUMENT"),
        # CAMARA's form, but no operator issues them: not found, as CAMARA's C02.02 says
        ({"phoneNumber": "+12345", "DATE": "2025-06-01"}, 404, "IDENTIFIER_NOT_FOUND"),
        ({"phoneNumber": "+999123456789", "DATE": "2025-06-01"}, 404, "IDENTIFIER_NOT_FOUND"),
        # read as +79161234567 by phonenumbers: the answer would be about another number
        (
            {"phoneNumber": "+7" + "8" + RECYCLED[2:], "DATE": "2025-06-01"},
            404,
            "IDENTIFIER_NOT_FOUND",
        ),
        # the request's own faults first: a date in the future of a number not found
        ({"phoneNumber": "+12345", "DATE": "2030-01-01"}, 400, "OUT_OF_RANGE"),
        (None, 400, "INVALID_ARGUMENT"),
        ({}, 400, "INVALID_ARGUMENT"),
        ({"phoneNumber": VERIFIED_FRESH, "DATE": "2025-06-01", "x": 1}, 400, "INVALID_ARGUMENT"),
        ({"phoneNumber": UNSEEN, "DATE": "2025-06-01"}, 404, "IDENTIFIER_NOT_FOUND"),
        ({"phoneNumber": ACCOUNT_ONLY, "DATE": "2025-06-01"}, 404, "IDENTIFIER_NOT_FOUND"),
        ({"DATE": "2025-06-01"}, 422, "MISSING_IDENTIFIER"),
    ],
)
def test_errors_follow_camara(
    caller: Caller, path: str, body: dict[str, Any] | None, status: int, code: str
) -> None:
    field = "specifiedDate" if path == RECYCLING else "tenureDate"
    if body is not None:
        body = {field if name == "DATE" else name: value for name, value in body.items()}

    response = ask(caller, path, body)

    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert response.json()["status"] == status
    assert set(response.json()) == {"status", "code", "message"}
    assert response.headers["x-correlator"] == "camara-7"


@pytest.mark.parametrize("days_before", [-1, 0, 1])
def test_a_date_asks_the_check_and_the_camara_routes_about_the_whole_day_alike(
    caller: Caller, days_before: int
) -> None:
    # the new holder registered at noon: after the day before, not after the day itself
    day = (NOON_OWNER_SINCE - timedelta(days=days_before)).date().isoformat()
    recycled = ask(caller, RECYCLING, {"phoneNumber": RECYCLED_AT_NOON, "specifiedDate": day})
    tenure = ask(caller, TENURE, {"phoneNumber": RECYCLED_AT_NOON, "tenureDate": day})
    single = caller.post("/v1/check", {"phone": RECYCLED_AT_NOON, "since": day}).json()
    bulk = caller.post("/v1/check/bulk", {"phones": [RECYCLED_AT_NOON], "since": day}).json()

    changed = days_before == 1
    assert recycled.json() == {"phoneNumberRecycled": changed}
    assert tenure.json() == {"tenureDateCheck": not changed}
    assert single["changed_since"] is bulk["results"][0]["changed_since"] is changed
