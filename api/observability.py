"""Metrics, the `x-correlator` echo, and log lines that never show a whole phone number.

Request counts and latencies are labelled by route template (`/v1/check`), never by path, so
that numbers in paths cannot explode the label set. With several workers, uvicorn's processes
share metrics through prometheus_client's multiprocess directory (`PROMETHEUS_MULTIPROC_DIR`,
set by `ownership serve`).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from ownership.numbers import mask

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUESTS = Counter(
    "ownership_http_requests_total", "HTTP requests answered", ["route", "method", "status"]
)
LATENCY = Histogram(
    "ownership_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["route", "method"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)
SNAPSHOT_AS_OF = Gauge(
    "ownership_snapshot_as_of_seconds",
    "as_of of the serving snapshot, seconds since the epoch",
    multiprocess_mode="max",
)
SNAPSHOT_NUMBERS = Gauge(
    "ownership_snapshot_numbers", "Numbers in the serving snapshot", multiprocess_mode="max"
)
SNAPSHOT_BYTES = Gauge(
    "ownership_snapshot_bytes", "Size of the serving snapshot file", multiprocess_mode="max"
)
CORRELATOR = re.compile(rb"^[a-zA-Z0-9\-_:;./<>{}]{0,256}$")


def well_formed_correlator(scope: Scope) -> bytes | None:
    """The request's `x-correlator`, if it is one that may be echoed."""
    correlator = next((value for name, value in scope["headers"] if name == b"x-correlator"), None)
    return correlator if correlator is not None and CORRELATOR.match(correlator) else None


def render_metrics() -> tuple[bytes, str]:
    """The exposition text: this process's registry, or every worker's in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


class ObservabilityMiddleware:
    """Counts and times every request, and echoes a well-formed `x-correlator` header.

    A 500 is answered outside this middleware, by Starlette's error middleware, so the handler
    of unexpected errors (api.errors) echoes the correlator itself.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        correlator = well_formed_correlator(scope)
        status = 500

        async def send_with_correlator(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if correlator is not None:
                    message["headers"] = [
                        *message.get("headers", []),
                        (b"x-correlator", correlator),
                    ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_correlator)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            REQUESTS.labels(template, scope["method"], str(status)).inc()
            LATENCY.labels(template, scope["method"]).observe(time.perf_counter() - started)


PHONE_LIKE = re.compile(r"\+?\b[1-9]\d{7,14}\b")


def _masked(match: re.Match[str]) -> str:
    return mask("+" + match.group(0).lstrip("+"))


class MaskPhoneNumbers(logging.Filter):
    """Rewrites every number-like run of digits in a log line to its masked form."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = PHONE_LIKE.sub(_masked, message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def mask_phone_numbers_in_logs() -> None:
    """Install the masking filter on every handler of the root and uvicorn loggers."""
    for name in ("", "uvicorn", "uvicorn.access", "uvicorn.error"):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(item, MaskPhoneNumbers) for item in handler.filters):
                handler.addFilter(MaskPhoneNumbers())
