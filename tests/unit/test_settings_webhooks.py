"""The webhook settings: a batch must be sent within the lease that holds it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipelines.settings import load_settings


def test_the_defaults_send_a_batch_well_within_its_lease() -> None:
    settings = load_settings()

    assert settings.webhook_lease_seconds > settings.webhook_timeout_seconds * 13


def test_a_lease_shorter_than_a_batch_can_take_is_refused() -> None:
    with pytest.raises(ValidationError, match="OWNERSHIP_WEBHOOK_LEASE_SECONDS"):
        load_settings(webhook_lease_seconds=30, webhook_timeout_seconds=10, webhook_concurrency=1)
