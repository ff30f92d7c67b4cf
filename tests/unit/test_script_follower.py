"""The social simulators follow the operator's script file: from the start, again once it
changes, drawn outcomes for a number taken out of it; a bad or vanished file is told once in the
log and the script followed until then stays in force."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from delivery.channels.accounts import Account, AccountDirectory
from delivery.channels.ports import ReverificationPrompt, SocialMessage
from delivery.channels.script_follower import ScriptFollower
from delivery.channels.simulator_script import SimulatorScriptError
from delivery.channels.social_simulator import SocialNetworkSimulator, SocialSimulatorSettings
from delivery.channels.wiring import build_channels
from delivery.clock import VirtualClock
from delivery.events import (
    MessageDelivered,
    RecordingInboundEvents,
    ReverificationAnswer,
    ReverificationAnswered,
)
from ownership.channels import SOCIAL_CHANNELS, Channel
from pipelines.settings import load_settings

START = datetime(2026, 6, 2, 9, tzinfo=UTC)
RECYCLED_2024 = "+79031112233"
HEADER = "phone,answer,after_seconds,delivered_after_seconds"
# drawn, a prompt is never answered: an answer comes from the script or not at all
NEVER_ANSWERS = SocialSimulatorSettings(confirmed_share=0.0, denied_share=0.0)


class Sandbox:
    """A VK simulator following a script file, on a virtual clock."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "script.csv"
        self.clock = VirtualClock(START)
        self.inbound = RecordingInboundEvents()
        accounts = AccountDirectory([Account(Channel.VK, "vk-1", RECYCLED_2024, START, True)])
        self.vk = SocialNetworkSimulator(
            Channel.VK, accounts, self.clock, self.inbound, settings=NEVER_ANSWERS
        )
        self.follower = ScriptFollower(self.path, [self.vk], settle=0)
        self.asked = 0

    def write(self, *lines: str) -> None:
        """Save the file as an editor does: a new file renamed over the old one."""
        written = self.path.with_suffix(".new")
        written.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(written, self.path)

    def answers_to_a_prompt(self) -> list[tuple[ReverificationAnswer, timedelta]]:
        """Ask the number once, after the follower's look at the file; what it answers within
        a day, and how long after the prompt."""
        self.follower.run_due()
        self.asked += 1
        asked_at, seen = self.clock.now(), len(self.inbound.events)
        self.vk.ask(ReverificationPrompt(f"n-{self.asked}", RECYCLED_2024))
        self.clock.advance(timedelta(days=1))
        self.vk.run_due()
        return [
            (event.answer, event.at - asked_at)
            for event in self.inbound.events[seen:]
            if isinstance(event, ReverificationAnswered)
        ]


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    sandbox = Sandbox(tmp_path)
    sandbox.write(HEADER, f"{RECYCLED_2024},no,60")
    sandbox.follower.start()
    return sandbox


NO_AFTER_A_MINUTE = [(ReverificationAnswer.DENIED, timedelta(minutes=1))]


def test_a_number_answers_as_the_file_says_from_the_start(sandbox: Sandbox) -> None:
    assert sandbox.answers_to_a_prompt() == NO_AFTER_A_MINUTE


def test_a_changed_line_is_followed_by_the_next_prompt(sandbox: Sandbox) -> None:
    sandbox.write(HEADER, f"{RECYCLED_2024},yes,30")

    assert sandbox.answers_to_a_prompt() == [
        (ReverificationAnswer.CONFIRMED, timedelta(seconds=30))
    ]


def test_a_number_taken_out_of_the_file_goes_back_to_drawn_outcomes(sandbox: Sandbox) -> None:
    sandbox.write(HEADER)

    assert sandbox.answers_to_a_prompt() == []  # drawn, under settings that never answer


def test_a_bad_file_is_told_once_and_the_script_followed_until_then_stays(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.write(HEADER, f"{RECYCLED_2024},maybe,60")

    with caplog.at_level(logging.ERROR):
        for _ in range(3):
            assert sandbox.answers_to_a_prompt() == NO_AFTER_A_MINUTE

    told = [record.getMessage() for record in caplog.records]
    assert told == [
        f"{sandbox.path}, line 2: answer 'maybe' is none of yes, no, never; "
        "the simulators keep the script they were following"
    ]


def test_a_bad_file_mended_is_followed_again(sandbox: Sandbox) -> None:
    sandbox.write(HEADER, f"{RECYCLED_2024},maybe,60")
    sandbox.answers_to_a_prompt()
    sandbox.write(HEADER, f"{RECYCLED_2024},yes,30")

    assert sandbox.answers_to_a_prompt() == [
        (ReverificationAnswer.CONFIRMED, timedelta(seconds=30))
    ]


def test_a_vanished_file_is_told_once_and_the_script_stays(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.path.unlink()

    with caplog.at_level(logging.ERROR):
        assert sandbox.answers_to_a_prompt() == NO_AFTER_A_MINUTE
        assert sandbox.answers_to_a_prompt() == NO_AFTER_A_MINUTE

    assert [record.getMessage() for record in caplog.records] == [
        f"{sandbox.path}: does not exist; the simulators keep the script they were following"
    ]


def test_a_file_saved_in_place_is_followed_once_left_alone_not_half_written(
    tmp_path: Path,
) -> None:
    sandbox = Sandbox(tmp_path)
    now = [0.0]
    sandbox.follower = ScriptFollower(sandbox.path, [sandbox.vk], monotonic=lambda: now[0])
    sandbox.write(HEADER, f"{RECYCLED_2024},no,60")
    assert sandbox.answers_to_a_prompt() == NO_AFTER_A_MINUTE  # the first look reads at once

    with sandbox.path.open("w", encoding="utf-8") as saving:  # an editor saving in place
        saving.write(f"{HEADER}\n")
        saving.flush()
        assert sandbox.answers_to_a_prompt() == NO_AFTER_A_MINUTE  # emptied: not followed
        now[0] += 0.2
        saving.write(f"{RECYCLED_2024},yes,6")  # cut inside its time: not followed either
        saving.flush()
        assert sandbox.answers_to_a_prompt() == NO_AFTER_A_MINUTE
        saving.write("0\n")
    now[0] += 0.2
    assert sandbox.answers_to_a_prompt() == NO_AFTER_A_MINUTE  # saved, not yet left alone
    now[0] += 0.5

    assert sandbox.answers_to_a_prompt() == [
        (ReverificationAnswer.CONFIRMED, timedelta(seconds=60))
    ]


def test_a_copy_that_keeps_the_old_modification_time_is_followed(sandbox: Sandbox) -> None:
    before = sandbox.path.stat()
    sandbox.path.write_text(f"{HEADER}\n{RECYCLED_2024},no,90\n", encoding="utf-8")  # same size
    os.utime(sandbox.path, ns=(before.st_atime_ns, before.st_mtime_ns))  # as `cp -p` leaves it

    assert sandbox.answers_to_a_prompt() == [(ReverificationAnswer.DENIED, timedelta(seconds=90))]


def test_a_bad_file_at_the_start_stops_the_follower_before_anything_is_scripted(
    tmp_path: Path,
) -> None:
    sandbox = Sandbox(tmp_path)
    sandbox.write(HEADER, f"{RECYCLED_2024},no,-60")

    with pytest.raises(SimulatorScriptError, match="line 2: after_seconds '-60' is negative"):
        sandbox.follower.start()
    assert sandbox.answers_to_a_prompt() == []


def test_the_wired_channels_follow_the_file_in_both_networks(tmp_path: Path) -> None:
    path = tmp_path / "script.csv"
    path.write_text(f"{HEADER}\n{RECYCLED_2024},,,never\n", encoding="utf-8")
    clock, inbound = VirtualClock(START), RecordingInboundEvents()
    accounts = AccountDirectory(
        [
            Account(network, f"{network}-1", RECYCLED_2024, START, True)
            for network in SOCIAL_CHANNELS
        ]
    )

    channels = build_channels(
        load_settings(simulator_script=path), clock=clock, inbound=inbound, accounts=accounts
    )
    for simulator in channels.simulators:  # the pump's first round reads the script
        simulator.run_due()
    for network in SOCIAL_CHANNELS:
        assert channels.social(network).send(SocialMessage(f"n-{network}", RECYCLED_2024, "t"))
    clock.advance(timedelta(days=2))
    for simulator in channels.simulators:
        simulator.run_due()

    assert isinstance(channels.simulators[-1], ScriptFollower)
    assert [event for event in inbound.events if isinstance(event, MessageDelivered)] == []


def test_the_reading_at_the_start_is_logged_with_its_numbers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox = Sandbox(tmp_path)
    sandbox.write(HEADER, f"{RECYCLED_2024},no,60")

    with caplog.at_level(logging.INFO):
        sandbox.follower.start()

    assert [record.getMessage() for record in caplog.records] == [
        f"simulator script {sandbox.path} read: 1 numbers scripted"
    ]
