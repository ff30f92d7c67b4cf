"""`ownership clients set-webhook NAME --renew-secret [--overlap HOURS]`: a renewed webhook
secret, and until when the one it replaced also signs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from pipelines.cli import main
from pipelines.clients_cli import OVERLAP_HOURS, OVERLAP_HOURS_MAX
from store.clients import WEBHOOK_SECRET_OVERLAP, WEBHOOK_SECRET_OVERLAP_MAX
from store.database import session_factory
from store.secrets import SecretCipher
from store.tables import ClientRow

BANK_OFFICE = "203.0.113.0/24"
HOOKS = "https://bank.example/hooks"


def add_bank(capsys: pytest.CaptureFixture[str]) -> str:
    """Register `bank`; its first webhook secret."""
    assert main(["clients", "add", "bank", "--allow-ip", BANK_OFFICE, "--webhook-url", HOOKS]) == 0
    secret: str = json.loads(capsys.readouterr().out)["webhook_secret"]
    return secret


def renew(capsys: pytest.CaptureFixture[str], *options: str) -> dict[str, Any]:
    assert main(["clients", "set-webhook", "bank", HOOKS, "--renew-secret", *options]) == 0
    answer: dict[str, Any] = json.loads(capsys.readouterr().out)
    return answer


def previous_secret(engine: Engine, key: str) -> str | None:
    with session_factory(engine)() as session:
        sealed = session.scalar(
            select(ClientRow.previous_webhook_secret_encrypted).where(ClientRow.name == "bank")
        )
    return None if sealed is None else SecretCipher([key]).decrypt(sealed)


def moment(text: str) -> datetime:
    assert text.endswith("Z")
    return datetime.fromisoformat(text.removesuffix("Z") + "+00:00")


def test_renewing_answers_until_when_the_previous_secret_also_signs_a_day_by_default(
    secret_key: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    first = add_bank(capsys)
    before = datetime.now(UTC).replace(microsecond=0)

    answer = renew(capsys)

    after = datetime.now(UTC)
    until = moment(answer["previous_secret_signs_until"])
    assert before + timedelta(hours=24) <= until <= after + timedelta(hours=24, seconds=1)
    assert answer["webhook_secret"].startswith("whsec_") and answer["webhook_secret"] != first
    assert previous_secret(engine, secret_key) == first


def test_renewing_with_overlap_hours_keeps_the_previous_secret_that_long(
    secret_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    add_bank(capsys)
    before = datetime.now(UTC).replace(microsecond=0)

    answer = renew(capsys, "--overlap", "1.5")

    until = moment(answer["previous_secret_signs_until"])
    assert before + timedelta(hours=1.5) <= until <= datetime.now(UTC) + timedelta(hours=2)


def test_renewing_with_overlap_0_stops_the_previous_secret_at_once(
    secret_key: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    add_bank(capsys)

    answer = renew(capsys, "--overlap", "0")

    assert answer["previous_secret_signs_until"] is None
    assert previous_secret(engine, secret_key) is None


def test_renewing_again_during_the_overlap_is_refused_unless_it_ends_the_previous(
    secret_key: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    first = add_bank(capsys)
    second = renew(capsys)["webhook_secret"]

    assert main(["clients", "set-webhook", "bank", "--renew-secret"]) == 2
    assert "give --end-previous" in capsys.readouterr().err
    assert previous_secret(engine, secret_key) == first
    renew(capsys, "--end-previous")

    assert previous_secret(engine, secret_key) == second != first


@pytest.mark.parametrize(
    ("hours", "complaint"),
    [
        ("-1", "is not a number of hours of 0 or more"),
        ("721", "is above 720 hours (30 days), the longest overlap"),
        ("nan", "is not a number of hours of 0 or more"),
        ("a day", "is not a number of hours"),
    ],
)
def test_an_overlap_out_of_bounds_is_an_argument_error(
    capsys: pytest.CaptureFixture[str], hours: str, complaint: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["clients", "set-webhook", "bank", HOOKS, "--renew-secret", "--overlap", hours])

    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "argument --overlap" in error and complaint in error


def test_an_overlap_without_renewing_the_secret_is_a_one_line_error(
    secret_key: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    add_bank(capsys)

    assert main(["clients", "set-webhook", "bank", HOOKS, "--overlap", "2"]) == 2

    captured = capsys.readouterr()
    assert (
        "--overlap and --end-previous go with --renew-secret" in captured.err and captured.out == ""
    )


def test_the_command_lines_overlap_bounds_are_the_stores() -> None:
    assert timedelta(hours=OVERLAP_HOURS) == WEBHOOK_SECRET_OVERLAP
    assert timedelta(hours=OVERLAP_HOURS_MAX) == WEBHOOK_SECRET_OVERLAP_MAX


def test_renewing_without_a_url_keeps_the_url_as_it_is(
    secret_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    first = add_bank(capsys)

    assert main(["clients", "set-webhook", "bank", "--renew-secret"]) == 0

    answer = json.loads(capsys.readouterr().out)
    assert answer["webhook_url"] == HOOKS and answer["webhook_secret"] != first
    assert main(["clients", "list"]) == 0
    assert HOOKS in capsys.readouterr().out


def test_a_url_given_after_the_options_is_the_url(
    secret_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    add_bank(capsys)
    moved = "https://bank.example/v2/hooks"

    assert main(["clients", "set-webhook", "bank", "--renew-secret", "--overlap", "1", moved]) == 0

    assert json.loads(capsys.readouterr().out)["webhook_url"] == moved
    assert main(["clients", "set-webhook", "bank", "--clear", moved]) == 2
    assert "give a URL or --clear, not both" in capsys.readouterr().err
