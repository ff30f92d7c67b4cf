"""A caller that hangs up half-way through its body: nothing has gone wrong in the service.

The body is read wherever a signature covers it (a client's call, a gateway's event) or a
route declares one. A caller gone before it is all sent is answered 400 INVALID_ARGUMENT, to
no one: no traceback is logged and no 500 is counted, on any route, signed or not.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from datetime import UTC

import pytest

from tests.api.conftest import served_history
from tests.api.service import NOW, VERIFIED_FRESH, Caller
from tests.api.wire import answers_after, answers_counted, authorization, request_sent

BODY = json.dumps({"phone": VERIFIED_FRESH, "since": "2026-01-01T00:00:00Z"}).encode()
SENT_BEFORE_HANGING_UP = 10

# a call cut short, as (method, target, route template, signed how), and the status it counts as
CUT_SHORT_CALLS = {
    "a signed check": ("POST", "/v1/check", "/v1/check", "oauth", "400"),
    "a signed bulk check": ("POST", "/v1/check/bulk", "/v1/check/bulk", "oauth", "400"),
    "a signed CAMARA check": (
        "POST",
        "/number-recycling/v0.2/check",
        "/number-recycling/v0.2/check",
        "oauth",
        "400",
    ),
    "a signed notification": ("POST", "/v1/notify", "/v1/notify", "oauth", "400"),
    "a signed template": ("POST", "/v1/message_template", "/v1/message_template", "oauth", "400"),
    "a signed ping": ("POST", "/v1/ping", "/v1/ping", "oauth", "400"),
    "a signed GET with a body": (
        "GET",
        "/v1/billing?month=2026-06",
        "/v1/billing",
        "oauth",
        "400",
    ),
    "a gateway's event, read for its signature": (
        "POST",
        "/v1/sms/events",
        "/v1/sms/events",
        "gateway",
        "400",
    ),
    # refused by its headers before the body is asked for
    "an unsigned check": ("POST", "/v1/check", "/v1/check", None, "401"),
    "an unsigned gateway's event": ("POST", "/v1/sms/events", "/v1/sms/events", None, "401"),
}


SMS_GATEWAY_SECRET = "whsec_" + base64.b64encode(b"sms-gateway-secret-32-bytes-long").decode()
# headers that hold until the body is read: the signature itself covers the body
GATEWAY_SIGNED = {
    "webhook-id": "msg_1",
    "webhook-timestamp": str(int(NOW.replace(tzinfo=UTC).timestamp())),
    "webhook-signature": "v1," + base64.b64encode(bytes(32)).decode(),
}


@pytest.fixture(scope="module")
def caller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Caller]:
    """The service, with a secret for the SMS gateway, whose events it reads."""
    folder = tmp_path_factory.mktemp("served")
    for served in served_history(folder, gateway_secrets={"sms": SMS_GATEWAY_SECRET}):
        yield served.caller


@pytest.fixture
def service_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The service's log lines at WARNING and above, uvicorn's among them (its loggers do not
    pass their lines to the root logger)."""
    caplog.set_level(logging.WARNING)
    uvicorn_log = logging.getLogger("uvicorn")
    uvicorn_log.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        uvicorn_log.removeHandler(caplog.handler)


@pytest.mark.parametrize("call", CUT_SHORT_CALLS)
def test_a_caller_who_hangs_up_mid_body_is_no_error_of_the_service(
    caller: Caller, service_log: pytest.LogCaptureFixture, call: str
) -> None:
    method, target, route, signed, counted_as = CUT_SHORT_CALLS[call]
    headers = {"Content-Type": "application/json", "Content-Length": str(len(BODY))}
    if signed == "oauth":
        headers["Authorization"] = authorization(caller, method, target, BODY)
    elif signed == "gateway":
        headers |= GATEWAY_SIGNED
    before = answers_counted(caller.url, route, method)

    with request_sent(caller.url, method, target, headers, BODY[:SENT_BEFORE_HANGING_UP]):
        pass  # and hang up

    assert answers_after(caller.url, route, method, before) == {counted_as: 1}
    faults = [
        record
        for record in service_log.records
        if record.levelno >= logging.ERROR or record.exc_info is not None
    ]
    assert not faults, [record.getMessage() for record in faults]
