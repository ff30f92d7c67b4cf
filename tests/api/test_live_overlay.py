"""Answers given since the batch reach every check at once: `/v1/check`, the bulk check and
CAMARA see a No or a Yes recorded by another worker, before the next batch run."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from delivery import records
from tests.api.conftest import Served, served_history
from tests.api.service import (
    NO_HOLDER_SINCE_CHANGE,
    NOW,
    SUSPICIOUS,
    VERIFIED_FRESH,
    VERIFIED_OLDER,
)
from tests.api.test_checks import check

ANSWERED_AT = NOW - timedelta(hours=1)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """A service that reads the store's overlay on every call."""
    yield from served_history(tmp_path / "served", overlay_every=0.0)


def answer_elsewhere(served: Served, phone: str, result: str, at: datetime = ANSWERED_AT) -> None:
    """Another worker of the service records a re-verification answer in the shared store."""
    with served.engine.begin() as connection:
        records.record_verification(
            connection, phone, at.replace(tzinfo=UTC), "prompt", result, "vk:1", None
        )


def test_a_no_makes_the_number_owner_changed_for_checks_before_the_next_batch(
    served: Served,
) -> None:
    assert check(served.caller, SUSPICIOUS)["status"] == "suspicious"

    answer_elsewhere(served, SUSPICIOUS, "denied")
    answer = check(served.caller, SUSPICIOUS, since="2026-05-01")

    assert answer["status"] == "owner_changed"
    assert answer["reasons"] == [{"code": "OWNER_DENIED", "at": "2026-06-02T08:00:00Z"}]
    # the No tells who no longer holds the number, not who does
    assert answer["owner_since"] is None
    assert answer["changed_since"] is True
    assert 700 <= answer["risk_score"] <= 1000
    assert answer["action"] == "sms"


def test_the_bulk_check_answers_a_number_with_answers_as_the_single_check_does(
    served: Served,
) -> None:
    answer_elsewhere(served, SUSPICIOUS, "denied")

    response = served.caller.post(
        "/v1/check/bulk", {"phones": [VERIFIED_FRESH, SUSPICIOUS, "garbage"], "sensitive": True}
    )

    assert response.status_code == 200, response.text
    fresh, denied, garbage = response.json()["results"]
    assert denied == check(served.caller, SUSPICIOUS, sensitive=True)
    assert fresh == check(served.caller, VERIFIED_FRESH, sensitive=True)
    assert fresh["status"] == "verified"
    assert garbage["error"]["code"] == "INVALID_ARGUMENT"


def test_camara_sees_a_no_given_since_the_batch(served: Served) -> None:
    body = {"phoneNumber": SUSPICIOUS, "specifiedDate": "2026-06-01"}
    tenure = {"phoneNumber": SUSPICIOUS, "tenureDate": "2026-06-01"}
    assert served.caller.post("/number-recycling/v0.2/check", body).json() == {
        "phoneNumberRecycled": False
    }

    answer_elsewhere(served, SUSPICIOUS, "denied")

    recycled = served.caller.post("/number-recycling/v0.2/check", body)
    held = served.caller.post("/kyc-tenure/v0.3/check-tenure", tenure)
    assert recycled.json() == {"phoneNumberRecycled": True}
    assert held.json() == {"tenureDateCheck": False}


def test_a_yes_makes_an_older_proof_fresh_so_a_sensitive_notification_is_delivered(
    served: Served,
) -> None:
    assert check(served.caller, VERIFIED_OLDER, sensitive=True)["action"] == "reverify"

    answer_elsewhere(served, VERIFIED_OLDER, "confirmed")
    answer = check(served.caller, VERIFIED_OLDER, sensitive=True)

    assert answer["status"] == "verified"
    assert answer["reasons"] == [{"code": "RECENT_CONFIRMATION", "at": "2026-06-02T08:00:00Z"}]
    assert answer["last_confirmed_at"] == "2026-06-02T08:00:00Z"
    assert (answer["action"], answer["policy_case"]) == ("deliver", "VERIFIED_FRESH")


def test_a_no_given_before_the_snapshot_but_not_in_it_still_holds(served: Served) -> None:
    """Reported late, or exported after the run: the snapshot's verdict does not show it."""
    answer_elsewhere(served, SUSPICIOUS, "denied", at=NOW - timedelta(days=3))  # before as_of

    assert check(served.caller, SUSPICIOUS)["status"] == "owner_changed"


def test_a_yes_after_a_change_no_holder_showed_on_since_starts_the_new_holders_tenure(
    served: Served,
) -> None:
    tenure = {"phoneNumber": NO_HOLDER_SINCE_CHANGE, "tenureDate": "2026-06-02"}
    assert served.caller.post("/kyc-tenure/v0.3/check-tenure", tenure).json() == {
        "tenureDateCheck": False
    }

    answer_elsewhere(served, NO_HOLDER_SINCE_CHANGE, "confirmed")
    answer = check(served.caller, NO_HOLDER_SINCE_CHANGE, since="2026-06-01")

    assert answer["status"] == "verified"
    assert answer["owner_since"] == "2026-06-02T08:00:00Z"
    assert answer["changed_since"] is True
    held = served.caller.post("/kyc-tenure/v0.3/check-tenure", tenure)
    assert held.json() == {"tenureDateCheck": True}
    before = {**tenure, "tenureDate": "2026-06-01"}
    assert served.caller.post("/kyc-tenure/v0.3/check-tenure", before).json() == {
        "tenureDateCheck": False
    }
