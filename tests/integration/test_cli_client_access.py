"""`ownership clients disable|enable|rotate-secret`: an operator's hold on a client's access."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from pipelines.cli import main
from store.clients import find_client
from store.database import session_factory
from store.secrets import SecretCipher

BANK_OFFICE = "203.0.113.0/24"


@pytest.fixture
def bank(secret_key: str, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    main(["clients", "add", "bank", "--allow-ip", BANK_OFFICE])
    issued: dict[str, str] = json.loads(capsys.readouterr().out)
    return issued


def listed(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(["clients", "list"]) == 0
    clients: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return clients[0]


def test_a_client_is_disabled_and_enabled_each_said_in_one_line(
    bank: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["clients", "disable", "bank"]) == 0
    said = capsys.readouterr().out
    assert listed(capsys)["disabled"] is True

    assert main(["clients", "enable", "bank"]) == 0
    said_back = capsys.readouterr().out
    assert listed(capsys)["disabled"] is False

    assert said.count("\n") == 1 and said_back.count("\n") == 1
    assert "disabled" in said and "refuse its calls within 30 s" in said
    assert "already accepted are still delivered" in said
    assert "enabled" in said_back and "take its calls within 30 s" in said_back


def test_disabling_a_disabled_client_says_so_and_changes_nothing(
    bank: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    main(["clients", "disable", "bank"])
    capsys.readouterr()

    assert main(["clients", "disable", "bank"]) == 0

    assert "was disabled already" in capsys.readouterr().out
    assert listed(capsys)["disabled"] is True


def test_a_rotated_secret_is_printed_once_with_the_same_key_and_opens_in_the_store(
    bank: dict[str, str], secret_key: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    before = datetime.now(UTC)

    assert main(["clients", "rotate-secret", "bank", "--overlap-hours", "2"]) == 0

    answer = json.loads(capsys.readouterr().out)
    assert set(answer) == {"name", "key", "secret", "previous_secret_accepted_until"}
    assert answer["key"] == bank["key"] and answer["secret"] != bank["secret"]
    until = datetime.fromisoformat(answer["previous_secret_accepted_until"])
    assert before + timedelta(hours=2) <= until <= datetime.now(UTC) + timedelta(hours=2, seconds=1)
    with session_factory(engine)() as session:
        record = find_client(session, bank["key"], SecretCipher([secret_key]))
    assert record is not None
    assert (record.secret, record.previous_secret) == (answer["secret"], bank["secret"])
    shown = listed(capsys)
    assert shown["previous_secret_accepted_until"] == answer["previous_secret_accepted_until"]
    assert answer["secret"] not in json.dumps(shown)


def test_a_rotation_without_overlap_says_the_old_secret_stopped(
    bank: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["clients", "rotate-secret", "bank", "--overlap-hours", "0"]) == 0

    assert json.loads(capsys.readouterr().out)["previous_secret_accepted_until"] is None
    assert listed(capsys)["previous_secret_accepted_until"] is None


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["disable", "nobody"], "no client is named 'nobody'"),
        (["enable", "nobody"], "no client is named 'nobody'"),
        (["rotate-secret", "nobody"], "no client is named 'nobody'"),
        (["rotate-secret", "bank", "--overlap-hours", "-1"], "of 0 or more"),
        (["rotate-secret", "bank", "--overlap-hours", "721"], "the longest overlap"),
    ],
)
def test_an_unknown_client_or_a_bad_overlap_is_a_one_line_error(
    bank: dict[str, str], capsys: pytest.CaptureFixture[str], args: list[str], complaint: str
) -> None:
    assert exit_code(["clients", *args]) == 2

    captured = capsys.readouterr()
    assert complaint in captured.err and "Traceback" not in captured.err
    assert captured.out == ""


def exit_code(argv: list[str]) -> int | str | None:
    """The command's exit code, whether it returns it or argparse exits with it."""
    try:
        return main(argv)
    except SystemExit as stop:
        return stop.code
