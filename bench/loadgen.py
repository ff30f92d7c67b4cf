"""A small HTTP/1.1 load generator for the bench: pre-built requests over keep-alive sockets.

Requests are built (and signed) before the clock starts, so the generator spends its time on
sockets only. It talks to 127.0.0.1 only, sends at most the requests it was given and stops at
`max_seconds`.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from typing import Any

LOCALHOST = "127.0.0.1"


@dataclass(frozen=True)
class LoadResult:
    requests: int
    failures: int
    seconds: float
    latencies_ms: list[float]
    failure_statuses: tuple[int, ...] = ()

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, share: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "failures": self.failures,
            "failure_statuses": sorted(set(self.failure_statuses)),
            "rps": round(self.per_second, 1),
            "p50_ms": round(self.percentile(0.50), 3),
            "p99_ms": round(self.percentile(0.99), 3),
            "mean_ms": round(statistics.fmean(self.latencies_ms), 3) if self.latencies_ms else 0,
        }


def http_request(method: str, path: str, port: int, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {LOCALHOST}:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def _connection(
    port: int,
    queue: list[bytes],
    latencies: list[float],
    failures: list[int],
    deadline: float,
) -> None:
    reader, writer = await asyncio.open_connection(LOCALHOST, port)
    try:
        while queue and time.perf_counter() < deadline:
            request = queue.pop()
            started = time.perf_counter()
            writer.write(request)
            status = await _read_response(reader)
            latencies.append((time.perf_counter() - started) * 1000)
            if not 200 <= status < 300:
                failures.append(status)
    finally:
        writer.close()


async def _run(
    port: int, requests: list[bytes], connections: int, max_seconds: float
) -> LoadResult:
    queue = list(reversed(requests))
    latencies: list[float] = []
    failures: list[int] = []
    started = time.perf_counter()
    deadline = started + max_seconds
    await asyncio.gather(
        *(_connection(port, queue, latencies, failures, deadline) for _ in range(connections))
    )
    return LoadResult(
        len(latencies), len(failures), time.perf_counter() - started, latencies, tuple(failures)
    )


def run_load(port: int, requests: list[bytes], connections: int, max_seconds: float) -> LoadResult:
    """Send `requests` over `connections` keep-alive connections; stop early at `max_seconds`."""
    return asyncio.run(_run(port, requests, connections, max_seconds))
