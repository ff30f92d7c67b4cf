"""Each client's calls bounded: a token bucket per client key, in each API worker (DESIGN §6).

A bucket holds at most `burst` tokens and gains `rate` a second; a call takes one, and a call
that finds none is answered 429 TOO_MANY_REQUESTS, its Retry-After the whole seconds until a
token is there. Only a signed call takes a token: it is taken once the signature holds and the
nonce is kept (api.deps.OAuth1Signed), so an unsigned or forged flood, refused 401 before,
cannot spend a client's budget, and only clients' keys ever get a bucket (a handful, so the
buckets are never pruned). The buckets live in the worker's memory, read on every call and
never the store's: with N workers a client may make N times the rate in all.

The buckets fill by a monotonic clock, not the app's, which a demo speeds up.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from api.error_codes import ErrorCode
from api.errors import ApiError
from pipelines.settings import Settings

Seconds = Callable[[], float]
# unset, a bucket holds this many seconds of the rate (pipelines.settings, client_rate_burst)
BURST_SECONDS = 2


class _Bucket:
    __slots__ = ("at", "tokens")

    def __init__(self, tokens: float, at: float) -> None:
        self.tokens = tokens
        self.at = at


class ClientRateLimit:
    """A token bucket per client key; safe from the event loop and from threads alike."""

    def __init__(self, rate: float, burst: int, clock: Seconds = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(
                f"a rate limit needs a rate above 0 and a burst of 1 or more, not {rate}, {burst}"
            )
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        # held for a few arithmetic steps: cheaper than any contention it could meet
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take a token of `key`'s bucket: 0.0 when there was one and the call may go; else the
        seconds until there is one, and nothing is taken."""
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key)
            if bucket is None:  # a client's first call finds its bucket full
                bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            else:
                # a clock that went back (a test's) fills nothing
                gained = max(0.0, now - bucket.at) * self.rate
                bucket.tokens = min(float(self.burst), bucket.tokens + gained)
                bucket.at = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate


def client_rate_limit(
    settings: Settings, clock: Seconds = time.monotonic
) -> ClientRateLimit | None:
    """The limit the settings set; None when they set none (OWNERSHIP_CLIENT_RATE_LIMIT 0)."""
    if settings.client_rate_limit == 0:
        return None
    burst = settings.client_rate_burst
    if burst is None:
        burst = max(1, math.ceil(settings.client_rate_limit * BURST_SECONDS))
    return ClientRateLimit(settings.client_rate_limit, burst, clock)


def too_many_requests(limit: ClientRateLimit, wait_seconds: float) -> ApiError:
    """429 for a client that spent its bucket: Retry-After in whole seconds, at least 1 (the
    header takes no fraction, and 0 would ask for a retry that is refused again)."""
    retry_after = max(1, math.ceil(wait_seconds))
    return ApiError(
        429,
        ErrorCode.TOO_MANY_REQUESTS,
        f"Too many calls from this client: at most {limit.rate:g} a second, {limit.burst} at "
        f"once; try again in {retry_after} s, signed afresh (this call's nonce is spent)",
        {"Retry-After": str(retry_after)},
    )
