"""A simulated day of notifications settles every notification, bills each delivery once, and
is the same day again from the same seed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from delivery import records
from ownership.notifications import BILLABLE, NotificationStatus
from pipelines.simulate_day import DayMix, SimulationInputError
from store.database import make_engine
from tests.integration.conftest import DAY_NOTIFICATIONS, DAY_SEED, Day, Demo, simulate

pytestmark = pytest.mark.integration


def test_every_notification_of_the_day_reaches_its_outcome(day: Day) -> None:
    assert day.summary.unsettled == 0
    assert sum(day.summary.statuses.values()) == DAY_NOTIFICATIONS
    # the arrivals span a day, and the last TTL (24 h) is settled a day later at most
    assert day.summary.settled_at - day.summary.started_at <= DayMix().span * 2


def test_each_delivery_is_billed_once(day: Day) -> None:
    engine = make_engine(day.store_url)
    with engine.connect() as connection:
        billed = connection.execute(select(func.count()).select_from(records.ledger)).scalar()
    engine.dispose()
    delivered = {NotificationStatus.READ} | BILLABLE
    assert billed == sum(day.summary.statuses.get(status.value, 0) for status in delivered)


def test_the_day_takes_both_paths(day: Day) -> None:
    statuses = day.summary.statuses
    assert statuses.get("read", 0) > 0 and statuses.get("sms_delivered", 0) > 0


def test_the_same_seed_gives_the_same_day(demo: Demo, day: Day, tmp_path: Path) -> None:
    again = simulate(demo, tmp_path, DAY_NOTIFICATIONS, DAY_SEED)

    assert again.summary.statuses == day.summary.statuses


def test_a_mix_whose_ttl_shares_do_not_add_up_is_refused() -> None:
    with pytest.raises(SimulationInputError, match="add up to 1"):
        DayMix(ttls=())
