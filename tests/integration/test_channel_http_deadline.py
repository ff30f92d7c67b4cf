"""The HTTP adapters' deadline bounds a call as a whole: a gateway on the loopback that answers
a byte at a time, each byte well within any read timeout, is cut off at the deadline."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from delivery.channels.http import HttpSmsGateway, HttpSocialNetwork
from delivery.channels.ports import ChannelUnavailableError, SmsMessage
from ownership.channels import Channel
from tests.delivery.webhook_helpers import dripping

RU_MOBILE = "+79234567823"
BODY = b'{"provider_id": "sms-1"}'
# a whole answer of the contract, which at a byte every 0.2 s takes some 20 s to arrive
ACCEPTED = (
    b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
)


def test_a_gateway_answering_a_byte_at_a_time_is_unavailable_at_the_deadline() -> None:
    with dripping(ACCEPTED) as url, HttpSmsGateway(url, "token", timeout=1.0) as sms:
        started = time.monotonic()
        with pytest.raises(ChannelUnavailableError, match="within 1 s") as raised:
            sms.send(SmsMessage("n-1", RU_MOBILE, "text"))
        assert time.monotonic() - started < 3
    assert not raised.value.never_sent  # the gateway had the request: it may have taken it


def test_a_withdrawal_is_bounded_by_the_same_deadline() -> None:
    with dripping(ACCEPTED) as url, HttpSocialNetwork(url, "t", Channel.VK, timeout=1.0) as vk:
        started = time.monotonic()
        with pytest.raises(ChannelUnavailableError, match="within 1 s"):
            vk.withdraw("vk-1")
        assert time.monotonic() - started < 3


def test_a_slow_name_lookup_is_bounded_by_the_same_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    looked_up = socket.getaddrinfo

    def slow_lookup(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "slow-dns.example":
            time.sleep(3)
        return looked_up(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow_lookup)
    with HttpSmsGateway("http://slow-dns.example:9", "token", timeout=1.0) as sms:
        started = time.monotonic()
        with pytest.raises(ChannelUnavailableError, match="within 1 s") as raised:
            sms.send(SmsMessage("n-1", RU_MOBILE, "text"))
        assert time.monotonic() - started < 2.5
    assert raised.value.never_sent  # no connection was made: nothing reached the gateway
