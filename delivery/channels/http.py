"""HTTP adapters of the channel ports, for a real gateway (docs/gateways.md is the contract).

One gateway per social network, one for SMS; each has its own base URL and bearer token, sent
as `Authorization: Bearer <token>` (visible ASCII without spaces; the settings refuse others).

- `POST {base}/messages`: send. Social body `{"notification_id", "network", "phone", "text",
  "mobile_only", "account_ids"}`; SMS body `{"notification_id", "phone", "text",
  "valid_until"}`, `valid_until` the moment the SMS stops being worth delivering (its validity
  period, as an absolute time: RFC 3339 in UTC, `2026-06-01T10:05:00Z`), after which the
  gateway must not deliver it and reports it failed, `expired`; absent when none is set (the
  gateway's own validity applies).
- `POST {base}/prompts` (social only): ask the re-verification question. Body
  `{"notification_id", "network", "phone", "question", "answers": ["Да", "Нет"], "text",
  "mobile_only", "account_ids"}`; a prompt for an SMS code adds `"expects": "code"`, with no
  answers. An SMS code goes to the SMS gateway's `/messages` under the id
  `<notification_id>:code:<n>`.
- Both answer `2xx {"provider_id": "..."}` when accepted, the id a non-empty string of at most
  80 characters (`MAX_PROVIDER_ID`, what the store keeps), or `422 {"refusal": CODE, "detail":
  "..."}` when refused, CODE one of `ports.Refusal` (another code is kept as `REJECTED`, with
  the code in the detail).
- Both are idempotent on `notification_id` within each endpoint, and say so in an
  `Idempotency-Key: <notification_id>:message` (or `:prompt`) header: a send retried after a
  time-out must not make a second message, so the gateway answers a repeat with the first
  answer. A `/messages` after a `/prompts` for the same id is a new message (after a "Yes" the
  notification itself is sent), hence the endpoint in the key.
- `POST {base}/messages/{provider_id}/withdraw` (social only): `200 {"withdrawn": true}` when
  the message was withdrawn before delivery and will never show, `{"withdrawn": false}` when it
  was already delivered (its delivery report is or will be sent); `404` for an unknown id.
- `POST {base}/messages/by-notification/{notification_id}/withdraw` (social only): the same
  for the notification's message when a send timed out and its `provider_id` never came; `404`
  when the gateway took none. `/prompts/by-notification/{notification_id}/withdraw` likewise
  for its prompt.

What happens afterwards comes back through the signed inbound routes (`api/routes/inbound.py`).
A call that has not ended within its deadline (the whole exchange, not each read: the sweeper's
claim on a notification outlasts any call), a transport error, a 5xx or any other answer raises
`ChannelUnavailableError`, whose text never holds our headers (the token is in one); one that
could not connect says the request never left (`never_sent`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx
import orjson

from delivery.channels.ports import (
    ChannelUnavailableError,
    Refusal,
    ReverificationPrompt,
    SendResult,
    Sent,
    SmsMessage,
    SocialMessage,
    UnknownMessageError,
)
from delivery.http_deadline import DeadlineClient, NotConnectedError, read_at_most
from ownership.channels import Channel
from pipelines.logs import PHONE_LIKE, masked_numbers

# how long one call may take, connecting, sending and reading the answer all told
DEFAULT_TIMEOUT_SECONDS = 5.0
# the longest provider id the store keeps (notifications.provider_id) and the inbound routes take
MAX_PROVIDER_ID = 80
# an answer of the contract is a few hundred bytes; past this it is not one
MAX_ANSWER_BYTES = 64 * 1024
# what a header carries intact: visible ASCII, no spaces (a newline read from a file would be
# refused by the HTTP library in an error that quotes the header, token and all)
BEARER_TOKEN = re.compile(r"[\x21-\x7e]+")


def is_bearer_token(token: str) -> bool:
    return BEARER_TOKEN.fullmatch(token) is not None


@dataclass(frozen=True)
class _Answer:
    status_code: int
    body: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    def json(self) -> dict[str, Any]:
        if len(self.body) > MAX_ANSWER_BYTES:  # read only in part: not an answer of ours
            return {}
        try:
            answer = orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return {}
        return answer if isinstance(answer, dict) else {}


class _HttpChannel:
    """A gateway's client: the bearer token, the deadline, and the answers of the contract."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not is_bearer_token(token):
            raise ValueError("a gateway token is visible ASCII without spaces")
        self._client = DeadlineClient(
            timeout,
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def _post(
        self, path: str, body: dict[str, Any] | None = None, idempotency_key: str | None = None
    ) -> _Answer:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}

        def exchange(http: httpx.Client) -> _Answer:
            with http.stream("POST", path, json=body or {}, headers=headers) as response:
                read = read_at_most(response, MAX_ANSWER_BYTES + 1)
            return _Answer(response.status_code, read)

        try:
            return self._client.run(exchange)
        except NotConnectedError as error:
            raise ChannelUnavailableError(f"POST {path}: {error}", never_sent=True) from error
        except TimeoutError as error:
            seconds = self._client.seconds
            raise ChannelUnavailableError(
                f"POST {path}: no complete answer within {seconds:g} s"
            ) from error
        except httpx.LocalProtocolError:
            # its text quotes the offending header, which may be ours, token and all: not even
            # as the cause, which a logged traceback would show
            raise ChannelUnavailableError(f"POST {path}: the request could not be sent") from None
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            # no connection, so not a byte of the request reached the gateway
            raise ChannelUnavailableError(
                f"POST {path}: cannot connect: {error!r}", never_sent=True
            ) from error
        except httpx.HTTPError as error:
            raise ChannelUnavailableError(f"POST {path}: {error!r}") from error

    def _send(self, path: str, body: dict[str, Any], idempotency_key: str) -> SendResult:
        answer = self._post(path, body, idempotency_key)
        fields = answer.json()
        if answer.is_success and _is_provider_id(fields.get("provider_id")):
            return SendResult.accepted_as(fields["provider_id"])
        if answer.status_code == 422 and isinstance(fields.get("refusal"), str):
            code, detail = fields["refusal"], str(fields.get("detail", ""))
            if code in Refusal.__members__:
                return SendResult.refused(Refusal(code), detail)
            return SendResult.refused(Refusal.REJECTED, f"{code}: {detail}".rstrip(": "))
        raise _unexpected(path, answer, quoting_allowed=False)


class HttpSocialNetwork(_HttpChannel):
    """`SocialNetwork` over a gateway's HTTP API (see the module for the contract)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        network: Channel,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not network.is_social:
            raise ValueError(f"{network} is not a social network")
        super().__init__(base_url, token, timeout=timeout, transport=transport)
        self.network = network

    def send(self, message: SocialMessage) -> SendResult:
        return self._send(
            "/messages",
            {
                "notification_id": message.notification_id,
                "network": self.network.value,
                "phone": message.phone,
                "text": message.text,
                "mobile_only": message.mobile_only,
                "account_ids": list(message.account_ids),
            },
            f"{message.notification_id}:message",
        )

    def ask(self, prompt: ReverificationPrompt) -> SendResult:
        body: dict[str, Any] = {
            "notification_id": prompt.notification_id,
            "network": self.network.value,
            "phone": prompt.phone,
            "question": prompt.question,
            "answers": list(prompt.answers),
            "text": prompt.text,
            "mobile_only": prompt.mobile_only,
            "account_ids": list(prompt.account_ids),
        }
        if prompt.expects_code:
            # a field for the code, reported as `prompt.code_entered`; the Yes/No prompt's body
            # stays as it was for the gateways that know only it
            body["expects"] = "code"
        return self._send("/prompts", body, f"{prompt.notification_id}:prompt")

    def withdraw(self, provider_id: str) -> bool:
        path = f"/messages/{quote(provider_id, safe='')}/withdraw"
        response = self._post(path)
        if response.status_code == 404:
            raise UnknownMessageError(provider_id)
        return _withdrawn(path, response)

    def withdraw_by_notification(self, notification_id: str, kind: Sent) -> bool:
        path = f"/{kind}s/by-notification/{quote(notification_id, safe='')}/withdraw"
        response = self._post(path)
        if response.status_code == 404:
            return True  # the gateway never took anything for it: nothing can show
        return _withdrawn(path, response)


class HttpSmsGateway(_HttpChannel):
    """`SmsGateway` over a gateway's HTTP API (see the module for the contract)."""

    channel = Channel.SMS

    def send(self, sms: SmsMessage) -> SendResult:
        body: dict[str, Any] = {
            "notification_id": sms.message_id,
            "phone": sms.phone,
            "text": sms.text,
        }
        if sms.valid_until is not None:
            # to the second, as SMPP's validity_period and the HTTP APIs take it
            body["valid_until"] = _rfc3339_utc(sms.valid_until)
        return self._send("/messages", body, f"{sms.message_id}:message")


def _rfc3339_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _withdrawn(path: str, response: _Answer) -> bool:
    withdrawn = response.json().get("withdrawn")
    if response.status_code != 200 or not isinstance(withdrawn, bool):
        raise _unexpected(path, response)
    return withdrawn


def _is_provider_id(value: object) -> bool:
    # longer would not fit the store, and an empty one could never be withdrawn
    return isinstance(value, str) and 0 < len(value) <= MAX_PROVIDER_ID


def _unexpected(
    path: str, answer: _Answer, *, quoting_allowed: bool = True
) -> ChannelUnavailableError:
    """The error an answer off the contract is, logged. The gateway's words, with a number it
    quotes masked (with its `+` or not); but not those of an answer to a message, which may
    quote the message, a bank's one-time code and all (`quoting_allowed` False)."""
    if not quoting_allowed:
        return ChannelUnavailableError(
            f"POST {path}: the gateway answered {answer.status_code} ({len(answer.body)} bytes, "
            "not logged: an answer to a message may quote it)"
        )
    shown = masked_numbers(answer.body[:200].decode("utf-8", errors="replace"), PHONE_LIKE)
    return ChannelUnavailableError(
        f"POST {path}: the gateway answered {answer.status_code} {shown!r}"
    )
