"""The HTTP adapters against a tiny fake gateway (an httpx.MockTransport in front of the
simulators), so the JSON contract of `delivery/channels/http.py` is exercised both ways."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from delivery.channels.accounts import Account, AccountDirectory
from delivery.channels.http import MAX_PROVIDER_ID, HttpSmsGateway, HttpSocialNetwork
from delivery.channels.ports import (
    ChannelUnavailableError,
    Refusal,
    ReverificationPrompt,
    Sent,
    SmsKind,
    SmsMessage,
    SocialMessage,
    UnknownMessageError,
)
from delivery.channels.sms_simulator import SmsSimulator
from delivery.channels.social_simulator import SocialNetworkSimulator
from delivery.clock import VirtualClock
from delivery.events import RecordingInboundEvents, ReverificationAnswered
from ownership.channels import Channel
from ownership.codes import ReverifyMethod

START = datetime(2026, 6, 2, 9, tzinfo=UTC)
ACTIVE = "+79234567823"
DORMANT = "+79161234567"
TOKEN = "gateway-token"
BASE = "https://gateway.invalid/v1/vk"


class FakeGateway:
    """Speaks the contract, with the simulators behind it; remembers what it was sent."""

    def __init__(self) -> None:
        self.clock = VirtualClock(START)
        self.inbound = RecordingInboundEvents()
        accounts = AccountDirectory(
            [
                Account(Channel.VK, "vk-1", ACTIVE, START - timedelta(days=1), True),
                Account(Channel.VK, "vk-2", DORMANT, START - timedelta(days=60), True),
            ]
        )
        # the ids' run mark fixed, so that the ids the gateway answers can be told
        self.vk = SocialNetworkSimulator(Channel.VK, accounts, self.clock, self.inbound, run="gw")
        self.sms = SmsSimulator(self.clock, self.inbound, run="gw")
        self.bodies: list[dict[str, Any]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return httpx.Response(401, json={"error": "unauthenticated"})
        body = json.loads(request.content or b"{}")
        self.bodies.append(body)
        path = request.url.path
        if path == "/v1/vk/messages":
            result = self.vk.send(
                SocialMessage(
                    body["notification_id"],
                    body["phone"],
                    body["text"],
                    body["mobile_only"],
                    tuple(body["account_ids"]),
                )
            )
        elif path == "/v1/vk/prompts":
            result = self.vk.ask(ReverificationPrompt(body["notification_id"], body["phone"]))
        elif "/by-notification/" in path and path.endswith("/withdraw"):
            # /v1/vk/{messages|prompts}/by-notification/{id}/withdraw
            _, _, _, endpoint, _, notification_id, _ = path.split("/")
            kind = Sent(endpoint.removesuffix("s"))
            if not self.vk.holds(notification_id, kind):
                return httpx.Response(404, json={"error": "nothing for that notification"})
            withdrawn = self.vk.withdraw_by_notification(notification_id, kind)
            return httpx.Response(200, json={"withdrawn": withdrawn})
        elif path.startswith("/v1/vk/messages/") and path.endswith("/withdraw"):
            provider_id = path.split("/")[-2]
            try:
                return httpx.Response(200, json={"withdrawn": self.vk.withdraw(provider_id)})
            except UnknownMessageError:
                return httpx.Response(404, json={"error": "unknown"})
        elif path == "/v1/sms/messages":
            result = self.sms.send(SmsMessage(body["notification_id"], body["phone"], body["text"]))
        else:
            return httpx.Response(404)
        if result.accepted:
            return httpx.Response(202, json={"provider_id": result.provider_id})
        return httpx.Response(422, json={"refusal": result.refusal, "detail": result.detail})


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def vk(gateway: FakeGateway) -> HttpSocialNetwork:
    return HttpSocialNetwork(BASE, TOKEN, Channel.VK, transport=httpx.MockTransport(gateway.handle))


def test_a_message_is_posted_as_the_contract_says(
    gateway: FakeGateway, vk: HttpSocialNetwork
) -> None:
    result = vk.send(SocialMessage("n-1", ACTIVE, "Ваш заказ готов", account_ids=("vk-1",)))
    assert result.accepted and result.provider_id == "vk-gw-1"
    assert gateway.bodies == [
        {
            "notification_id": "n-1",
            "network": "vk",
            "phone": ACTIVE,
            "text": "Ваш заказ готов",
            "mobile_only": False,
            "account_ids": ["vk-1"],
        }
    ]


def test_a_refusal_comes_back_with_its_reason(vk: HttpSocialNetwork) -> None:
    result = vk.send(SocialMessage("n-1", DORMANT, "text"))
    assert result.refusal is Refusal.NO_ACTIVE_ACCOUNT and result.detail


def test_a_refusal_code_we_do_not_know_is_kept_as_rejected() -> None:
    answer = httpx.Response(422, json={"refusal": "SPAM_FILTER", "detail": "too many"})
    vk = HttpSocialNetwork(BASE, TOKEN, Channel.VK, transport=httpx.MockTransport(lambda _: answer))
    result = vk.send(SocialMessage("n-1", ACTIVE, "text"))
    assert result.refusal is Refusal.REJECTED and result.detail == "SPAM_FILTER: too many"


def test_withdraw_reports_whether_delivery_was_beaten(
    gateway: FakeGateway, vk: HttpSocialNetwork
) -> None:
    gateway.vk.script_delivery(ACTIVE, timedelta(minutes=1))
    early = str(vk.send(SocialMessage("n-1", ACTIVE, "text")).provider_id)
    late = str(vk.send(SocialMessage("n-2", ACTIVE, "text")).provider_id)
    assert vk.withdraw(early) is True
    gateway.clock.advance(timedelta(minutes=2))
    assert vk.withdraw(late) is False
    with pytest.raises(UnknownMessageError):
        vk.withdraw("vk-404")


def test_what_a_gateway_holds_for_a_notification_is_withdrawn_by_its_id(
    gateway: FakeGateway, vk: HttpSocialNetwork
) -> None:
    # the send timed out on our side: the provider id never came
    gateway.vk.script_delivery(ACTIVE, timedelta(minutes=1))
    gateway.vk.send(SocialMessage("n-1", ACTIVE, "text"))
    gateway.vk.send(SocialMessage("n-2", ACTIVE, "text"))

    assert vk.withdraw_by_notification("n-1", Sent.MESSAGE) is True
    gateway.clock.advance(timedelta(minutes=2))
    assert vk.withdraw_by_notification("n-2", Sent.MESSAGE) is False  # shown already
    assert vk.withdraw_by_notification("n-2", Sent.PROMPT) is True  # 404: none was asked
    assert vk.withdraw_by_notification("n-never-sent", Sent.MESSAGE) is True


def test_the_prompt_carries_the_masked_question(
    gateway: FakeGateway, vk: HttpSocialNetwork
) -> None:
    gateway.vk.script_answer(ACTIVE, "denied", after=timedelta(minutes=1))
    assert vk.ask(ReverificationPrompt("n-1", ACTIVE)).accepted
    assert gateway.bodies[0]["question"] == "+792* *** ** 23 — это ваш номер телефона?"
    assert gateway.bodies[0]["answers"] == ["Да", "Нет"]
    gateway.clock.advance(timedelta(minutes=1))
    gateway.vk.run_due()
    assert [e.answer for e in gateway.inbound.of_type(ReverificationAnswered)] == ["denied"]


def test_a_prompt_for_a_code_says_it_expects_one_and_the_yes_no_prompt_does_not(
    gateway: FakeGateway, vk: HttpSocialNetwork
) -> None:
    assert vk.ask(ReverificationPrompt("n-1", ACTIVE)).accepted
    assert vk.ask(ReverificationPrompt("n-2", ACTIVE, method=ReverifyMethod.SMS_CODE)).accepted

    yes_no, code = gateway.bodies
    assert "expects" not in yes_no  # as the gateways that know only Yes/No read it
    assert code["expects"] == "code" and code["answers"] == []
    assert (
        code["question"] == code["text"] == "Введите код из SMS, отправленного на +792* *** ** 23"
    )


def test_a_code_sms_goes_under_an_id_of_its_own() -> None:
    seen: list[httpx.Request] = []
    answer = httpx.Response(202, json={"provider_id": "sms-1"})
    code = SmsMessage("n-1", ACTIVE, "Код 042917", kind=SmsKind.CODE, issued=1)
    with HttpSmsGateway(BASE, TOKEN, transport=recording([answer], seen)) as sms:
        sms.send(code)
    assert json.loads(seen[0].content)["notification_id"] == "n-1:code:1"
    assert seen[0].headers["idempotency-key"] == "n-1:code:1:message"


def test_an_sms_is_posted_to_the_sms_gateway(gateway: FakeGateway) -> None:
    transport = httpx.MockTransport(gateway.handle)
    with HttpSmsGateway("https://gateway.invalid/v1/sms/", TOKEN, transport=transport) as sms:
        result = sms.send(SmsMessage("n-1", ACTIVE, "1234 – ваш код"))
    assert result.provider_id == "sms-gw-1"
    assert gateway.bodies == [{"notification_id": "n-1", "phone": ACTIVE, "text": "1234 – ваш код"}]


def test_an_sms_tells_the_gateway_until_when_it_is_worth_delivering() -> None:
    seen: list[httpx.Request] = []
    answer = httpx.Response(202, json={"provider_id": "sms-1"})
    # in UTC, to the second, rounded down: never later than the SMS's own moment
    moscow = timezone(timedelta(hours=3))
    valid_until = datetime(2026, 6, 2, 12, 5, 0, 900_000, tzinfo=moscow)
    with HttpSmsGateway(BASE, TOKEN, transport=recording([answer], seen)) as sms:
        sms.send(SmsMessage("n-1", ACTIVE, "1234 – ваш код", valid_until=valid_until))

    assert json.loads(seen[0].content) == {
        "notification_id": "n-1",
        "phone": ACTIVE,
        "text": "1234 – ваш код",
        "valid_until": "2026-06-02T09:05:00Z",
    }


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(503, text="busy"),
        httpx.Response(401, json={"error": "unauthenticated"}),
        httpx.Response(200, text="not json"),
        httpx.Response(200, json={"withdrawn": "maybe"}),
    ],
)
def test_answers_outside_the_contract_make_the_channel_unavailable(answer: httpx.Response) -> None:
    vk = HttpSocialNetwork(BASE, TOKEN, Channel.VK, transport=httpx.MockTransport(lambda _: answer))
    with pytest.raises(ChannelUnavailableError) as raised:
        vk.send(SocialMessage("n-1", ACTIVE, "text"))
    assert not raised.value.never_sent  # it reached the gateway, which may have taken it
    with pytest.raises(ChannelUnavailableError):
        vk.withdraw("vk-1")


def test_a_number_an_answer_off_the_contract_quotes_is_masked_in_what_is_logged() -> None:
    answer = httpx.Response(502, json={"error": "subscriber 79234567823 (+79161234567) gone"})
    vk = HttpSocialNetwork(BASE, TOKEN, Channel.VK, transport=httpx.MockTransport(lambda _: answer))

    with pytest.raises(ChannelUnavailableError) as raised:
        vk.withdraw("vk-1")

    said = str(raised.value)
    assert "79234567823" not in said and "79161234567" not in said
    assert "subscriber +792* *** ** 23 (+791* *** ** 67) gone" in said


def test_an_answer_to_a_message_off_the_contract_is_not_logged_since_it_may_quote_it() -> None:
    text = "Ваш код входа: 737373. Никому не сообщайте."
    answer = httpx.Response(400, json={"error": "bad message", "text": text})
    transport = httpx.MockTransport(lambda _: answer)

    for channel, message in (
        (HttpSmsGateway(BASE, TOKEN, transport=transport), SmsMessage("n-1", ACTIVE, text)),
        (
            HttpSocialNetwork(BASE, TOKEN, Channel.OK, transport=transport),
            SocialMessage("n-1", ACTIVE, text),
        ),
    ):
        with pytest.raises(ChannelUnavailableError) as raised:
            channel.send(message)  # type: ignore[arg-type]

        said = str(raised.value)
        assert "737373" not in said and "bad message" not in said
        assert said.startswith("POST /messages: the gateway answered 400 (")


def test_a_gateway_that_cannot_be_reached_makes_the_channel_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    vk = HttpSocialNetwork(BASE, TOKEN, Channel.VK, transport=httpx.MockTransport(refuse))
    with pytest.raises(ChannelUnavailableError, match="connection refused") as raised:
        vk.send(SocialMessage("n-1", ACTIVE, "text"))
    assert raised.value.never_sent


def test_a_real_socket_on_the_loopback_that_refuses_is_unavailable_too() -> None:
    # port 9 (discard) is closed on the loopback: a real connect error, no mock
    sms = HttpSmsGateway("http://127.0.0.1:9", TOKEN, timeout=1.0)
    with pytest.raises(ChannelUnavailableError) as raised:
        sms.send(SmsMessage("n-1", ACTIVE, "text"))
    assert raised.value.never_sent


def recording(answers: list[httpx.Response], seen: list[httpx.Request]) -> httpx.MockTransport:
    """A gateway that keeps each request and gives the next of `answers` (the last one after)."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers[min(len(seen), len(answers)) - 1]

    return httpx.MockTransport(handle)


def test_a_provider_id_of_80_characters_is_taken() -> None:
    answer = httpx.Response(202, json={"provider_id": "v" * MAX_PROVIDER_ID})
    vk = HttpSocialNetwork(BASE, TOKEN, Channel.VK, transport=recording([answer], []))
    assert vk.send(SocialMessage("n-1", ACTIVE, "text")).provider_id == "v" * MAX_PROVIDER_ID


@pytest.mark.parametrize(
    "provider_id",
    ["", "v" * (MAX_PROVIDER_ID + 1), "v" * 123, 42, None],
    ids=["empty", "81 characters", "123 characters", "a number", "null"],
)
def test_a_provider_id_off_the_contract_makes_the_channel_unavailable(provider_id: object) -> None:
    # the store keeps 80 characters, and an empty id could never be withdrawn
    answer = httpx.Response(202, json={"provider_id": provider_id})
    vk = HttpSocialNetwork(BASE, TOKEN, Channel.VK, transport=recording([answer], []))
    with pytest.raises(ChannelUnavailableError):
        vk.send(SocialMessage("n-1", ACTIVE, "text"))


def test_sends_carry_an_idempotency_key_that_a_retry_repeats() -> None:
    seen: list[httpx.Request] = []
    answers = [httpx.Response(503, text="busy"), httpx.Response(202, json={"provider_id": "p-1"})]
    vk = HttpSocialNetwork(BASE, TOKEN, Channel.VK, transport=recording(answers, seen))
    message = SocialMessage("n-1", ACTIVE, "text")
    with pytest.raises(ChannelUnavailableError):
        vk.send(message)
    assert vk.send(message).accepted
    assert vk.ask(ReverificationPrompt("n-1", ACTIVE)).accepted
    assert [r.headers["idempotency-key"] for r in seen] == ["n-1:message"] * 2 + ["n-1:prompt"]


def test_an_sms_carries_its_idempotency_key_too() -> None:
    seen: list[httpx.Request] = []
    answer = httpx.Response(202, json={"provider_id": "sms-1"})
    with HttpSmsGateway(BASE, TOKEN, transport=recording([answer], seen)) as sms:
        sms.send(SmsMessage("n-1", ACTIVE, "text"))
        sms.send(SmsMessage("n-1", ACTIVE, "text"))
    assert [r.headers["idempotency-key"] for r in seen] == ["n-1:message"] * 2


@pytest.mark.parametrize("token", ["s3cr3t-token\n", "s3cr3t token", "s3cr3t-tökén", ""])
def test_a_token_a_header_cannot_carry_is_refused_without_being_shown(token: str) -> None:
    with pytest.raises(ValueError, match="visible ASCII") as refused:
        HttpSmsGateway(BASE, token)
    assert "s3cr3t" not in str(refused.value)


def test_a_request_that_cannot_be_sent_is_unavailable_without_its_headers() -> None:
    def illegal(request: httpx.Request) -> httpx.Response:
        raise httpx.LocalProtocolError(f"Illegal header value b'Bearer {TOKEN}\\n'")

    vk = HttpSocialNetwork(BASE, TOKEN, Channel.VK, transport=httpx.MockTransport(illegal))
    with pytest.raises(ChannelUnavailableError) as unavailable:
        vk.send(SocialMessage("n-1", ACTIVE, "text"))
    assert TOKEN not in str(unavailable.value) and unavailable.value.__cause__ is None
    assert unavailable.value.__suppress_context__
