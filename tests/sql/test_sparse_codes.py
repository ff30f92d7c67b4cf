"""SPARSE_CODE_ENTRIES counts the days that hold a code, not the codes: a burst is one occasion."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.factories import ANNA, RU_MOBILE, History, days_ago
from tests.sql.conftest import Classify


def seconds(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1)).total_seconds())


def test_a_burst_of_codes_long_ago_proves_one_window_not_many(classify: Classify) -> None:
    history = History()
    history.register(RU_MOBILE, days_ago(880), ANNA).account(RU_MOBILE)
    for minute in range(0, 50, 5):  # ten codes within 45 minutes, two years ago
        history.code(RU_MOBILE, days_ago(815) + timedelta(minutes=minute), "vk", "vk-1")
    history.code(RU_MOBILE, days_ago(10), "vk", "vk-1")

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "suspicious"
    assert row["reasons"] == ["SPARSE_CODE_ENTRIES"]
    assert row["sparse_code_entries_at"] == seconds(days_ago(10))


def test_codes_in_every_window_are_not_sparse_however_they_bunch(classify: Classify) -> None:
    history = History()
    history.register(RU_MOBILE, days_ago(400), ANNA).account(RU_MOBILE)
    for day in (380, 379, 300, 220, 219, 218, 130, 40):
        history.code(RU_MOBILE, days_ago(day), "vk", "vk-1")

    row = classify(history)[RU_MOBILE]

    assert row["status"] == "verified"
    assert row["reasons"] == ["RECENT_CODE_ENTRY"]
