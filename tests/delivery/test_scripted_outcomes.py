"""An operator's script file (OWNERSHIP_SIMULATOR_SCRIPT) drives the notify path end to end on a
virtual clock, on SQLite and PostgreSQL: a number scripted to answer No gets its sensitive
notification by SMS and is owner_changed for every check at once; a number whose messages are
never delivered gets its notification by SMS at the TTL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.checks import check_number, find_number, options_at
from delivery.channels.sms_simulator import SmsSimulator
from delivery.overlay import answers_in_store
from ownership.policy import Policy
from pipelines.settings import load_settings
from pipelines.snapshot import Snapshot
from store.secrets import SecretCipher
from tests.api.service import SUSPICIOUS, VERIFIED_FRESH
from tests.delivery.test_end_to_end import Flow, build_flow

SCRIPT = """\
phone,answer,after_seconds,delivered_after_seconds
# the previous owner of a recycled number: No, a minute after the prompt
{denier},no,60
# an account whose messages never reach it
{unreachable},,,never
"""


@pytest.fixture
def scripted(
    engine: Engine,
    sessions: sessionmaker[Session],
    cipher: SecretCipher,
    scored: Path,
    tmp_path: Path,
) -> Iterator[Flow]:
    """The notify path on the real simulators, which follow a script file."""
    script = tmp_path / "script.csv"
    script.write_text(SCRIPT.format(denier=SUSPICIOUS, unreachable=VERIFIED_FRESH), "utf-8")
    flow = build_flow(engine, sessions, cipher, scored, load_settings(simulator_script=script))
    runtime = flow.runtime
    sms = runtime.channels.sms
    assert isinstance(sms, SmsSimulator)
    # the SMS's own outcome is drawn (a few in a hundred fail): the test is about the prompt's
    for phone in (SUSPICIOUS, VERIFIED_FRESH):
        sms.script_delivery(phone, timedelta(seconds=20))
    for simulator in runtime.channels.simulators:  # the pump's first round reads the script
        simulator.run_due()
    yield flow


def check_now(flow: Flow, scored: Path, phone: str) -> dict[str, Any]:
    """What `POST /v1/check` answers for `phone` now: the snapshot with the answers since."""
    snapshot = Snapshot(scored / "snapshot.bin")
    number, record = find_number(snapshot, phone)
    now = flow.clock.now().astimezone(UTC).replace(tzinfo=None)
    return check_number(
        snapshot,
        number,
        record,
        options_at(now, None, sensitive=True, mobile_only=False),
        now,
        Policy(),
        answers_in_store(flow.engine, number.key),
    )


def test_a_number_scripted_to_answer_no_gets_its_notification_by_sms_and_is_owner_changed(
    scripted: Flow, scored: Path
) -> None:
    assert check_now(scripted, scored, SUSPICIOUS)["status"] == "suspicious"

    asked = scripted.notify(SUSPICIOUS, "scripted-no", sensitive=True)
    scripted.run(minutes=3)

    assert scripted.history(asked) == ["accepted", "reverify_pending", "sms_sent", "sms_delivered"]
    checked = check_now(scripted, scored, SUSPICIOUS)
    assert checked["status"] == "owner_changed"
    assert [reason["code"] for reason in checked["reasons"]] == ["OWNER_DENIED"]
    assert checked["action"] == "sms"


def test_a_number_scripted_never_to_be_delivered_gets_its_notification_by_sms_at_its_ttl(
    scripted: Flow,
) -> None:
    sent = scripted.notify(VERIFIED_FRESH, "scripted-never-delivered")  # a one-hour TTL

    scripted.run(minutes=59)
    assert scripted.history(sent) == ["accepted", "sent"]
    scripted.run(minutes=3)

    assert scripted.history(sent) == ["accepted", "sent", "expired", "sms_sent", "sms_delivered"]
