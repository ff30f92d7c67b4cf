"""Metrics, the `x-correlator` echo, and log lines that never show a whole phone number.

Request counts and latencies are labelled by route template (`/v1/check`), never by path, so
that numbers in paths cannot explode the label set. With several workers, uvicorn's processes
share metrics through prometheus_client's multiprocess directory (`PROMETHEUS_MULTIPROC_DIR`,
a folder of each `ownership serve`'s own). The serving snapshot's gauges are read when a scrape
comes, from the snapshot the answering worker maps: the file is one for every worker, and a
gauge kept in the directory would outlive the worker that set it.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from delivery.figures import NotifyFigures
from pipelines.logs import FailureStreaks, MaskedArguments, OneLinePerRecord, first_line

log = logging.getLogger(__name__)
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
ACCEPTED = Counter(
    "ownership_notifications_accepted_total",
    "Notifications accepted (a repeated request_id not counted again), by the policy's action",
    ["action"],
)
CORRELATOR = re.compile(rb"^[a-zA-Z0-9\-_:;./<>{}]{0,256}$")


def well_formed_correlator(scope: Scope) -> bytes | None:
    """The request's `x-correlator`, if it is one that may be echoed."""
    correlator = next((value for name, value in scope["headers"] if name == b"x-correlator"), None)
    return correlator if correlator is not None and CORRELATOR.match(correlator) else None


class SnapshotGauges(Collector):
    """The serving snapshot's as_of, numbers and size, as they are when collected."""

    def __init__(self, read: Callable[[], tuple[float | None, int, int] | None]) -> None:
        # (as_of in epoch seconds or None, numbers, bytes); None while there is no snapshot
        self._read = read

    def collect(self) -> Iterable[Metric]:
        found = self._read()
        if found is None:
            return
        as_of, numbers, size = found
        if as_of is not None:
            yield GaugeMetricFamily(
                "ownership_snapshot_as_of_seconds",
                "as_of of the serving snapshot, seconds since the epoch",
                value=as_of,
            )
        yield GaugeMetricFamily(
            "ownership_snapshot_numbers", "Numbers in the serving snapshot", value=numbers
        )
        yield GaugeMetricFamily(
            "ownership_snapshot_bytes", "Size of the serving snapshot file", value=size
        )


class NotifyGauges(Collector):
    """The notify path's state from the store (`delivery.figures`), read at most once every
    `every` seconds however many scrapers come, on a thread of its own. A scrape waits at most
    `wait` seconds for a read: a store that fails, or has not answered by then, shows as
    `ownership_store_up 0` beside the other metrics, without figures, never as a failed or
    stuck scrape."""

    def __init__(
        self, read: Callable[[], NotifyFigures], every: float = 5.0, wait: float = 1.0
    ) -> None:
        self._read = read
        self._every = every
        self._wait = wait
        self._lock = threading.Lock()
        self._figures: NotifyFigures | None = None  # the last read's; None if it failed
        self._read_at = -math.inf
        self._reading_since: float | None = None
        self._read_done = threading.Event()
        self._read_done.set()
        # a store down fails every read, one every `every` seconds: told once, then counted
        self._failures = FailureStreaks()

    def _start_read_if_due(self) -> threading.Event:
        with self._lock:
            due = time.monotonic() - self._read_at >= self._every
            if self._reading_since is None and due:
                self._reading_since = time.monotonic()
                self._read_done = threading.Event()
                threading.Thread(target=self._read_once, name="store-figures", daemon=True).start()
            return self._read_done

    def _read_once(self) -> None:
        try:
            figures: NotifyFigures | None = self._read()
        except Exception as error:  # the store down, or any error of its driver
            telling = self._failures.failed("figures", error)
            if telling is not None and telling.first:
                log.warning(
                    "the notify path's figures cannot be read from the store: %s", first_line(error)
                )
            elif telling is not None:
                log.warning(
                    "the notify path's figures failed %d more reads the same way, last: %s",
                    telling.untold,
                    first_line(error),
                )
            figures = None
        else:
            if failed := self._failures.ended("figures"):
                log.info("the notify path's figures are read again after %d failed reads", failed)
        with self._lock:
            self._figures, self._read_at, self._reading_since = figures, time.monotonic(), None
            self._read_done.set()

    def collect(self) -> Iterable[Metric]:
        self._start_read_if_due().wait(self._wait)
        with self._lock:
            stalled = self._reading_since is not None and (
                time.monotonic() - self._reading_since >= self._wait
            )
            figures = None if stalled else self._figures
        yield GaugeMetricFamily(
            "ownership_store_up",
            "1 when the notify path's figures were read from the store, 0 when it failed or "
            "has not answered",
            value=0 if figures is None else 1,
        )
        if figures is None:
            return
        under_way = GaugeMetricFamily(
            "ownership_notifications_under_way",
            "Notifications under way (their outcome not yet known), by status" + WHOLE_STORE,
            labels=["status"],
        )
        for status, count in figures.under_way.items():
            under_way.add_metric([status], count)
        yield under_way
        yield GaugeMetricFamily(
            "ownership_notifications_overdue",
            "Notifications past their TTL by more than two minutes, still awaiting the network, "
            "the person or their fallback SMS's sending: the sweeper is behind or not running, "
            "or the SMS gateway is down" + WHOLE_STORE,
            value=figures.overdue,
        )
        yield GaugeMetricFamily(
            "ownership_webhooks_pending",
            "Webhook events not yet delivered" + WHOLE_STORE,
            value=figures.webhooks_pending,
        )
        if figures.oldest_webhook_seconds is not None:
            yield GaugeMetricFamily(
                "ownership_webhooks_oldest_pending_seconds",
                "Age of the oldest webhook event not yet delivered" + WHOLE_STORE,
                value=figures.oldest_webhook_seconds,
            )


def _route_path(path: str, prefix: str) -> str:
    """The request's path as the app's routes read it: behind a prefix (the server's
    `root_path`, as the request came in; a mount adds its own to it), without it."""
    # uvicorn writes the path as the prefix and then the route: `/svc/` gives `/svc//docs`
    for candidate in (prefix, prefix.rstrip("/")):
        if candidate and path.startswith(candidate) and path[len(candidate) :].startswith("/"):
            return path[len(candidate) :]
    return "/" if prefix and path == prefix.rstrip("/") else path


# the store's figures are the same on every host and worker that reads them
WHOLE_STORE = " (the whole store's, as every host and worker reports it: aggregate with max)"


# a worker's mark in the multiprocess directory, `worker-<pid>.pid` (not `*.db`, which
# prometheus_client reads as metrics)
WORKER_MARK_PREFIX = "worker-"
WORKER_MARK_SUFFIX = ".pid"


def mark_worker(directory: str) -> Path | None:
    """Leave this worker's mark in the multiprocess `directory`, for `WorkerProcesses`: its pid
    in the name, its start time inside (so that a pid the system gives to another process
    later is not taken for it). None if it cannot be written: the worker serves all the same."""
    mark = Path(directory, f"{WORKER_MARK_PREFIX}{os.getpid()}{WORKER_MARK_SUFFIX}")
    try:
        mark.write_text(_started(str(os.getpid())) or "")
    except OSError as error:
        log.warning("this worker's process metrics will not be shown: %s", error)
        return None
    return mark


def _started(pid: str) -> str | None:
    """When the process `pid` started, in clock ticks since boot (/proc/PID/stat's 22nd field);
    None if there is no such process."""
    try:
        stat = Path("/proc", pid, "stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()[19]  # the name, in brackets, may hold spaces


class WorkerProcesses(Collector):
    """Each worker's process metrics (CPU, memory, open files, start time), labelled `pid`.

    prometheus_client collects the process metrics of the process that answers the scrape,
    and none in multiprocess mode, where that is one worker of several: here each worker
    that left its mark (`mark_worker`) is read from /proc when the scrape comes. The mark of
    one that is gone (killed, so its own shutdown never ran) is removed."""

    def __init__(self, directory: str) -> None:
        self._directory = Path(directory)

    def collect(self) -> Iterable[Metric]:
        families: dict[str, Metric] = {}
        for mark in sorted(self._directory.glob(f"{WORKER_MARK_PREFIX}*{WORKER_MARK_SUFFIX}")):
            pid = mark.name.removeprefix(WORKER_MARK_PREFIX).removesuffix(WORKER_MARK_SUFFIX)
            if not pid.isdigit():
                continue
            try:
                alive = (started := _started(pid)) is not None and started == mark.read_text()
            except OSError:  # removed meanwhile: its worker stopped
                continue
            if not alive:
                mark.unlink(missing_ok=True)
                continue
            reader = ProcessCollector(pid=functools.partial(str, pid), registry=None)
            for family in reader.collect():
                merged = families.setdefault(
                    family.name, Metric(family.name, family.documentation, family.type)
                )
                for sample in family.samples:
                    merged.add_sample(sample.name, {**sample.labels, "pid": pid}, sample.value)
        yield from families.values()


def render_metrics(*own_collectors: Collector) -> tuple[bytes, str]:
    """The exposition text: this process's registry, or every worker's in multiprocess mode
    (with each worker's process metrics), then the collectors read when the scrape comes
    (the snapshot, the store)."""
    if directory := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(WorkerProcesses(directory))
        shared = generate_latest(registry)
    else:
        shared = generate_latest()
    own = CollectorRegistry()
    for collector in own_collectors:
        own.register(collector)
    return shared + generate_latest(own), CONTENT_TYPE_LATEST


class ObservabilityMiddleware:
    """Counts and times every request, and echoes a well-formed `x-correlator` header.

    A 500 is answered outside this middleware, by Starlette's error middleware, so the handler
    of unexpected errors (api.errors) echoes the correlator itself.
    """

    def __init__(
        self, app: ASGIApp, static_paths: Iterable[str] = (), static_folders: Iterable[str] = ()
    ) -> None:
        self.app = app
        # routes FastAPI serves without naming them in the scope (its OpenAPI document):
        # labelled by their path, which is fixed, instead of as unmatched
        self.static_paths = frozenset(static_paths)
        # mounted folders of files (the docs pages' scripts): labelled by the folder, so that
        # requests for made-up file names add no label values
        self.static_folders = tuple(folder.rstrip("/") + "/" for folder in static_folders)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        prefix = str(scope.get("root_path", ""))  # before a mount adds to it
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
            template = getattr(route, "path", None)
            if template is None:
                template = self._static_template(_route_path(scope["path"], prefix))
            REQUESTS.labels(template, scope["method"], str(status)).inc()
            LATENCY.labels(template, scope["method"]).observe(time.perf_counter() - started)

    def _static_template(self, path: str) -> str:
        if path in self.static_paths:
            return path
        for folder in self.static_folders:
            if path.startswith(folder):
                return folder.rstrip("/")
        return "unmatched"


def mask_phone_numbers_in_logs() -> None:
    """Put the API's one-line filter, masking bare runs of digits too, on every handler of
    uvicorn's loggers and the root logger that lacks it, and on uvicorn's access log the
    filter that masks its arguments: `ownership serve` configures its handlers so
    (`server_log_config`), a server started another way (uvicorn with this app's factory)
    gets them here."""
    for name in ("", "uvicorn", "uvicorn.error"):
        for handler in logging.getLogger(name).handlers:
            if not any(
                isinstance(item, OneLinePerRecord) and item.bare_digits for item in handler.filters
            ):
                # first: the numbers are found in the message as written, before a filter
                # there writes out its controls (`\x1b4155550100` would hide the number)
                handler.filters.insert(0, OneLinePerRecord(bare_digits=True))
    for handler in logging.getLogger("uvicorn.access").handlers:
        if not any(isinstance(item, MaskedArguments) for item in handler.filters):
            handler.filters.insert(0, MaskedArguments())
