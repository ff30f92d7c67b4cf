"""HTTP adapters of the channel ports, for a real gateway (httpx, synchronous).

The JSON contract a gateway implements (one gateway per social network, one for SMS; each has
its own base URL and bearer token, sent as `Authorization: Bearer <token>`):

- `POST {base}/messages`: send. Social body `{"notification_id", "network", "phone", "text",
  "mobile_only", "account_ids"}`; SMS body `{"notification_id", "phone", "text"}`.
- `POST {base}/prompts` (social only): ask the re-verification question. Body
  `{"notification_id", "network", "phone", "question", "answers": ["Да", "Нет"], "text",
  "mobile_only", "account_ids"}`.
- Both answer `2xx {"provider_id": "..."}` when accepted, or `422 {"refusal": CODE, "detail":
  "..."}` when refused, CODE one of `ports.Refusal` (another code is kept as `REJECTED`, with
  the code in the detail).
- `POST {base}/messages/{provider_id}/withdraw` (social only): `200 {"withdrawn": true}` when
  the message was withdrawn before delivery and will never show, `{"withdrawn": false}` when it
  was already delivered (its delivery report is or will be sent); `404` for an unknown id.

What happens afterwards comes back through the signed inbound routes (`api/routes/inbound.py`).
A time-out, a transport error, a 5xx or any other answer raises `ChannelUnavailableError`.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from delivery.channels.ports import (
    ChannelUnavailableError,
    Refusal,
    ReverificationPrompt,
    SendResult,
    SmsMessage,
    SocialMessage,
    UnknownMessageError,
)
from ownership.channels import Channel

DEFAULT_TIMEOUT = httpx.Timeout(5.0, connect=2.0)


class _HttpChannel:
    """A gateway's client: the bearer token, the time-outs, and the answers of the contract."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
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

    def _post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        try:
            return self._client.post(path, json=body or {})
        except httpx.HTTPError as error:
            raise ChannelUnavailableError(f"POST {path}: {error!r}") from error

    def _send(self, path: str, body: dict[str, Any]) -> SendResult:
        response = self._post(path, body)
        answer = _json(response)
        if response.is_success and isinstance(answer.get("provider_id"), str):
            return SendResult.accepted_as(answer["provider_id"])
        if response.status_code == 422 and isinstance(answer.get("refusal"), str):
            code, detail = answer["refusal"], str(answer.get("detail", ""))
            if code in Refusal.__members__:
                return SendResult.refused(Refusal(code), detail)
            return SendResult.refused(Refusal.REJECTED, f"{code}: {detail}".rstrip(": "))
        raise _unexpected(path, response)


class HttpSocialNetwork(_HttpChannel):
    """`SocialNetwork` over a gateway's HTTP API (see the module for the contract)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        network: Channel,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
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
        )

    def ask(self, prompt: ReverificationPrompt) -> SendResult:
        return self._send(
            "/prompts",
            {
                "notification_id": prompt.notification_id,
                "network": self.network.value,
                "phone": prompt.phone,
                "question": prompt.question,
                "answers": list(prompt.answers),
                "text": prompt.text,
                "mobile_only": prompt.mobile_only,
                "account_ids": list(prompt.account_ids),
            },
        )

    def withdraw(self, provider_id: str) -> bool:
        path = f"/messages/{quote(provider_id, safe='')}/withdraw"
        response = self._post(path)
        if response.status_code == 404:
            raise UnknownMessageError(provider_id)
        withdrawn = _json(response).get("withdrawn")
        if response.status_code != 200 or not isinstance(withdrawn, bool):
            raise _unexpected(path, response)
        return withdrawn


class HttpSmsGateway(_HttpChannel):
    """`SmsGateway` over a gateway's HTTP API (see the module for the contract)."""

    channel = Channel.SMS

    def send(self, sms: SmsMessage) -> SendResult:
        return self._send(
            "/messages",
            {"notification_id": sms.notification_id, "phone": sms.phone, "text": sms.text},
        )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _unexpected(path: str, response: httpx.Response) -> ChannelUnavailableError:
    return ChannelUnavailableError(
        f"POST {path}: the gateway answered {response.status_code} {response.text[:200]!r}"
    )
