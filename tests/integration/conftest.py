"""A small generated history, its scores and a simulated day of notifications over them,
shared by the tests that need a realistic whole (the notebooks, the day's simulation)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine

from pipelines.scoring import ScoreRequest, score
from pipelines.settings import load_settings
from pipelines.simulate_day import DayRequest, DaySummary, simulate_day
from pipelines.synth import generate
from store.secrets import SecretCipher

PHONES = 2_000
DAY_NOTIFICATIONS = 300
DAY_SEED = 7


@dataclass(frozen=True)
class Demo:
    events: Path
    scores: Path


@dataclass(frozen=True)
class Day:
    store_url: str
    summary: DaySummary


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    root = tmp_path_factory.mktemp("demo")
    summary = generate(root / "events", phones=PHONES, seed=1)
    score(ScoreRequest(root / "events", root / "scores", as_of=summary.end))
    return Demo(events=root / "events", scores=root / "scores")


def simulate(demo: Demo, folder: Path, notifications: int, seed: int) -> Day:
    url = f"sqlite:///{folder / 'day.db'}"
    request = DayRequest(demo.events, demo.scores, url, notifications, seed)
    cipher = SecretCipher([Fernet.generate_key().decode()])
    return Day(url, simulate_day(request, load_settings(), cipher))


@pytest.fixture(scope="session")
def day(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Day:
    return simulate(demo, tmp_path_factory.mktemp("day"), DAY_NOTIFICATIONS, DAY_SEED)


@pytest.fixture
def secret_key(monkeypatch: pytest.MonkeyPatch, database_url: str, engine: Engine) -> str:
    """Settings for the session's database, emptied after the test by `engine`."""
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("OWNERSHIP_DATABASE_URL", database_url)
    monkeypatch.setenv("OWNERSHIP_SECRET_KEY", key)
    return key
