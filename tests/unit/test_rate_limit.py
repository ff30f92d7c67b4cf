"""A client's token bucket on a clock the test moves: `burst` calls at once, then `rate` a
second; a refusal says how long until the next call goes, and takes nothing."""

from __future__ import annotations

import threading

import pytest

from api.error_codes import ErrorCode
from api.rate_limit import ClientRateLimit, client_rate_limit, too_many_requests
from pipelines.settings import load_settings
from tests.ticks import Tick

BANK, SHOP = "key-bank", "key-shop"


def spent(limit: ClientRateLimit, key: str, calls: int) -> list[float]:
    return [limit.take(key) for _ in range(calls)]


def test_a_bucket_lets_its_burst_through_at_once_then_refuses() -> None:
    limit = ClientRateLimit(rate=5, burst=5, clock=Tick())

    assert spent(limit, BANK, 5) == [0.0] * 5
    assert limit.take(BANK) == pytest.approx(0.2)  # a token comes every fifth of a second


def test_a_refused_call_takes_nothing_and_a_token_comes_at_the_rate() -> None:
    tick = Tick()
    limit = ClientRateLimit(rate=5, burst=5, clock=tick)
    spent(limit, BANK, 5)

    refusals = spent(limit, BANK, 3)
    tick.now += 0.1
    half_way = limit.take(BANK)
    tick.now += 0.1

    assert refusals == [pytest.approx(0.2)] * 3
    assert half_way == pytest.approx(0.1)
    assert limit.take(BANK) == 0.0
    assert limit.take(BANK) > 0


def test_an_idle_bucket_fills_to_its_burst_and_no_further() -> None:
    tick = Tick()
    limit = ClientRateLimit(rate=5, burst=5, clock=tick)
    spent(limit, BANK, 5)

    tick.now += 3600

    assert spent(limit, BANK, 5) == [0.0] * 5
    assert limit.take(BANK) > 0


def test_each_key_has_its_own_bucket() -> None:
    limit = ClientRateLimit(rate=1, burst=2, clock=Tick())
    spent(limit, BANK, 10)

    assert spent(limit, SHOP, 2) == [0.0, 0.0]


def test_calls_from_many_threads_at_once_take_the_burst_and_no_more() -> None:
    limit = ClientRateLimit(rate=1, burst=1_000, clock=Tick())
    passed: list[bool] = []

    def calls() -> None:
        passed.extend(limit.take(BANK) == 0.0 for _ in range(500))

    threads = [threading.Thread(target=calls) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert passed.count(True) == 1_000


@pytest.mark.parametrize(
    ("wait", "retry_after"), [(0.01, "1"), (0.2, "1"), (1.0, "1"), (1.01, "2")]
)
def test_retry_after_is_the_whole_seconds_until_a_token_at_least_one(
    wait: float, retry_after: str
) -> None:
    refusal = too_many_requests(ClientRateLimit(rate=5, burst=5), wait)

    assert (refusal.status, refusal.code) == (429, ErrorCode.TOO_MANY_REQUESTS)
    assert refusal.headers == {"Retry-After": retry_after}
    assert f"try again in {retry_after} s" in refusal.message


def test_the_default_settings_limit_nothing() -> None:
    assert client_rate_limit(load_settings()) is None


def test_a_limit_without_a_burst_takes_two_seconds_of_its_rate_at_least_one() -> None:
    burst = {
        rate: limit.burst
        for rate in (5, 0.5, 0.1, 2.5)
        if (limit := client_rate_limit(load_settings(client_rate_limit=rate))) is not None
    }

    assert burst == {5: 10, 0.5: 1, 0.1: 1, 2.5: 5}


def test_a_burst_set_is_the_buckets_size() -> None:
    limit = client_rate_limit(load_settings(client_rate_limit=5, client_rate_burst=50))

    assert limit is not None and (limit.rate, limit.burst) == (5, 50)


@pytest.mark.parametrize(("rate", "burst"), [(0, 5), (-1, 5), (5, 0)])
def test_a_bucket_needs_a_rate_and_room_for_a_call(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="a rate limit needs a rate above 0"):
        ClientRateLimit(rate, burst)
