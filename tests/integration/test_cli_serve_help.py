"""`ownership serve --help` names the settings that decide what the API serves, each a real
OWNERSHIP_ variable, so that an operator need not read the code to point it at their files."""

from __future__ import annotations

import re

import pytest

from pipelines.cli import main
from pipelines.settings import Settings


def serve_help(capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_serve_help_names_the_snapshot_folder_and_the_store(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = serve_help(capsys)

    assert "OWNERSHIP_SCORES_DIR" in text and "OWNERSHIP_DATABASE_URL" in text


@pytest.mark.parametrize(
    "variable",
    [
        "OWNERSHIP_SECRET_KEY",
        "OWNERSHIP_ADMIN_TOKEN",
        "OWNERSHIP_GATEWAY_URLS",
        "OWNERSHIP_GATEWAY_TOKENS",
        "OWNERSHIP_GATEWAY_SECRETS",
        "OWNERSHIP_WEBHOOK_",
        "OWNERSHIP_RUN_JOBS",
    ],
)
def test_serve_help_names_the_keys_gateways_and_webhooks_it_serves_with(
    variable: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert variable in serve_help(capsys)


def test_every_variable_serve_help_names_is_a_setting(capsys: pytest.CaptureFixture[str]) -> None:
    named = re.findall(r"OWNERSHIP_([A-Z_]*[A-Z_])(\*?)", serve_help(capsys))
    settings = [name.upper() for name in Settings.model_fields]

    assert named
    for name, family in named:  # a name ending in * stands for the settings it begins
        assert any(setting.startswith(name) for setting in settings) if family else name in settings


def test_serve_help_keeps_the_settings_to_a_screen_in_their_own_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = serve_help(capsys)
    listed = [line for line in text.splitlines() if line.lstrip().startswith("OWNERSHIP_")]

    assert 5 <= len(listed) <= 15
    assert all(len(line) <= 80 for line in listed)  # a terminal's width


def test_serve_help_gives_the_address_it_listens_on_by_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = " ".join(serve_help(capsys).split())

    assert "address to listen on (default 127.0.0.1)" in text
