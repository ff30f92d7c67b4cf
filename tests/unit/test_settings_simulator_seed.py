"""OWNERSHIP_SIMULATOR_SEED: a whole number from 0 up to MAX_SIMULATOR_SEED, refused at load
otherwise, in one line naming the variable; every seed in range runs the channel simulators."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from delivery.channels.accounts import Account, AccountDirectory
from delivery.channels.ports import SmsMessage, SocialMessage
from delivery.channels.wiring import build_channels
from delivery.clock import VirtualClock
from delivery.events import RecordingInboundEvents
from ownership.channels import SOCIAL_CHANNELS
from pipelines.cli import main
from pipelines.settings import MAX_SIMULATOR_SEED, load_settings

START = datetime(2026, 6, 2, 9, tzinfo=UTC)
RU_MOBILE = "+79234567823"


@pytest.fixture(autouse=True)
def own_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's own store and scores, never the working copy's."""
    monkeypatch.setenv("OWNERSHIP_DATABASE_URL", f"sqlite:///{tmp_path / 'ownership.db'}")
    monkeypatch.setenv("OWNERSHIP_SCORES_DIR", str(tmp_path / "scores"))


def bad_setting(capsys: pytest.CaptureFixture[str]) -> str:
    """The one line any command prints for a bad setting, before doing anything."""
    assert main(["check", RU_MOBILE]) == 2
    message = capsys.readouterr().err.strip()
    assert "\n" not in message and "Traceback" not in message
    return message


@pytest.mark.parametrize(
    ("seed", "complaint"),
    [
        ("-1", "greater than or equal to 0"),
        (str(MAX_SIMULATOR_SEED + 1), f"less than or equal to {MAX_SIMULATOR_SEED}"),
        ("9" * 4_000, f"less than or equal to {MAX_SIMULATOR_SEED}"),
    ],
    ids=["negative", "one past the largest", "thousands of digits"],
)
def test_a_simulator_seed_out_of_range_is_a_bad_setting_named_by_its_variable(
    seed: str, complaint: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OWNERSHIP_SIMULATOR_SEED", seed)

    message = bad_setting(capsys)

    assert message.startswith("error: bad setting: OWNERSHIP_SIMULATOR_SEED:")
    assert complaint in message


def test_the_largest_simulator_seed_runs_every_simulator() -> None:
    settings = load_settings(simulator_seed=MAX_SIMULATOR_SEED)
    clock, inbound = VirtualClock(START), RecordingInboundEvents()
    accounts = AccountDirectory(
        [Account(network, f"{network}-1", RU_MOBILE, START, True) for network in SOCIAL_CHANNELS]
    )
    channels = build_channels(settings, clock=clock, inbound=inbound, accounts=accounts)

    accepted = [channels.sms.send(SmsMessage("n-sms", RU_MOBILE, "Код 1234")).accepted]
    for network in SOCIAL_CHANNELS:  # each seeded with the seed plus its own offset
        message = SocialMessage(f"n-{network}", RU_MOBILE, "Это ваш номер?")
        accepted.append(channels.social(network).send(message).accepted)
    clock.advance(timedelta(days=1))
    for simulator in channels.simulators:
        simulator.run_due()

    assert accepted == [True, True, True]
    assert len(channels.simulators) == 3 and inbound.events  # outcomes drawn from the seed
