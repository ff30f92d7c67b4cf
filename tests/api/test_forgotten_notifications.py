"""Over HTTP, a notification the retention forgot: `GET /v1/notifications/{id}` answers 404 in
the API's envelope, as for one never sent, and `GET /v1/billing` answers as before."""

from __future__ import annotations

from datetime import UTC, timedelta
from pathlib import Path

import pytest
from requests import Response

from delivery.forgetting import forget_notifications_before
from tests.api.conftest import served_history
from tests.api.service import NOW, RECYCLED
from tests.api.test_notify_routes import body
from tests.conftest import DATABASES, fresh_database

MONTH = NOW.strftime("%Y-%m")


@pytest.mark.parametrize("kind", DATABASES)
def test_a_forgotten_notification_is_not_found_and_its_month_is_billed_as_before(
    kind: str, tmp_path: Path
) -> None:
    with fresh_database(kind, tmp_path) as url:
        shown, sent = forgotten_and_asked_for(tmp_path, url)

    assert shown.status_code == 404
    assert shown.json() == {
        "status": 404,
        "code": "NOT_FOUND",
        "message": f"no notification {sent} of this client",
    }


def forgotten_and_asked_for(folder: Path, url: str) -> tuple[Response, str]:
    """A notification delivered by SMS, forgotten, then asked for; the bill of its month is
    checked on the way."""
    for served in served_history(folder, database_url=url):
        caller, service = served.caller, served.notify
        sent = caller.post("/v1/notify", body("forgotten", phone=RECYCLED)).json()["id"]
        service.dispatch_due()
        assert service.sms_delivered(sent, service.clock.now())
        billed = caller.get_signed(f"/v1/billing?month={MONTH}").json()
        assert billed["delivered"] == 1

        after_it = NOW.replace(tzinfo=UTC) + timedelta(days=1)
        assert forget_notifications_before(served.engine, after_it).notifications == 1

        shown = caller.get_signed(f"/v1/notifications/{sent}")
        assert caller.get_signed(f"/v1/billing?month={MONTH}").json() == billed

    return shown, sent
