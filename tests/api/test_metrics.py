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
