"""The benchmark's pandas baseline computes what `ownership score` computes, number by number.

bench/baseline_pandas.py is the straightforward pandas way to the same classification; the
benchmark times it against the SQL models. That comparison only means something if both give the
same scores, so here both score one generated history and every number must agree: status,
risk_score, reasons with their times, owner_since and the other published times.
"""

from __future__ import annotations

import importlib.util
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ownership.rules import RuleSettings
from pipelines.paths import PROJECT_ROOT
from pipelines.scoring import ScoreRequest, score
from pipelines.synth import SynthSummary, generate
from tests.factories import ANNA, ANNA_MOVED, AS_OF, BORIS, NOBODY, History, days_ago

pytestmark = pytest.mark.integration

PHONE = "+79234567823"
OTHER_PHONE = "+79161234567"
THIRD_PHONE = "+79031234567"

COMPARED = [
    "status",
    "risk_score",
    "reasons",
    "reason_times",
    "owner_since",
    "first_seen_at",
    "last_code_at",
    "last_confirmed_at",
]


def _baseline() -> ModuleType:
    """bench/ is not a package: load the script by its path."""
    path = PROJECT_ROOT / "bench" / "baseline_pandas.py"
    spec = importlib.util.spec_from_file_location("baseline_pandas", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SynthSummary]:
    folder = tmp_path_factory.mktemp("baseline") / "h"
    return folder, generate(folder, phones=2000, seed=5)


def _sql_scores(
    events: Path, out: Path, as_of: datetime, rules: RuleSettings | None = None
) -> pd.DataFrame:
    score(ScoreRequest(events, out, as_of=as_of, rules=rules or RuleSettings()))
    return pd.read_parquet(out / "scores.parquet")


def _times(values: Any) -> list[pd.Timestamp | None]:
    """A list's times as UTC instants: pandas drops the zone of times inside a Parquet list."""
    return [None if pd.isna(value) else _utc(pd.Timestamp(value)) for value in values]


def _utc(moment: pd.Timestamp) -> pd.Timestamp:
    return moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")


def _disagreements(sql: pd.DataFrame, pandas: pd.DataFrame) -> dict[str, int]:
    """How many numbers differ, per compared column; the numbers themselves must be the same."""
    assert sorted(sql["phone"]) == sorted(pandas["phone"])
    both = sql.merge(pandas, on="phone", suffixes=("_sql", "_pandas"))
    found = {}
    for column in COMPARED:
        left, right = both[f"{column}_sql"], both[f"{column}_pandas"]
        if column == "reasons":
            equal = left.map(list) == right.map(list)
        elif column == "reason_times":
            equal = left.map(_times) == right.map(_times)
        else:
            equal = (left == right) | (left.isna() & right.isna())
        found[column] = int((~equal).sum())
    return found


def test_the_baseline_scores_a_generated_history_as_the_models_do(
    generated: tuple[Path, SynthSummary], tmp_path: Path
) -> None:
    events, summary = generated
    sql = _sql_scores(events, tmp_path / "out", summary.end)

    out = tmp_path / "pandas.parquet"
    assert _baseline().main([str(events), str(out), "--as-of", summary.end.isoformat()]) == 0
    pandas = pd.read_parquet(out)

    assert len(sql) > 1900
    assert set(sql["status"]) >= {"verified", "suspicious", "owner_changed"}
    assert _disagreements(sql, pandas) == dict.fromkeys(COMPARED, 0)


def test_it_agrees_on_verifications_numbers_without_history_and_an_earlier_as_of(
    generated: tuple[Path, SynthSummary], tmp_path: Path
) -> None:
    """The generator writes no verifications and no account without events; add some, and
    score as of an earlier day so that later events are left out."""
    events = tmp_path / "h"
    shutil.copytree(generated[0], events, ignore=shutil.ignore_patterns("truth"))
    end = generated[1].end
    rng = np.random.default_rng(11)
    accounts = pd.read_parquet(events / "accounts")
    phones = pd.read_parquet(events / "code_entries")["phone"].unique()
    asked = rng.choice(phones, 600)
    bound = accounts.groupby("phone")["account_id"].first()
    draw = rng.random(len(asked))
    verifications = pd.DataFrame(
        {
            "phone": asked,
            "ts": [end - timedelta(days=float(d)) for d in rng.uniform(0, 400, len(asked))],
            "method": rng.choice(["prompt", "sms_code"], len(asked)),
            "result": rng.choice(["confirmed", "denied", "failed", "no_answer"], len(asked)),
            # some name the bound account, some another, some none (they speak for all)
            "account_id": [
                bound.get(phone, "vk-elsewhere") if d < 0.4 else "vk-elsewhere" if d < 0.6 else None
                for phone, d in zip(asked, draw, strict=True)
            ],
        }
    )
    _write_like(verifications, events / "verifications")
    silent = pd.DataFrame(
        {
            "network": "vk",
            "account_id": [f"vk-silent-{i}" for i in range(20)],
            "phone": [f"+7999000{i:04d}" for i in range(20)],
            "last_seen_at": end - timedelta(days=1),
            "mobile_app": True,
        }
    )
    _write_like(silent, events / "accounts")
    as_of = end - timedelta(days=150)

    sql = _sql_scores(events, tmp_path / "out", as_of)
    pandas = _baseline().classify(events, as_of)

    assert {"unknown", "verified", "suspicious", "owner_changed"} <= set(sql["status"])
    reasons = set(sql["reasons"].explode())
    assert {"OWNER_DENIED", "RECENT_CONFIRMATION", "NO_HISTORY"} <= reasons
    assert _disagreements(sql, pandas) == dict.fromkeys(COMPARED, 0)


def test_a_history_delivered_twice_scores_as_it_does_once(
    generated: tuple[Path, SynthSummary], tmp_path: Path
) -> None:
    """Every file of every kind arrives a second time, as an at-least-once feed may send it."""
    events, summary = generated
    twice = tmp_path / "twice"
    shutil.copytree(events, twice, ignore=shutil.ignore_patterns("truth"))
    for file in list(twice.glob("*/*.parquet")):
        shutil.copy(file, file.with_name(f"again-{file.name}"))

    once = _sql_scores(events, tmp_path / "once", summary.end)
    sql = _sql_scores(twice, tmp_path / "out", summary.end)
    pandas = _baseline().classify(twice, summary.end)

    assert _disagreements(once, sql) == dict.fromkeys(COMPARED, 0)
    assert _disagreements(sql, pandas) == dict.fromkeys(COMPARED, 0)


def test_it_agrees_when_permanent_failures_must_come_in_twos(
    generated: tuple[Path, SynthSummary], tmp_path: Path
) -> None:
    """Failures count toward the minimum only with those that stand for the same thing."""
    events, summary = generated
    rules = RuleSettings(permanent_failures_min=2)

    sql = _sql_scores(events, tmp_path / "out", summary.end, rules)
    pandas = _baseline().classify(events, summary.end, rules)

    assert "SMS_PERMANENT_FAILURES" in set(sql["reasons"].explode())
    assert _disagreements(sql, pandas) == dict.fromkeys(COMPARED, 0)


def _monthly(history: History, *phones: str, since_days: int) -> History:
    """A VK code and a delivered SMS every 30 days for each of `phones`."""
    for phone in phones:
        for day in range(since_days, 0, -30):
            history.code(phone, days_ago(day), "vk", "vk-1").sms(phone, days_ago(day))
    return history


# tiny histories where most kinds are empty, which the generated one never is
TINY = {
    "a registration and nothing else": History()
    .register(PHONE, days_ago(300), ANNA)
    .account(PHONE),
    "delivery reports only": History()
    .sms(PHONE, days_ago(200))
    .sms(PHONE, days_ago(10), "failed", "absent_subscriber"),
    # beside another number's delivery report: a history with no event at all is refused
    "a bound account without events": History().account(PHONE).sms(OTHER_PHONE, days_ago(10)),
    "a reported change, then the new holder's own codes": History()
    .register(PHONE, days_ago(300), ANNA)
    .number_change(PHONE, days_ago(200))
    .register(PHONE, days_ago(100), BORIS, account="vk-2")
    .code(PHONE, days_ago(5), account="vk-2")
    .account(PHONE, "vk-2"),
    "a reported change, or a number out of service, and no holder since": History()
    .register(PHONE, days_ago(300), ANNA)
    .account(PHONE)
    .number_change(PHONE, days_ago(200))
    .sms(OTHER_PHONE, days_ago(300))
    .sms(OTHER_PHONE, days_ago(100), "failed", "unknown_subscriber"),
    "a denial and a confirmation": History()
    .register(PHONE, days_ago(300), ANNA)
    .verification(PHONE, days_ago(3), "confirmed")
    .verification(OTHER_PHONE, days_ago(3), "denied"),
    "a registration code without its account": History()
    .register(PHONE, days_ago(30), ANNA, with_code=False)
    .code(PHONE, days_ago(30) + timedelta(minutes=10))
    .code(OTHER_PHONE, days_ago(20))
    .account(PHONE),
    "registrations that agree, give nothing, or disagree": _monthly(
        History()
        .register(PHONE, days_ago(400), ANNA)
        .register(PHONE, days_ago(300), ANNA_MOVED, "mail", "mail-1")
        .register(OTHER_PHONE, days_ago(400), NOBODY)
        .register(OTHER_PHONE, days_ago(300), NOBODY, "mail", "mail-1")
        .register(THIRD_PHONE, days_ago(400), ANNA)
        .register(THIRD_PHONE, days_ago(200), BORIS, "mail", "mail-2")
        .account(THIRD_PHONE),
        PHONE,
        OTHER_PHONE,
        THIRD_PHONE,
        since_days=380,
    ),
    "a long silence, then a year without SMS": _monthly(
        History().sms(PHONE, days_ago(354.5)).sms(PHONE, days_ago(175.5)),
        PHONE,
        since_days=170,
    )
    .sms(OTHER_PHONE, days_ago(399))
    .sms(OTHER_PHONE, days_ago(339))
    .code(OTHER_PHONE, days_ago(5)),
}


@pytest.mark.parametrize("history", TINY.values(), ids=TINY.keys())
def test_it_agrees_on_tiny_histories(history: History, tmp_path: Path) -> None:
    events = history.write(tmp_path / "h")

    sql = _sql_scores(events, tmp_path / "out", AS_OF)
    pandas = _baseline().classify(events, AS_OF)

    assert _disagreements(sql, pandas) == dict.fromkeys(COMPARED, 0)


def _write_like(frame: pd.DataFrame, folder: Path) -> None:
    """Add a file to a kind's folder, with the schema of the files already there."""
    schema = pq.read_schema(next(folder.glob("*.parquet")))
    table = pa.Table.from_pandas(frame, preserve_index=False).select(schema.names).cast(schema)
    pq.write_table(table, folder / "part-extra.parquet")
