"""Spark runs the same models as DuckDB and publishes the same scores (DESIGN §10)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ownership.verdicts import Reason, Status
from pipelines.scoring import Engine, ScoreRequest, ScoreResult, score
from pipelines.synth import generate
from tests.factories import (
    ANNA,
    ANNA_MOVED,
    ANNA_RETYPED,
    AS_OF,
    BORIS,
    History,
    Person,
    days_ago,
)

pytest.importorskip("pyspark")

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = [
    pytest.mark.spark,
    pytest.mark.integration,
    pytest.mark.usefixtures("spark"),
    # PySpark's own complaint about the installed pandas; the models never touch pandas
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]

# One number per reason: the crafted part of the history (W = 90 days, F = 30 days).
CRAFTED_PREFIX = "+7916"
PROFILE_MISMATCH = "+79160000001"
NUMBER_CHANGE = "+79160000002"
PERMANENT_FAILURES = "+79160000003"
OWNER_DENIED_AND_MORE = "+79160000004"
CODES_SMS_AND_PROFILES = "+79160000005"
RECENT_CONFIRMATION = "+79160000006"
SPARSE_CODES = "+79160000007"
ONLY_REGISTRATION_CODE = "+79160000008"
NO_RECENT_CODE = "+79160000009"
SMS_GAP = "+79160000010"
SMS_SILENCE = "+79160000011"
NO_HISTORY = "+79160000012"
PROVEN_AFTER_CHANGE = "+79160000013"
ONE_FAILURE_GLITCH = "+79160000014"
MESSY_TEXT_OF_RECENT_CODE = "+7 (916) 000-00-15"
TIED_REGISTRATIONS = "+79160000016"

RANDOM_PHONES = 400
SYNTH_PHONES = 1500  # about 190,000 events at the realistic density
SYNTH_SEED = 7
# a few rejects are part of the history on purpose
MAX_REJECT_SHARE = 0.05


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    from pipelines import spark_engine

    # Two cores and a few thousand rows: more partitions would only add tasks. The JVM's quick
    # compiler alone halves the warm-up of a session this short.
    yield spark_engine.spark_session(
        shuffle_partitions=2, java_options=("-XX:TieredStopAtLevel=1",)
    )
    spark_engine.stop_spark_session()


def every_reason_history() -> History:
    history = History()
    history.account(PROFILE_MISMATCH, "vk-1")
    history.register(PROFILE_MISMATCH, days_ago(400), ANNA, account="vk-1")
    history.register(PROFILE_MISMATCH, days_ago(10), BORIS, account="vk-2")

    history.register(NUMBER_CHANGE, days_ago(300), ANNA)
    history.number_change(NUMBER_CHANGE, days_ago(20))

    history.sms(PERMANENT_FAILURES, days_ago(200))
    history.sms(PERMANENT_FAILURES, days_ago(30), "failed", "unknown_subscriber")
    history.sms(PERMANENT_FAILURES, days_ago(25), "failed", "unknown_subscriber")

    history.account(OWNER_DENIED_AND_MORE, "vk-1")
    history.register(OWNER_DENIED_AND_MORE, days_ago(500), ANNA, account="vk-1")
    history.register(OWNER_DENIED_AND_MORE, days_ago(40), BORIS, account="vk-9")
    history.number_change(OWNER_DENIED_AND_MORE, days_ago(35))
    history.sms(OWNER_DENIED_AND_MORE, days_ago(30), "failed", "unknown_subscriber")
    history.sms(OWNER_DENIED_AND_MORE, days_ago(29), "failed", "unknown_subscriber")
    history.verification(OWNER_DENIED_AND_MORE, days_ago(5), "denied")

    history.register(CODES_SMS_AND_PROFILES, days_ago(300), ANNA)
    history.register(CODES_SMS_AND_PROFILES, days_ago(250), ANNA_MOVED, "ok", "ok-1")
    for days in (240, 180, 120, 60, 5):
        history.code(CODES_SMS_AND_PROFILES, days_ago(days), "vk", "vk-1")
    for days in range(300, 0, -30):
        history.sms(CODES_SMS_AND_PROFILES, days_ago(days))

    history.sms(RECENT_CONFIRMATION, days_ago(100))
    history.verification(RECENT_CONFIRMATION, days_ago(3), "confirmed", "sms_code")

    history.register(SPARSE_CODES, days_ago(700), ANNA)
    history.code(SPARSE_CODES, days_ago(10), "vk", "vk-1")

    history.register(ONLY_REGISTRATION_CODE, days_ago(20), ANNA)

    history.register(NO_RECENT_CODE, days_ago(400), ANNA)
    history.code(NO_RECENT_CODE, days_ago(200), "vk", "vk-1")

    history.code(SMS_GAP, days_ago(5))
    history.sms(SMS_GAP, days_ago(400))
    history.sms(SMS_GAP, days_ago(10))

    history.code(SMS_SILENCE, days_ago(6), "ok", "ok-1")
    history.sms(SMS_SILENCE, days_ago(200))
    history.sms(SMS_SILENCE, days_ago(3), "failed", "absent_subscriber")

    history.account(NO_HISTORY, "ok-1")

    history.account(PROVEN_AFTER_CHANGE, "vk-1")
    history.register(PROVEN_AFTER_CHANGE, days_ago(400), ANNA, account="vk-1")
    history.number_change(PROVEN_AFTER_CHANGE, days_ago(100))
    history.code(PROVEN_AFTER_CHANGE, days_ago(50), "vk", "vk-1")
    history.code(PROVEN_AFTER_CHANGE, days_ago(5), "vk", "vk-1")

    history.code(ONE_FAILURE_GLITCH, days_ago(8))
    history.sms(ONE_FAILURE_GLITCH, days_ago(7), "failed", "unknown_subscriber")

    history.code(MESSY_TEXT_OF_RECENT_CODE, days_ago(2), "ok", "ok-7")

    # one event sent twice with other person fields: only a total order makes the answer one
    history.account(TIED_REGISTRATIONS, "vk-1")
    history.register(TIED_REGISTRATIONS, days_ago(300), ANNA, with_code=False)
    history.register(TIED_REGISTRATIONS, days_ago(100), BORIS, with_code=False)
    history.register(TIED_REGISTRATIONS, days_ago(100), ANNA, with_code=False)
    history.register(TIED_REGISTRATIONS, days_ago(50), BORIS, with_code=False)
    # after as_of: waits for a later run
    history.verification(RECENT_CONFIRMATION, days_ago(-10), "denied")
    # broken: goes to the rejects
    history.code("not a number", days_ago(4))
    return history


def add_random_numbers(history: History, count: int, seed: int) -> History:
    """Numbers with a random mix of every kind of event, on whole days so that times tie."""
    rng = random.Random(seed)
    people = (ANNA, ANNA_RETYPED, BORIS, Person("vera-s", ANNA.birth_date, "f"))

    def moment() -> datetime:
        return days_ago(rng.randrange(0, 800))

    for index in range(count):
        phone = f"+7926{index:07d}"
        for account in rng.sample(("vk-1", "vk-2", "ok-1"), rng.randrange(0, 3)):
            history.account(phone, account)
        for _ in range(rng.randrange(0, 4)):
            product, account = rng.choice((("vk", "vk-1"), ("vk", "vk-2"), ("ok", "ok-1")))
            history.register(
                phone,
                moment(),
                rng.choice(people),
                product,
                account,
                with_code=rng.random() < 0.7,
            )
        for _ in range(rng.randrange(0, 8)):
            history.code(
                phone,
                moment(),
                rng.choice(("vk", "ok", "bank_x")),
                rng.choice(("vk-1", "vk-2", "ok-1", None)),
            )
        start = rng.randrange(30, 800)
        step = rng.choice((20, 45, 120))
        for day in range(start, 0, -step):
            failed = rng.random() < 0.2
            history.sms(
                phone,
                days_ago(day),
                "failed" if failed else "delivered",
                rng.choice(("unknown_subscriber", "absent_subscriber")) if failed else None,
            )
        if rng.random() < 0.15:
            history.number_change(phone, moment(), rng.choice(("vk-1", "ok-1")))
        for _ in range(rng.randrange(0, 2)):
            history.verification(phone, moment(), rng.choice(("confirmed", "denied", "no_answer")))
    return history


def score_with(engine: Engine, events: Path, out: Path, as_of: datetime) -> ScoreResult:
    return score(
        ScoreRequest(
            events, out / engine, as_of=as_of, engine=engine, max_reject_share=MAX_REJECT_SHARE
        )
    )


def published_scores(result: ScoreResult) -> pl.DataFrame:
    return pl.read_parquet(result.out_dir / "scores.parquet").sort("phone")


def assert_engines_agree(events: Path, out: Path, as_of: datetime) -> pl.DataFrame:
    duckdb_run = score_with("duckdb", events, out, as_of)
    spark_run = score_with("spark", events, out, as_of)
    duckdb_scores = published_scores(duckdb_run)
    assert_frame_equal(published_scores(spark_run), duckdb_scores)
    assert spark_run.manifest["statuses"] == duckdb_run.manifest["statuses"]
    assert spark_run.manifest["numbers"] == duckdb_run.manifest["numbers"]
    return duckdb_scores


def test_spark_scores_every_reason_as_duckdb_does(tmp_path: Path) -> None:
    history = add_random_numbers(every_reason_history(), RANDOM_PHONES, seed=7)
    events = history.write(tmp_path / "events")

    scores = assert_engines_agree(events, tmp_path, AS_OF)

    # the history is only a fair test if its crafted numbers reach every verdict there is
    crafted = scores.filter(pl.col("phone").str.starts_with(CRAFTED_PREFIX))
    assert set(crafted["status"]) == set(Status)
    assert set(crafted["reasons"].explode().drop_nulls()) == set(Reason)
    # and changes with and without a holder shown since (owner_since null)
    changed = crafted.filter(pl.col("status") == Status.OWNER_CHANGED.value)
    assert 0 < changed["owner_since"].null_count() < changed.height


def test_spark_scores_a_synthetic_history_as_duckdb_does(tmp_path: Path) -> None:
    summary = generate(tmp_path / "events", phones=SYNTH_PHONES, seed=SYNTH_SEED)

    scores = assert_engines_agree(tmp_path / "events", tmp_path, summary.end)

    assert scores.height > SYNTH_PHONES // 2
