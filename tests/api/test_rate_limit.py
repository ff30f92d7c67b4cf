"""Each client's calls past its rate are answered 429 TOO_MANY_REQUESTS with Retry-After, on
every client route; only signed calls count, each client's apart; with no limit set, none is.

The service's buckets fill by a clock the tests move (`Tick`), so no test sleeps."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from store.clients import register_client
from store.database import session_factory
from tests.api.conftest import Served, served_history
from tests.api.service import RECYCLED, VERIFIED_FRESH, Caller
from tests.ticks import Tick

RATE = 5  # a second
BURST = 5
A_TOKEN = 1 / RATE  # seconds
NAMES = (f"client-{n}" for n in itertools.count())
# every route a client calls, each refused before its body or query is read
CLIENT_CALLS: dict[str, tuple[str, str, Any]] = {
    "check": ("POST", "/v1/check", {"phone": VERIFIED_FRESH}),
    "bulk": ("POST", "/v1/check/bulk", {"phones": [VERIFIED_FRESH, RECYCLED]}),
    "recycling": (
        "POST",
        "/number-recycling/v0.2/check",
        {"phoneNumber": RECYCLED, "specifiedDate": "2025-01-01"},
    ),
    "tenure": (
        "POST",
        "/kyc-tenure/v0.3/check-tenure",
        {"phoneNumber": VERIFIED_FRESH, "tenureDate": "2025-01-01"},
    ),
    "notify": ("POST", "/v1/notify", {}),
    "notification": ("GET", "/v1/notifications/ntf_5c2e9b0a7d4f1e3c8a6b2d90", None),
    "billing": ("GET", "/v1/billing?month=2026-06", None),
    "submit_template": ("POST", "/v1/message_template", {}),
    "template": ("GET", "/v1/message_template/tpl_3f9a0c1d2e4b5a69", None),
    "ping": ("POST", "/v1/ping", None),
}


@pytest.fixture(scope="module")
def tick() -> Tick:
    return Tick()


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory, tick: Tick) -> Iterator[Served]:
    """A service that answers each client 5 calls a second, 5 at once, on a clock of the
    tests'."""
    folder = tmp_path_factory.mktemp("limited")
    yield from served_history(
        folder, rate_clock=tick, client_rate_limit=RATE, client_rate_burst=BURST
    )


def new_client(served: Served) -> Caller:
    """A client of its own, its bucket full, so that no test spends another's calls."""
    with session_factory(served.engine).begin() as session:
        issued = register_client(session, next(NAMES), ["127.0.0.0/8"], served.cipher)
    return Caller(served.caller.url, issued.key, issued.secret)


def ping(caller: Caller, **kwargs: Any) -> requests.Response:
    return caller.post("/v1/ping", **kwargs)


def call(caller: Caller, method: str, path: str, body: Any) -> requests.Response:
    return caller.post(path, body) if method == "POST" else caller.get_signed(path)


def test_the_call_past_the_burst_is_429_with_retry_after_and_the_envelope(
    limited: Served,
) -> None:
    client = new_client(limited)

    answered = [ping(client).status_code for _ in range(BURST)]
    refused = ping(client, headers={"x-correlator": "burst-6"})

    assert answered == [200] * BURST
    assert refused.status_code == 429
    assert refused.json()["status"] == 429
    assert refused.json()["code"] == "TOO_MANY_REQUESTS"
    assert "try again in 1 s" in refused.json()["message"]
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["x-correlator"] == "burst-6"


def test_calls_pass_again_once_the_bucket_has_filled(limited: Served, tick: Tick) -> None:
    client = new_client(limited)
    for _ in range(BURST):
        ping(client)

    refused = ping(client).status_code
    tick.now += A_TOKEN
    passed = ping(client).status_code
    again = ping(client).status_code  # one token came, and went

    assert (refused, passed, again) == (429, 200, 429)


@pytest.mark.parametrize(("method", "path", "body"), CLIENT_CALLS.values(), ids=CLIENT_CALLS)
def test_every_client_route_counts_and_is_refused_past_the_rate(
    limited: Served, method: str, path: str, body: Any
) -> None:
    client = new_client(limited)
    for _ in range(BURST):
        ping(client)

    refused = call(client, method, path, body)

    assert refused.status_code == 429
    assert refused.json()["code"] == "TOO_MANY_REQUESTS"


def test_a_bulk_check_counts_as_one_call_whatever_its_numbers(limited: Served) -> None:
    client = new_client(limited)
    phones = [VERIFIED_FRESH] * (BURST * 10)

    answers = [client.post("/v1/check/bulk", {"phones": phones}) for _ in range(BURST)]

    assert [answer.status_code for answer in answers] == [200] * BURST
    assert ping(client).status_code == 429


def test_another_client_is_not_limited_by_the_first_ones_calls(limited: Served) -> None:
    first, other = new_client(limited), new_client(limited)
    for _ in range(BURST + 3):
        ping(first)

    answered = [ping(other).status_code for _ in range(BURST)]

    assert ping(first).status_code == 429
    assert answered == [200] * BURST


def test_unsigned_and_badly_signed_calls_spend_nothing_of_the_clients_calls(
    limited: Served,
) -> None:
    client = new_client(limited)
    forger = Caller(client.url, client.key, "not-the-secret")

    forged = [ping(forger).status_code for _ in range(BURST * 4)]
    unsigned = [
        requests.post(f"{client.url}/v1/ping", timeout=30).status_code for _ in range(BURST * 4)
    ]
    answered = [ping(client).status_code for _ in range(BURST)]

    assert set(forged) == set(unsigned) == {401}
    assert answered == [200] * BURST


def test_with_no_limit_set_no_call_is_refused(tmp_path: Path) -> None:
    for served in served_history(tmp_path, rate_clock=Tick()):  # a clock that never moves
        answered = [ping(served.caller).status_code for _ in range(60)]

    assert answered == [200] * 60
