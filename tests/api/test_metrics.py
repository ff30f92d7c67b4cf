"""The metrics read when a scrape comes: a store that is down or slow never costs the scrape,
and the rest of the metrics still answer."""

from __future__ import annotations

import threading
import time

from sqlalchemy.exc import OperationalError

from api.observability import NotifyGauges, render_metrics
from delivery.figures import NotifyFigures


def test_a_store_that_cannot_be_read_leaves_the_other_metrics_answering() -> None:
    def store_down() -> NotifyFigures:
        raise OperationalError("select 1", {}, ConnectionRefusedError("connection refused"))

    body, _ = render_metrics(NotifyGauges(store_down))

    assert b"ownership_store_up 0.0" in body
    assert b"ownership_http_requests_total" in body
    assert b"ownership_notifications_under_way" not in body


def test_a_scrape_does_not_wait_behind_a_slow_store() -> None:
    reading, release = threading.Event(), threading.Event()
    figures = NotifyFigures({"accepted": 3}, 0, 0, None)

    def slow_store() -> NotifyFigures:
        reading.set()
        release.wait(10)
        return figures

    gauges = NotifyGauges(slow_store, every=0)
    first = threading.Thread(target=lambda: render_metrics(gauges))
    first.start()
    assert reading.wait(5)
    started = time.monotonic()

    body, _ = render_metrics(gauges)  # while the first scrape still waits on the store

    assert time.monotonic() - started < 1
    release.set()
    first.join()
    assert b"ownership_store_up 1.0" in body
