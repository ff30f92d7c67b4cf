"""A notification whose dispatch keeps failing is tried again every few seconds until its TTL;
its failure is logged with its traceback once, and the repeats in a counted line now and then,
not a traceback each time."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from ownership.channels import Channel
from tests.api.service import VERIFIED_FRESH
from tests.delivery.conftest import Notifier


def failing_notification(notifier: Notifier, monkeypatch: pytest.MonkeyPatch) -> str:
    """A notification whose networks cannot be found (a bug of this release, say), every time."""
    notification = str(
        notifier.service.accept(
            notifier.client_key, notifier.request(VERIFIED_FRESH, "r-1")
        ).answer["id"]
    )
    networks_for = notifier.service._networks_for

    def fails_for_it(row: dict[str, Any], *args: Any, **kwargs: Any) -> list[Channel]:
        if row["id"] == notification:
            raise RuntimeError(f"no networks for {row['id']}")
        return networks_for(row, *args, **kwargs)

    monkeypatch.setattr(notifier.service, "_networks_for", fails_for_it)
    return notification


def told(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.getMessage().startswith("could not")]


def test_a_dispatch_failing_at_every_try_is_logged_with_its_traceback_once(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    notification = failing_notification(notifier, monkeypatch)
    notifier.service.dispatch_failures.every = 4

    notifier.service.dispatch_due()
    for _ in range(8):
        notifier.next_round()

    records = told(caplog)
    assert [record.getMessage() for record in records] == [
        f"could not dispatch {notification}",
        f"could not dispatch {notification}: 4 tries failed, the last with RuntimeError: "
        f"no networks for {notification}",
        f"could not dispatch {notification}: 8 tries failed, the last with RuntimeError: "
        f"no networks for {notification}",
    ]
    assert records[0].exc_info is not None and records[1].exc_info is None
    assert notifier.status(notification) == "accepted"  # tried again until its TTL
