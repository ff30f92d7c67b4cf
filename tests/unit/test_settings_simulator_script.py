"""OWNERSHIP_SIMULATOR_SCRIPT: read as a process that runs the simulators starts (a worker,
`serve --jobs`, the demo), where a bad line stops it in one line naming the file and the line,
and a VK or OK gateway beside it (whose people answer for themselves) is refused; API workers
that run no jobs never read it."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from delivery.channels.script_follower import ScriptFollower
from delivery.channels.wiring import build_channels
from delivery.clock import VirtualClock
from delivery.events import RecordingInboundEvents
from pipelines import serving_cli
from pipelines.cli import main
from pipelines.serving_cli import check_simulator_script
from pipelines.settings import Settings, load_settings

RU_MOBILE = "+79234567823"
START = datetime(2026, 6, 2, 9, tzinfo=UTC)
VK_URL, SMS_URL = "https://vk-gateway.example/v1", "https://sms-gateway.example/v1"
SECRET = "whsec_" + base64.b64encode(b"a-gateway-secret-of-32-bytes-ok!").decode()


@pytest.fixture(autouse=True)
def own_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's own store, scores and key, never the working copy's."""
    monkeypatch.setenv("OWNERSHIP_DATABASE_URL", f"sqlite:///{tmp_path / 'ownership.db'}")
    monkeypatch.setenv("OWNERSHIP_SCORES_DIR", str(tmp_path / "scores"))
    monkeypatch.setenv("OWNERSHIP_SECRET_KEY_FILE", str(tmp_path / "secret.key"))


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "script.csv"
    path.write_text(f"phone,answer,after_seconds\n{RU_MOBILE},no,60\n", encoding="utf-8")
    return path


def gateways(*channels: str) -> dict[str, object]:
    urls = {"vk": VK_URL, "sms": SMS_URL}
    return {
        "gateway_urls": {channel: urls[channel] for channel in channels},
        "gateway_tokens": {channel: "t0ken" for channel in channels},
        "gateway_secrets": {channel: SECRET for channel in channels},
    }


def test_a_script_is_taken_with_the_simulators(script: Path) -> None:
    assert load_settings(simulator_script=script).simulator_script == script


def test_a_blank_script_setting_is_unset() -> None:
    assert load_settings(simulator_script=" ").simulator_script is None


def test_a_worker_with_a_script_beside_a_social_networks_gateway_is_refused(
    script: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OWNERSHIP_SIMULATOR_SCRIPT", str(script))
    for name, value in gateways("vk").items():
        monkeypatch.setenv(f"OWNERSHIP_{name.upper()}", json.dumps(value))

    assert main(["worker"]) == 2

    message = " ".join(capsys.readouterr().err.split())  # the console wraps a long line
    assert message == (
        "error: bad setting: OWNERSHIP_SIMULATOR_SCRIPT: scripts the VK and OK simulators, but "
        "OWNERSHIP_GATEWAY_URLS sends vk through a real gateway; unset one of them"
    )


def test_the_demo_which_drops_the_shells_gateways_follows_a_script_beside_them(
    script: Path,
) -> None:
    settings = load_settings(simulator_script=script, **gateways("vk"))

    check_simulator_script(settings, gateways_used=False)  # no error


def test_a_script_beside_an_sms_gateway_scripts_the_social_simulators(script: Path) -> None:
    assert load_settings(simulator_script=script, **gateways("sms")).simulator_script == script


def test_a_script_file_that_does_not_exist_stops_a_worker_as_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OWNERSHIP_SIMULATOR_SCRIPT", str(tmp_path / "missing.csv"))

    assert load_settings().simulator_script == tmp_path / "missing.csv"  # a setting like any
    assert main(["worker"]) == 2

    message = " ".join(capsys.readouterr().err.split())
    assert message.startswith("error: bad setting: OWNERSHIP_SIMULATOR_SCRIPT: ")
    assert message.endswith("missing.csv: does not exist")


def test_api_workers_that_run_no_jobs_never_read_the_script(tmp_path: Path) -> None:
    # a worker restarted while the file is mid-edit, or moved away, must start all the same
    settings = load_settings(simulator_script=tmp_path / "missing.csv")

    channels = build_channels(settings, clock=VirtualClock(START), inbound=RecordingInboundEvents())

    assert isinstance(channels.simulators[-1], ScriptFollower)  # read once they run


def test_a_worker_with_a_bad_script_stops_before_it_starts_naming_file_and_line(
    script: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script.write_text(f"phone,answer,after_seconds\n{RU_MOBILE},nope,60\n", encoding="utf-8")
    monkeypatch.setenv("OWNERSHIP_SIMULATOR_SCRIPT", str(script))

    assert main(["worker"]) == 2

    message = " ".join(capsys.readouterr().err.split())  # the console wraps a long line
    assert message == (
        f"error: bad setting: OWNERSHIP_SIMULATOR_SCRIPT: {script}, line 2: "
        "answer 'nope' is none of yes, no, never"
    )


def test_a_script_gone_bad_between_the_check_and_the_jobs_stops_the_worker_in_one_line(
    script: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OWNERSHIP_SIMULATOR_SCRIPT", str(script))
    checked = serving_cli.check_simulator_script

    def checked_then_emptied(settings: Settings, gateways_used: bool = True) -> None:
        checked(settings, gateways_used)
        script.write_bytes(b"")  # an editor saving in place, as the worker starts

    monkeypatch.setattr(serving_cli, "check_simulator_script", checked_then_emptied)

    assert main(["worker"]) == 2

    message = " ".join(capsys.readouterr().err.split())
    assert message == (
        f"error: bad setting: OWNERSHIP_SIMULATOR_SCRIPT: {script}: has no header line (a "
        "script's first line names its columns: phone,answer,after_seconds,"
        "delivered_after_seconds,read_after_seconds)"
    )
