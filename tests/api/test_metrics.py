"""The metrics read when a scrape comes: a store that is down or slow never costs the scrape,
and the rest of the metrics still answer; each worker's process metrics, and none of a process
that only has a dead worker's pid."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import NoReturn

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy.exc import OperationalError

from api.app import forget_old_nonces
from api.observability import NotifyGauges, WorkerProcesses, mark_worker, render_metrics
from delivery.figures import NotifyFigures


def test_a_store_that_cannot_be_read_leaves_the_other_metrics_answering() -> None:
    def store_down() -> NotifyFigures:
        raise OperationalError("select 1", {}, ConnectionRefusedError("connection refused"))

    body, _ = render_metrics(NotifyGauges(store_down))

    assert b"ownership_store_up 0.0" in body
    assert b"ownership_http_requests_total" in body
    assert b"ownership_notifications_under_way" not in body


def test_a_store_down_scrape_after_scrape_is_told_once_in_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def store_down() -> NotifyFigures:
        raise OperationalError("select status, count(*)", {"k": 1}, ConnectionRefusedError("no"))

    gauges = NotifyGauges(store_down, every=0, wait=5)

    with caplog.at_level(logging.WARNING, logger="api.observability"):
        for _ in range(20):
            render_metrics(gauges)

    told = [record.getMessage() for record in caplog.records]
    assert len(told) == 1
    assert "\n" not in told[0] and "select status" not in told[0]


def test_a_store_that_does_not_answer_shows_as_down_without_holding_the_scrape() -> None:
    release = threading.Event()
    figures = NotifyFigures({"accepted": 3}, 0, 0, None)
    reads: list[float] = []

    def stalled_store() -> NotifyFigures:
        reads.append(time.monotonic())
        release.wait(10)
        return figures

    gauges = NotifyGauges(stalled_store, every=0, wait=0.2)
    started = time.monotonic()

    first, _ = render_metrics(gauges)
    second, _ = render_metrics(gauges)  # the read still under way: not started again

    assert time.monotonic() - started < 2
    assert len(reads) == 1
    for body in (first, second):
        assert b"ownership_store_up 0.0" in body
        assert b"ownership_notifications_under_way" not in body
    release.set()
    deadline = time.monotonic() + 5
    while b"ownership_store_up 1.0" not in (body := render_metrics(gauges)[0]):
        assert time.monotonic() < deadline
    assert b'ownership_notifications_under_way{status="accepted"} 3.0' in body


def worker_pids_shown(directory: Path) -> set[str]:
    metrics = generate_latest_of(WorkerProcesses(str(directory)))
    return {
        line.split('pid="', 1)[1].split('"', 1)[0]
        for line in metrics.splitlines()
        if line.startswith("process_resident_memory_bytes{")
    }


def generate_latest_of(collector: WorkerProcesses) -> str:
    registry = CollectorRegistry()
    registry.register(collector)
    return generate_latest(registry).decode()


def test_a_marked_workers_process_metrics_are_shown_under_its_pid(tmp_path: Path) -> None:
    mark_worker(str(tmp_path))

    assert worker_pids_shown(tmp_path) == {str(os.getpid())}


def test_a_mark_whose_pid_another_process_now_has_is_not_shown_and_is_removed(
    tmp_path: Path,
) -> None:
    # a worker killed outright leaves its mark; the system gives its pid to this process
    stale = tmp_path / f"worker-{os.getpid()}.pid"
    stale.write_text("1")  # started at another time

    assert worker_pids_shown(tmp_path) == set()
    assert not stale.exists()


def test_a_store_down_round_after_round_of_the_nonces_retention_is_told_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class StoreDown:
        def begin(self) -> NoReturn:
            raise OperationalError("delete from nonces", {"k": 1}, ConnectionRefusedError("no"))

    async def for_a_while() -> None:
        rounds = forget_old_nonces(StoreDown(), 900, every_seconds=0.001)  # type: ignore[arg-type]
        with suppress(TimeoutError):
            await asyncio.wait_for(rounds, timeout=0.3)

    with caplog.at_level(logging.ERROR, logger="api.app"):
        asyncio.run(for_a_while())

    assert len(caplog.records) == 1
    assert caplog.records[0].exc_info is not None  # the first, with its traceback
