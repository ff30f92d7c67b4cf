"""Name lookups that never answer cost their caller, not everyone: a host on a domain whose DNS
hangs holds up neither the other webhooks nor the gateways' calls. The system resolver is
replaced here (no real DNS): the `.slow.test` names never answer until the test ends."""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpcore
import pytest

from delivery.http_deadline import DeadlineClient, NameLookups
from tests.delivery.webhook_helpers import Receiver, loopback_sender, receiving

HEALTHY = "hooks.fast.test"
SLOW_HOSTS = [f"shop{n}.slow.test" for n in range(15)]
DEADLINE = 1.0  # long enough for a lookup that answers, which answers at once here


class HangingDns:
    """`socket.getaddrinfo` where the `.slow.test` names hang and `hooks.fast.test` is the
    loopback; it counts the lookups asked of it."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.asked: Counter[str] = Counter()
        self._system = socket.getaddrinfo

    def getaddrinfo(self, host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        self.asked[host] += 1
        if host.endswith(".slow.test"):
            self.released.wait()
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        if host == HEALTHY:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return self._system(host, port, *args, **kwargs)


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[HangingDns]:
    hanging = HangingDns()
    monkeypatch.setattr(socket, "getaddrinfo", hanging.getaddrinfo)
    yield hanging
    hanging.released.set()  # the lookups left hanging end with the test


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as receiving_now:
        yield receiving_now


def on(host: str, receiver: Receiver) -> str:
    return receiver.url.replace("127.0.0.1", host)


def test_callback_hosts_whose_dns_hangs_hold_up_no_webhook_to_another_host(
    dns: HangingDns, receiver: Receiver
) -> None:
    sender = loopback_sender(DEADLINE)

    def send(host: str) -> int | None:
        url = on(host, receiver)
        return sender.send(url, b"{}", {}, named_by_client=True).status_code

    try:
        with ThreadPoolExecutor(len(SLOW_HOSTS)) as pool:
            slow = list(pool.map(send, SLOW_HOSTS))  # all given up, still being looked up
        healthy = [send(HEALTHY) for _ in range(5)]
    finally:
        sender.close()

    assert slow == [None] * len(SLOW_HOSTS)
    assert healthy == [204] * 5


def test_a_gateway_call_is_not_held_up_by_webhook_lookups_that_hang(
    dns: HangingDns, receiver: Receiver
) -> None:
    webhooks = loopback_sender(DEADLINE)
    try:
        with ThreadPoolExecutor(len(SLOW_HOSTS)) as pool:
            list(pool.map(lambda host: webhooks.send(on(host, receiver), b"{}", {}), SLOW_HOSTS))
        with DeadlineClient(DEADLINE) as gateway:
            answered = gateway.run(lambda http: http.post(on(HEALTHY, receiver)).status_code)
    finally:
        webhooks.close()

    assert answered == 204


def test_a_host_whose_lookup_is_still_hanging_is_not_looked_up_again_but_fails_at_once(
    dns: HangingDns, receiver: Receiver
) -> None:
    sender = loopback_sender(DEADLINE)
    try:
        first = sender.send(on(SLOW_HOSTS[0], receiver), b"{}", {})
        again = sender.send(on(SLOW_HOSTS[0], receiver), b"{}", {})
    finally:
        sender.close()

    assert first.status_code is None and "no complete answer" in (first.error or "")
    # a failure like any other, so the event is retried on its schedule
    assert again.status_code is None and "still being looked up" in (again.error or "")
    assert dns.asked[SLOW_HOSTS[0]] == 1


def test_past_the_most_lookups_under_way_a_new_one_fails_at_once(dns: HangingDns) -> None:
    lookups = NameLookups(most_under_way=2)
    for host in SLOW_HOSTS[:2]:
        with pytest.raises(httpcore.ConnectTimeout):
            lookups.addresses(host, 443, 0.05)

    with pytest.raises(httpcore.ConnectError, match="name lookups under way"):
        lookups.addresses(SLOW_HOSTS[2], 443, DEADLINE)
    assert SLOW_HOSTS[2] not in dns.asked
