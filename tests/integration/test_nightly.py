"""The nightly scoring run: the day's re-verification results go into the history, the history
is scored and published; a run that fails publishes nothing and leaves the last scores served."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine

from pipelines.nightly import last_export, score_nightly
from pipelines.settings import load_settings
from tests.factories import ANNA, RU_MOBILE, History, days_ago
from tests.integration.test_export_verifications import store_denying

pytestmark = pytest.mark.integration


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Engine]:
    """A store holding the person's "No" to the prompt, five hours after AS_OF."""
    url = f"sqlite:///{tmp_path / 'ownership.db'}"
    with store_denying(url) as engine:
        yield engine


def statuses(scores: Path) -> list[tuple[str, list[str]]]:
    rows = pq.read_table(scores / "scores.parquet").to_pylist()
    return [(row["status"], row["reasons"]) for row in rows]


def test_the_nightly_run_scores_the_days_answers_and_publishes(
    tmp_path: Path, store: Engine
) -> None:
    history = History().register(RU_MOBILE, days_ago(300), ANNA).write(tmp_path / "events")
    settings = load_settings(scores_dir=tmp_path / "scores")

    result = score_nightly(settings, store, history)

    assert result is not None
    assert statuses(tmp_path / "scores") == [("owner_changed", ["OWNER_DENIED"])]
    assert last_export(history) is not None


def test_a_second_run_exports_only_what_is_new_give_or_take_the_overlap(
    tmp_path: Path, store: Engine
) -> None:
    history = History().register(RU_MOBILE, days_ago(300), ANNA).write(tmp_path / "events")
    settings = load_settings(scores_dir=tmp_path / "scores")
    score_nightly(settings, store, history)

    score_nightly(settings, store, history)

    exports = sorted((history / "verifications").glob("notify-*.parquet"))
    assert len(exports) == 2
    # the denial was made months before the first export: the second one has nothing of it
    assert pq.read_table(exports[1]).num_rows == 0


def test_a_failed_run_publishes_nothing_and_says_why(
    tmp_path: Path, store: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    history = History().register(RU_MOBILE, days_ago(300), ANNA).write(tmp_path / "events")
    settings = load_settings(scores_dir=tmp_path / "scores")
    assert score_nightly(settings, store, history) is not None
    published = (tmp_path / "scores" / "scores.parquet").read_bytes()
    (history / "registrations" / "part-0.parquet").write_bytes(b"not parquet")

    with caplog.at_level(logging.ERROR):
        assert score_nightly(settings, store, history) is None

    assert (tmp_path / "scores" / "scores.parquet").read_bytes() == published
    assert "nightly run failed" in caplog.text
