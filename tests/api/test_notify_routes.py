"""`POST /v1/notify`, `GET /v1/notifications/{id}` and `GET /v1/billing` over HTTP: answers and
a clear 4xx in the envelope for every kind of bad input."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from prometheus_client import REGISTRY
from requests_oauthlib import OAuth1

from store.clients import set_max_action_age
from store.database import session_factory
from tests.api.conftest import served_history
from tests.api.service import NOW, RECYCLED, TIMES_BEYOND_UTC, VERIFIED_FRESH, Caller

ACTION = {"type": "order", "at": NOW.isoformat() + "Z"}


def body(request_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "phone": VERIFIED_FRESH,
        "template_id": "tpl_order",
        "params": {"order": "A-17"},
        "action": ACTION,
        "ttl": 600,
    } | overrides


def value_of(metrics: str, series: str) -> float:
    return next(float(line.split()[-1]) for line in metrics.splitlines() if line.startswith(series))


def test_the_metrics_count_accepted_notifications_and_show_those_under_way(
    tmp_path: Path,
) -> None:
    accepted = 'ownership_notifications_accepted_total{action="sms"}'
    before = REGISTRY.get_sample_value("ownership_notifications_accepted_total", {"action": "sms"})
    for served in served_history(tmp_path):  # a service of its own: its first scrape is below
        served.caller.post("/v1/notify", body("metrics-1", phone=RECYCLED))
        served.caller.post("/v1/notify", body("metrics-1", phone=RECYCLED))  # a repeat

        metrics = served.caller.get("/metrics").text

    assert value_of(metrics, accepted) == (before or 0) + 1  # the repeat not counted again
    # no job runs in this service: what it accepted waits in `accepted`
    assert value_of(metrics, 'ownership_notifications_under_way{status="accepted"}') == 1
    assert value_of(metrics, "ownership_notifications_overdue") == 0
    assert value_of(metrics, "ownership_store_up") == 1


def test_a_notification_is_accepted_with_its_action_and_shown_with_its_history(
    caller: Caller,
) -> None:
    response = caller.post("/v1/notify", body("n-1", phone=RECYCLED))

    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["action"] == "sms" and answer["status"] == "accepted"
    shown = caller.get_signed(f"/v1/notifications/{answer['id']}").json()
    assert shown["phone_masked"] == "+791* *** ** 67"
    assert shown["decision"] == "sms" and shown["number_status"] == "owner_changed"
    assert [step["status"] for step in shown["history"]] == ["accepted"]


def test_a_repeated_request_id_returns_the_first_answer(caller: Caller) -> None:
    first = caller.post("/v1/notify", body("n-2"))
    again = caller.post("/v1/notify", body("n-2"))

    assert again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"template_id": "tpl_none"}, 404, "TEMPLATE_NOT_FOUND"),
        ({"template_id": "tpl_pending"}, 422, "TEMPLATE_NOT_APPROVED"),
        ({"params": {}}, 422, "MISSING_PARAMS"),
        ({"action": {"type": "order", "at": "2026-05-01T00:00:00Z"}}, 422, "STALE_ACTION"),
        ({"ttl": 5}, 400, "OUT_OF_RANGE"),
        ({"ttl": 86_401}, 400, "OUT_OF_RANGE"),
        ({"ttl": -1}, 400, "OUT_OF_RANGE"),
        ({"ttl": 2**40}, 400, "OUT_OF_RANGE"),  # however far out, the bounds are the answer
        ({"ttl": -(10**30)}, 400, "OUT_OF_RANGE"),  # beyond any duration
        ({"ttl": 1e300}, 400, "OUT_OF_RANGE"),  # a whole number written with an exponent
        ({"ttl": " 60 "}, 400, "INVALID_ARGUMENT"),  # seconds are a number, not text
        ({"ttl": 60.5}, 400, "INVALID_ARGUMENT"),  # a whole number of seconds
        ({"callback_url": "https://user:secret@bank.example/hooks"}, 400, "INVALID_ARGUMENT"),
        ({"phone": "garbage"}, 400, "INVALID_ARGUMENT"),
        # a UK mobile: no price is set for the country, so nothing sent there could be billed
        ({"phone": "+447911123456"}, 422, "SERVICE_NOT_APPLICABLE"),
        ({"fallback": "pigeon"}, 400, "INVALID_ARGUMENT"),
        ({"colour": "red"}, 400, "INVALID_ARGUMENT"),
        # a yes or no where a number or a yes or no is due is not read as one
        ({"ttl": True}, 400, "INVALID_ARGUMENT"),
        ({"sensitive": "yes"}, 400, "INVALID_ARGUMENT"),
        ({"mobile_only": 1}, 400, "INVALID_ARGUMENT"),
    ],
)
def test_bad_input_gets_a_clear_4xx(
    caller: Caller, overrides: dict[str, Any], status: int, code: str
) -> None:
    response = caller.post("/v1/notify", body(f"bad-{code}-{status}", **overrides))

    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert set(response.json()) == {"status", "code", "message"}


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",  # a cloud's metadata service
        "http://127.0.0.1:5432/",
        "http://2130706433/",  # 127.0.0.1 written as one number
        "http://localhost/hooks",
        "http://api.localhost/hooks",
        "http://10.0.0.1/hooks",
        "http://192.168.1.10/hooks",
        "http://[::1]:8080/hooks",
        "http://[::ffff:127.0.0.1]/hooks",
        "http://[fd00::1]/hooks",
    ],
)
def test_a_callback_url_into_a_private_network_is_refused(caller: Caller, url: str) -> None:
    response = caller.post("/v1/notify", body(f"ssrf-{url}", callback_url=url))

    assert response.status_code == 400, response.text
    assert response.json()["code"] == "INVALID_ARGUMENT"
    assert "public address" in response.json()["message"]


def test_a_callback_url_at_a_public_address_is_taken(caller: Caller) -> None:
    response = caller.post("/v1/notify", body("public", callback_url="https://203.0.114.9/h"))

    assert response.status_code == 202, response.text


def test_a_callback_url_longer_than_a_url_is_refused_naming_the_field(caller: Caller) -> None:
    # copied into the notification and every webhook row it causes: a megabyte of it would be
    # stored a dozen times over
    megabyte = "https://bank.example/" + "a" * 1_000_000
    response = caller.post("/v1/notify", body("long-callback", callback_url=megabyte))

    assert response.status_code == 400, response.text[:300]
    assert response.json()["code"] == "INVALID_ARGUMENT"
    assert response.json()["message"].startswith("callback_url:")
    assert len(response.text) < 1_000  # the URL is not echoed back


def test_a_callback_url_of_the_longest_length_allowed_is_taken(caller: Caller) -> None:
    longest = "https://bank.example/" + "a" * (2_048 - len("https://bank.example/"))
    response = caller.post("/v1/notify", body("longest-callback", callback_url=longest))

    assert response.status_code == 202, response.text


def test_an_operator_may_let_clients_on_its_own_network_name_private_addresses(
    tmp_path: Path,
) -> None:
    for served in served_history(tmp_path, callback_private_addresses=True):
        hooks = "http://10.0.0.7:8080/hooks"
        response = served.caller.post("/v1/notify", body("inside", callback_url=hooks))

        assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"params": {"order": "A\x0017"}}, "params.order"),
        ({"params": {"order\x00": "A-17"}}, "params.order\x00.[key]"),
        ({"request_id": "nul\x00"}, "request_id"),
        ({"template_id": "tpl_order\x00"}, "template_id"),
        ({"callback_url": "https://bank.example/hooks\x00"}, "callback_url"),
    ],
)
def test_a_nul_character_is_an_invalid_argument_naming_the_field_on_each_store(
    caller_on_each_store: Caller, overrides: dict[str, Any], field: str
) -> None:
    named = field.replace("\x00", "")
    response = caller_on_each_store.post("/v1/notify", body(f"nul-{named}") | overrides)

    assert response.status_code == 400, response.text
    assert response.json() == {
        "status": 400,
        "code": "INVALID_ARGUMENT",
        "message": f"{field}: the NUL character (\\u0000) is not allowed",
    }
    assert caller_on_each_store.post("/v1/notify", body(f"after-{named}")).status_code == 202


@pytest.mark.parametrize(
    "value",
    [
        "\u202e!ocsid %05 :elas giB",  # shown as "Big sale: 50% discount!", read backwards
        "\u2067!ocsid %05 :elas giB\u2069",
        "A-17\x1b[2J\x07",
        "A-17\x85",
        "12\u200f34\u200f56",  # shown as 125634: a mark moves a digit group
        "A\u061c-17",
        "A\u200e-17",
        "A\u206a-17",
    ],
)
def test_a_value_a_message_cannot_show_as_written_is_an_invalid_argument(
    caller: Caller, value: str
) -> None:
    response = caller.post("/v1/notify", body("unshowable") | {"params": {"order": value}})

    assert (response.status_code, response.json()["code"]) == (400, "INVALID_ARGUMENT")
    assert response.json()["message"].startswith("params.order: control characters")


def test_a_value_with_new_lines_tabs_and_other_scripts_is_sent(caller: Caller) -> None:
    value = "A-17\r\nкорпус 2\tподъезд ב 👨\u200d👩\u200d👧"

    response = caller.post("/v1/notify", body("marks") | {"params": {"order": value}})

    assert response.status_code == 202, response.text


def test_a_notification_id_no_store_holds_is_an_invalid_argument_on_each_store(
    caller_on_each_store: Caller,
) -> None:
    response = caller_on_each_store.get_signed("/v1/notifications/ntf_%00")  # PostgreSQL: a 500

    assert (response.status_code, response.json()["code"]) == (400, "INVALID_ARGUMENT")


def test_half_of_a_utf16_pair_is_an_invalid_argument_on_each_store(
    caller_on_each_store: Caller,
) -> None:
    lone = body("lone-surrogate") | {"params": {"order": "A-\ud83417"}}  # JSON may escape it

    response = caller_on_each_store.post("/v1/notify", lone)

    assert response.status_code == 400, response.text
    assert response.json()["code"] == "INVALID_ARGUMENT"
    assert "params.order" in response.json()["message"]
    assert "'\\ud834' is half of a UTF-16 pair" in response.json()["message"]


@pytest.mark.parametrize("at", TIMES_BEYOND_UTC)
def test_an_action_time_beyond_the_utc_calendar_is_an_invalid_argument(
    caller: Caller, at: str
) -> None:
    response = caller.post("/v1/notify", body(f"far-{at}", action={"type": "order", "at": at}))

    assert response.status_code == 400, response.text
    assert response.json()["code"] == "INVALID_ARGUMENT"
    assert "action.at" in response.json()["message"]
    assert "out of range" in response.json()["message"]


def test_an_action_time_without_an_offset_is_utc(caller: Caller) -> None:
    in_utc = body("utc-z")
    without = body("utc-naive", action={"type": "order", "at": NOW.isoformat()})

    assert caller.post("/v1/notify", in_utc).status_code == 202
    response = caller.post("/v1/notify", without)

    assert response.status_code == 202, response.text
    stale = body("utc-stale", action={"type": "order", "at": "2026-05-01T00:00:00"})
    assert caller.post("/v1/notify", stale).json()["code"] == "STALE_ACTION"


def test_a_client_allowed_older_actions_may_answer_them_and_no_older(tmp_path: Path) -> None:
    def acting(days: int) -> dict[str, Any]:
        at = (NOW - timedelta(days=days)).isoformat() + "Z"
        return body(f"{days}-days", action={"type": "order", "at": at})

    for served in served_history(tmp_path):
        with session_factory(served.engine).begin() as session:  # before its first call
            set_max_action_age(session, "bank", 7)

        assert served.caller.post("/v1/notify", acting(6)).status_code == 202
        refused = served.caller.post("/v1/notify", acting(8))
        assert (refused.status_code, refused.json()["code"]) == (422, "STALE_ACTION")
        assert "older than 7 days" in refused.json()["message"]


def test_a_request_id_reused_for_another_notification_is_a_conflict(caller: Caller) -> None:
    assert caller.post("/v1/notify", body("n-3")).status_code == 202

    response = caller.post("/v1/notify", body("n-3", params={"order": "B-9"}))

    assert response.status_code == 409
    assert response.json()["code"] == "CONFLICT"
    for ttl in (5, 2**40):  # whatever else is wrong with the repeat
        assert caller.post("/v1/notify", body("n-3", ttl=ttl)).status_code == 409


def test_an_unknown_notification_is_not_found(caller: Caller) -> None:
    response = caller.get_signed("/v1/notifications/ntf_nothing")

    assert response.status_code == 404


def test_billing_takes_a_month(caller: Caller) -> None:
    assert caller.get_signed("/v1/billing?month=2026-06").json() == {
        "month": "2026-06",
        "lines": [],
        "delivered": 0,
        "total": "0.0000",  # written as every amount is, to the ledger's four places
    }
    assert caller.get_signed("/v1/billing?month=June").status_code == 400


@pytest.mark.parametrize(
    "query", ["month=2026-06&country=RU", "month=2026-06&month=2026-07", "month=2026-06&Month=x"]
)
def test_billing_refuses_a_filter_it_would_ignore(caller: Caller, query: str) -> None:
    # a total taken for one country's, or for the other month's, would be a wrong bill
    answer = caller.get_signed(f"/v1/billing?{query}")

    assert answer.status_code == 400
    assert answer.json()["code"] == "INVALID_ARGUMENT"


def test_billing_takes_a_month_signed_in_the_query(caller: Caller) -> None:
    auth = OAuth1(caller.key, caller.secret, signature_method="HMAC-SHA256", signature_type="query")

    answer = requests.get(f"{caller.url}/v1/billing?month=2026-06", auth=auth, timeout=30)

    assert answer.status_code == 200
    assert answer.json()["month"] == "2026-06"


@pytest.mark.parametrize("month", ["2026-06\n", "２０２６-06", "2026-6"])
def test_billing_refuses_a_month_that_only_looks_like_one(caller: Caller, month: str) -> None:
    # a trailing newline, full-width digits, one digit for the month
    answer = caller.get_signed(f"/v1/billing?month={quote(month)}")

    assert answer.status_code == 400
    assert answer.json()["code"] == "INVALID_ARGUMENT"


def test_a_ttl_json_reads_as_infinity_is_out_of_range_like_any_other(caller: Caller) -> None:
    text = json.dumps(body("ttl-infinite", ttl=0)).replace('"ttl": 0', '"ttl": 1e309')

    response = caller.post_text("/v1/notify", text)

    assert response.status_code == 400, response.text
    assert response.json() == {
        "status": 400,
        "code": "OUT_OF_RANGE",
        "message": "ttl must be between 15 s and 86400 s, not a number that large",
    }
