"""Benchmark the API's authenticator in process: what verifying one signed call costs, and
whether a refused call costs the same whatever it names.

In one run, on the authenticator alone (a store in memory, so that only the protocol's work is
timed), each kind of call signed before the clock starts, each with its own nonce:
  - a good call: a client's call, signed with its secret;
  - a wrong signature: a client's key, signed with another secret;
  - an unknown key: a key no client has, signed with some secret;
  - a disabled client: a client's key whose client is disabled.
It prints the median µs a call and each refused kind's ratio to the wrong signature's (equal
timing: a caller without a secret must not learn which keys exist), as JSON.

    python bench/bench_auth.py --calls 5000 --repeat 5
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from ipaddress import ip_network

from oauthlib.oauth1 import Client

from api.auth import Authenticator, AuthError
from store.clients import ClientRecord

URL = "https://api.example.ru/v1/check"
BODY = b'{"phone": "+79234567823", "sensitive": true}'
OFFICE_IP = "203.0.113.7"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
BANK = ClientRecord(
    name="bank",
    key="BankKey00000000000000000",
    secret="bank-secret-" + "x" * 31,
    networks=(ip_network("203.0.113.0/24"),),
    disabled=False,
)
CLOSED = ClientRecord(
    name="closed",
    key="ClosedKey000000000000000",
    secret="closed-secret-" + "y" * 29,
    networks=BANK.networks,
    disabled=True,
)
UNKNOWN_KEY = "NoSuchKey000000000000000"


@dataclass
class MemoryStore:
    """The store port in memory: every nonce is new."""

    clients: dict[str, ClientRecord]
    nonces: set[tuple[str, str, int]] = field(default_factory=set)

    def find_client(self, key: str) -> ClientRecord | None:
        return self.clients.get(key)

    def remember_nonce(self, key: str, nonce: str, timestamp: int) -> bool:
        self.nonces.add((key, nonce, timestamp))
        return True

    async def remember_nonce_async(self, key: str, nonce: str, timestamp: int) -> bool:
        return self.remember_nonce(key, nonce, timestamp)


def signed(key: str, secret: str) -> dict[str, str]:
    client = Client(
        key,
        client_secret=secret,
        signature_method="HMAC-SHA256",
        timestamp=str(int(NOW.timestamp())),
        nonce=uuid.uuid4().hex,
    )
    _, headers, _ = client.sign(URL, "POST", BODY.decode(), {"Content-Type": "application/json"})
    return dict(headers)


KINDS: dict[str, Callable[[], dict[str, str]]] = {
    "good": lambda: signed(BANK.key, BANK.secret),
    "wrong_signature": lambda: signed(BANK.key, "not-the-secret-" + "z" * 28),
    "unknown_key": lambda: signed(UNKNOWN_KEY, "not-the-secret-" + "z" * 28),
    "disabled": lambda: signed(CLOSED.key, CLOSED.secret),
}


def per_call_us(
    authenticator: Authenticator, calls: dict[str, list[dict[str, str]]]
) -> dict[str, float]:
    """The median µs of one call of each kind, each timed on its own. The kinds take turns
    call by call, so that a noisy moment of a shared machine hits them alike."""
    times: dict[str, list[float]] = {kind: [] for kind in calls}
    for batch in zip(*calls.values(), strict=True):
        for kind, headers in zip(calls, batch, strict=True):
            started = time.perf_counter()
            with contextlib.suppress(AuthError):
                authenticator.authenticate("POST", URL, headers, BODY, OFFICE_IP)
            times[kind].append(time.perf_counter() - started)
    return {kind: statistics.median(values) * 1e6 for kind, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=5000, help="calls of each kind a repeat")
    parser.add_argument("--repeat", type=int, default=5, help="repeats; medians are reported")
    args = parser.parse_args(argv)
    store = MemoryStore({BANK.key: BANK, CLOSED.key: CLOSED})
    authenticator = Authenticator(store, clock=lambda: NOW, cache_seconds=1e9)
    runs: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for _ in range(args.repeat):
        calls = {kind: [sign() for _ in range(args.calls)] for kind, sign in KINDS.items()}
        for kind, median in per_call_us(authenticator, calls).items():
            runs[kind].append(median)
    medians = {kind: round(statistics.median(values), 1) for kind, values in runs.items()}
    wrong = medians["wrong_signature"]
    print(
        json.dumps(
            {
                "calls": args.calls,
                "repeat": args.repeat,
                "median_us": medians,
                "ratio_to_wrong_signature": {
                    kind: round(value / wrong, 3) for kind, value in medians.items()
                },
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
