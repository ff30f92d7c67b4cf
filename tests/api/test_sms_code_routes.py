"""`reverify` on `POST /v1/notify`, and the gateways' `prompt.code_entered` report: a code for a
notification that asked Yes or No, or a Yes for one that asked for a code, is refused in the
envelope."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.api.conftest import served_history
from tests.api.service import NOW, SUSPICIOUS, Caller
from tests.api.test_inbound import OK_SECRET, Client, Gateway
from tests.api.test_notify_routes import body

AT = (NOW - timedelta(seconds=30)).isoformat() + "Z"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Caller, Gateway]]:
    folder = tmp_path_factory.mktemp("sms-code")
    for served in served_history(folder, gateway_secrets={"ok": OK_SECRET}):
        yield served.caller, Gateway(Client(served.caller.url), OK_SECRET)


def asked(caller: Caller, request_id: str, **overrides: Any) -> str:
    response = caller.post(
        "/v1/notify", body(request_id, phone=SUSPICIOUS, sensitive=True, **overrides)
    )
    assert response.status_code == 202, response.text
    assert response.json()["action"] == "reverify"
    return str(response.json()["id"])


def test_a_notification_may_ask_for_an_sms_code_and_a_repeat_must_ask_alike(
    served: tuple[Caller, Gateway],
) -> None:
    caller, _ = served
    first = caller.post("/v1/notify", body("code-1", phone=SUSPICIOUS, reverify="sms_code"))
    again = caller.post("/v1/notify", body("code-1", phone=SUSPICIOUS, reverify="sms_code"))
    otherwise = caller.post("/v1/notify", body("code-1", phone=SUSPICIOUS, reverify="prompt"))
    silent = caller.post("/v1/notify", body("code-1", phone=SUSPICIOUS))

    assert first.status_code == again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    assert otherwise.status_code == silent.status_code == 409
    assert otherwise.json()["code"] == "CONFLICT"
    # a request that does not say is the Yes/No prompt's, as before there was a choice
    assert caller.post("/v1/notify", body("code-2", phone=SUSPICIOUS)).status_code == 202
    prompt_again = caller.post("/v1/notify", body("code-2", phone=SUSPICIOUS, reverify="prompt"))
    assert prompt_again.status_code == 202


def test_an_unknown_way_of_asking_is_an_invalid_argument(served: tuple[Caller, Gateway]) -> None:
    response = served[0].post("/v1/notify", body("code-3", reverify="pigeon"))

    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_ARGUMENT"
    assert "reverify" in response.json()["message"]


@pytest.mark.parametrize(
    ("reverify", "event", "message"),
    [
        (
            "prompt",
            {"type": "prompt.code_entered", "code": "123456"},
            "asked for a Yes or No, not an SMS code",
        ),
        (
            "sms_code",
            {"type": "prompt.answered", "answer": "confirmed"},
            "asked for an SMS code, not a Yes or No",
        ),
    ],
    ids=["a code for a Yes/No prompt", "a Yes for a code"],
)
def test_an_answer_of_the_other_kind_is_refused(
    served: tuple[Caller, Gateway], reverify: str, event: dict[str, str], message: str
) -> None:
    caller, ok = served
    notification = asked(caller, f"kind-{reverify}", reverify=reverify)
    report = {"notification_id": notification, "provider_id": "ok-1", "at": AT, **event}

    response = ok.post("/v1/networks/ok/events", report, message_id=f"msg-{reverify}")

    assert response.status_code == 400
    assert response.json() == {
        "status": 400,
        "code": "INVALID_ARGUMENT",
        "message": f"notification {notification} {message}",
    }


def test_a_code_for_a_notification_that_asked_for_one_is_taken(
    served: tuple[Caller, Gateway],
) -> None:
    caller, ok = served
    notification = asked(caller, "taken-1", reverify="sms_code")
    report = {
        "type": "prompt.code_entered",
        "notification_id": notification,
        "provider_id": "ok-1",
        "at": AT,
        "code": "000000",
    }

    assert ok.post("/v1/networks/ok/events", report, message_id="msg-taken").status_code == 204
