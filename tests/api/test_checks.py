"""`POST /v1/check` and `/v1/check/bulk` over HTTP, signed by requests-oauthlib."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
import requests
from jsonschema import Draft202012Validator
from requests_oauthlib import OAuth1

from tests.api.service import (
    ACCOUNT_ONLY,
    CHANGE_REPORTED_AT,
    NO_HOLDER_SINCE_CHANGE,
    NOW,
    RECYCLED,
    RECYCLED_OWNER_SINCE,
    SUSPICIOUS,
    TIMES_BEYOND_UTC,
    UNSEEN,
    VERIFIED_FRESH,
    Caller,
)


def check(caller: Caller, phone: str, **options: Any) -> dict[str, Any]:
    response = caller.post("/v1/check", {"phone": phone, **options})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_a_verified_number_with_a_fresh_code_is_delivered_even_when_sensitive(
    caller: Caller,
) -> None:
    answer = check(caller, VERIFIED_FRESH, since="2025-06-01", sensitive=True)

    assert answer["phone_masked"] == "+792* *** ** 23"
    assert answer["status"] == "verified"
    assert [reason["code"] for reason in answer["reasons"]] == [
        "RECENT_CODE_ENTRY",
        "STEADY_SMS_DELIVERY",
    ]
    assert answer["reasons"][0]["at"] == "2026-05-22T00:00:00Z"  # the code ten days before
    assert answer["owner_since"] == "2025-04-27T00:00:00Z"
    assert answer["changed_since"] is False
    assert (answer["action"], answer["policy_case"]) == ("deliver", "VERIFIED_FRESH")
    assert answer["channels"] == [{"network": "vk", "active": True, "mobile_app": True}]
    assert answer["as_of"] == "2026-06-01T00:00:00Z"


def test_a_recycled_number_goes_by_sms_and_answers_changed_since_a_date_before_the_change(
    caller: Caller,
) -> None:
    before = check(caller, RECYCLED, since="2025-12-01", sensitive=False)
    after = check(caller, RECYCLED, since=RECYCLED_OWNER_SINCE.isoformat())

    assert before["status"] == "owner_changed"
    assert [reason["code"] for reason in before["reasons"]] == ["PROFILE_MISMATCH"]
    assert before["action"] == "sms"
    assert before["changed_since"] is True
    assert after["changed_since"] is False


def test_a_number_no_holder_has_shown_on_since_its_change_answers_changed_since_any_date(
    caller: Caller,
) -> None:
    for since in ("2025-06-01", CHANGE_REPORTED_AT.isoformat(), "2026-05-31"):
        answer = check(caller, NO_HOLDER_SINCE_CHANGE, since=since)
        assert answer["status"] == "owner_changed"
        assert [reason["code"] for reason in answer["reasons"]] == ["NUMBER_CHANGE_REPORTED"]
        assert answer["owner_since"] is None
        assert answer["changed_since"] is True, since


def test_bulk_answers_a_number_no_holder_has_shown_on_as_the_single_check_does(
    caller: Caller,
) -> None:
    phones = [NO_HOLDER_SINCE_CHANGE, RECYCLED, UNSEEN]

    for since in ("2026-05-31", "2024-01-01"):
        results = caller.post("/v1/check/bulk", {"phones": phones, "since": since}).json()

        assert results["results"] == [check(caller, phone, since=since) for phone in phones]
    assert results["results"][0]["changed_since"] is None  # before the history: no answer


def test_a_suspicious_number_is_reverified_when_sensitive_and_needs_the_app_when_asked(
    caller: Caller,
) -> None:
    assert check(caller, SUSPICIOUS)["action"] == "deliver"
    assert check(caller, SUSPICIOUS, sensitive=True)["action"] == "reverify"
    mobile = check(caller, SUSPICIOUS, mobile_only=True)
    assert (mobile["action"], mobile["policy_case"]) == ("sms", "NO_MOBILE_APP")


def test_a_number_without_history_is_unknown_and_goes_by_sms(caller: Caller) -> None:
    for phone in (UNSEEN, ACCOUNT_ONLY):
        answer = check(caller, phone, since="2025-06-01")
        assert answer["status"] == "unknown"
        assert answer["reasons"] == [{"code": "NO_HISTORY", "at": None}]
        assert answer["changed_since"] is None
        assert answer["action"] == "sms"


def test_a_date_before_the_history_has_no_answer(caller: Caller) -> None:
    assert check(caller, VERIFIED_FRESH, since="2024-01-01")["changed_since"] is None


def test_a_date_in_the_future_is_refused_as_out_of_range_as_the_camara_routes_refuse_it(
    caller: Caller,
) -> None:
    today, tomorrow = NOW.date().isoformat(), (NOW + timedelta(days=1)).date().isoformat()
    soon, later = (NOW + timedelta(minutes=1)).isoformat(), (NOW + timedelta(hours=1)).isoformat()

    for since in (today, soon):  # a clock a little ahead of the service's is no error
        assert check(caller, VERIFIED_FRESH, since=since)["changed_since"] is False
    for since in (tomorrow, later):
        single = caller.post("/v1/check", {"phone": VERIFIED_FRESH, "since": since})
        bulk = caller.post("/v1/check/bulk", {"phones": [VERIFIED_FRESH], "since": since})

        for response in (single, bulk):
            assert response.status_code == 400, response.text
            assert response.json()["code"] == "OUT_OF_RANGE"
            assert "in the future" in response.json()["message"]


def test_a_messy_but_valid_number_is_accepted(caller: Caller) -> None:
    assert check(caller, "+7 (923) 456-78-23")["phone"] == VERIFIED_FRESH


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"phone": "garbage"}, "not a valid phone number"),
        ({"phone": "+7923"}, "not a valid phone number"),
        ({"phone": VERIFIED_FRESH + "\x00"}, "control character or what is no text"),
        ({"phone": VERIFIED_FRESH + "\udc80"}, "control character or what is no text"),
        ({"phone": VERIFIED_FRESH, "colour": "red"}, "colour"),
        ({"phone": VERIFIED_FRESH, "since": "yesterday"}, "since"),
        ({}, "phone"),
    ],
)
def test_bad_input_gets_a_clear_400_in_the_envelope(
    caller: Caller, body: dict[str, Any], message: str
) -> None:
    response = caller.post("/v1/check", body, headers={"x-correlator": "abc-123"})

    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_ARGUMENT"
    assert message in response.json()["message"]
    assert set(response.json()) == {"status", "code", "message"}
    assert response.headers["x-correlator"] == "abc-123"


@pytest.mark.parametrize("since", TIMES_BEYOND_UTC)
def test_a_since_beyond_the_utc_calendar_is_an_invalid_argument(caller: Caller, since: str) -> None:
    response = caller.post("/v1/check", {"phone": VERIFIED_FRESH, "since": since})

    assert response.status_code == 400, response.text
    assert response.json()["code"] == "INVALID_ARGUMENT"
    assert "since" in response.json()["message"]
    assert "out of range" in response.json()["message"]


@pytest.mark.parametrize("since", TIMES_BEYOND_UTC)
def test_bulk_refuses_a_since_beyond_the_utc_calendar_as_an_invalid_argument(
    caller: Caller, since: str
) -> None:
    response = caller.post("/v1/check/bulk", {"phones": [VERIFIED_FRESH], "since": since})

    assert response.status_code == 400, response.text
    assert response.json()["code"] == "INVALID_ARGUMENT"
    assert "out of range" in response.json()["message"]


def test_bulk_answers_in_order_with_an_error_for_each_bad_number(caller: Caller) -> None:
    phones = [RECYCLED, "garbage", VERIFIED_FRESH, UNSEEN, "+7 903 111-22-33", SUSPICIOUS]

    response = caller.post("/v1/check/bulk", {"phones": phones, "since": "2025-12-01"})

    assert response.status_code == 200
    results = response.json()["results"]
    assert [item["phone"] for item in results] == [
        RECYCLED,
        "garbage",
        VERIFIED_FRESH,
        UNSEEN,
        SUSPICIOUS,
        SUSPICIOUS,
    ]
    assert results[1]["error"]["code"] == "INVALID_ARGUMENT"
    for phone, item in zip(phones, results, strict=True):
        if "error" not in item:
            assert item == check(caller, phone, since="2025-12-01")


def test_bulk_answers_a_number_written_with_its_national_prefix_as_the_single_check_does(
    caller: Caller,
) -> None:
    # +7 923 456-78-23 with the trunk prefix 8 kept: E.164 in form, another number in fact
    written = "+78" + VERIFIED_FRESH.removeprefix("+7")

    results = caller.post("/v1/check/bulk", {"phones": [written], "since": "2025-12-01"}).json()

    assert results["results"] == [check(caller, written, since="2025-12-01")]
    assert results["results"][0]["phone"] == VERIFIED_FRESH


def test_a_bulk_item_that_is_not_text_is_refused_alone(caller: Caller) -> None:
    response = caller.post("/v1/check/bulk", {"phones": [VERIFIED_FRESH, "\ud800"]})

    assert response.status_code == 200
    fresh, broken = response.json()["results"]
    assert fresh == check(caller, VERIFIED_FRESH)
    assert broken["phone"] == "\ud800"
    assert broken["error"]["code"] == "INVALID_ARGUMENT"


@pytest.mark.parametrize("item", [None, 79234567823, True, {"phone": "+79234567823"}, []])
def test_a_bulk_item_that_is_no_string_is_answered_in_place(caller: Caller, item: object) -> None:
    response = caller.post("/v1/check/bulk", {"phones": [VERIFIED_FRESH, item, SUSPICIOUS]})

    assert response.status_code == 200, response.text
    fresh, odd, suspicious = response.json()["results"]
    assert (fresh, suspicious) == (check(caller, VERIFIED_FRESH), check(caller, SUSPICIOUS))
    assert odd["phone"] == item
    assert odd["error"]["code"] == "INVALID_ARGUMENT" and "string" in odd["error"]["message"]
    published = requests.get(f"{caller.url}/openapi.json", timeout=30).json()
    answer = {"$ref": "#/components/schemas/BulkCheckResponse"} | published
    Draft202012Validator(answer).validate(response.json())  # as a client generated from it


@pytest.mark.parametrize(
    ("items", "echoed"),
    [
        (b"NaN, Infinity", ["nan", "inf"]),
        (b'[{"x": NaN}], [Infinity, -Infinity]', [[{"x": "nan"}], ["inf", "-inf"]]),
    ],
    ids=["bare", "held-inside"],
)
def test_a_bulk_item_json_cannot_hold_is_echoed_as_text_at_any_depth(
    caller: Caller, items: bytes, echoed: list[object]
) -> None:
    body = b'{"phones": ["' + VERIFIED_FRESH.encode() + b'", ' + items + b"]}"
    auth = OAuth1(
        caller.key, caller.secret, signature_method="HMAC-SHA256", force_include_body=True
    )

    response = requests.post(
        f"{caller.url}/v1/check/bulk",
        data=body,
        headers={"Content-Type": "application/json"},
        auth=auth,
        timeout=30,
    )

    assert response.status_code == 200, response.text
    results = json.loads(response.text, parse_constant=pytest.fail)["results"]
    assert [item["phone"] for item in results[1:]] == echoed


def test_bulk_takes_at_most_ten_thousand_numbers(caller: Caller) -> None:
    response = caller.post("/v1/check/bulk", {"phones": [VERIFIED_FRESH] * 10_001})

    assert response.status_code == 400
    assert "phones" in response.json()["message"]


def test_health_and_metrics_report_the_snapshot_and_the_requests(caller: Caller) -> None:
    check(caller, VERIFIED_FRESH)

    health = caller.get("/healthz").json()
    metrics = caller.get("/metrics").text

    assert health == {
        "status": "ok",
        "snapshot_as_of": "2026-06-01T00:00:00Z",
        "snapshot_numbers": 8,
    }
    assert 'ownership_http_requests_total{method="POST",route="/v1/check",status="200"}' in metrics
    assert "ownership_http_request_duration_seconds_bucket" in metrics
    assert "ownership_snapshot_as_of_seconds 1.780272e+09" in metrics
    assert "ownership_snapshot_numbers 8.0" in metrics


def test_the_docs_pages_load_everything_from_the_service_itself(caller: Caller) -> None:
    for page in ("/docs", "/redoc"):
        assert requests.head(f"{caller.url}{page}", timeout=30).status_code == 200
        html = caller.get(page).text
        sources = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", html)
        scripts = [source for source in sources if source.endswith(".js")]

        assert scripts, page
        assert [source for source in sources if "//" in source] == [], page
        for source in sources:
            asset = caller.get(source)
            assert asset.status_code == 200, source
            assert len(asset.content) > 1000, source


def test_the_docs_pages_are_counted_under_their_own_routes(caller: Caller) -> None:
    for path in ("/docs", "/openapi.json", "/nowhere", "/docs-assets/swagger-ui.css"):
        caller.get(path)
    caller.get("/docs-assets/made-up-name.js")

    metrics = caller.get("/metrics").text

    assert 'ownership_http_requests_total{method="GET",route="/docs",status="200"}' in metrics
    assert 'route="/openapi.json",status="200"' in metrics
    assert 'route="/docs-assets",status="200"' in metrics
    assert 'route="/docs-assets",status="404"' in metrics
    assert 'ownership_http_requests_total{method="GET",route="unmatched",status="404"}' in metrics
    assert 'route="unmatched",status="200"' not in metrics


@pytest.mark.parametrize("route", ["/v1/check", "/v1/check/bulk"])
@pytest.mark.parametrize("flag", [{"sensitive": "yes"}, {"sensitive": 1}, {"mobile_only": "true"}])
def test_a_yes_or_no_given_as_text_or_a_number_is_an_invalid_argument(
    caller: Caller, route: str, flag: dict[str, object]
) -> None:
    number = {"phone": VERIFIED_FRESH} if route == "/v1/check" else {"phones": [VERIFIED_FRESH]}
    response = caller.post(route, number | flag)

    assert response.status_code == 400, response.text
    assert response.json()["code"] == "INVALID_ARGUMENT"
    assert next(iter(flag)) in response.json()["message"]


@pytest.mark.parametrize(
    ("since", "said"),
    [
        (1_700_000_000, "not a number"),
        ("1763683200", "not a number"),  # Unix time as text
        ("1700000000.5", "not a number"),
        ("20261101", "not a number"),  # a date without its dashes
        ("1.7e9", "not a number"),
        (".5", "not a number"),
        (True, "not true or false"),
        ("yesterday", "YYYY-MM-DD first), not 'yesterday'"),  # no number, nor a date
        ("01/11/2026", "not '01/11/2026'"),
        ("1.2.3", "not '1.2.3'"),  # no number either
        ([2026], "not an array"),
    ],
)
def test_a_since_written_as_a_number_is_refused_not_read_as_unix_time(
    caller: Caller, since: object, said: str
) -> None:
    for response in (
        caller.post("/v1/check", {"phone": VERIFIED_FRESH, "since": since}),
        caller.post("/v1/check/bulk", {"phones": [VERIFIED_FRESH], "since": since}),
    ):
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "INVALID_ARGUMENT"
        assert said in response.json()["message"]
