"""`ownership clients`: registering the API's clients from the command line."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, select

from pipelines.cli import main
from store.clients import find_client
from store.database import make_engine, session_factory
from store.secrets import SecretCipher, load_cipher
from store.tables import ClientRow
from tests.integration.cli_calls import refused_by_the_parser

BANK_OFFICE = "203.0.113.0/24"
HOOKS = "https://bank.example/hooks"
SHOP_HOOKS = "https://shop.example:8443/webhooks?from=ownership"


def test_a_client_added_can_be_found_with_the_printed_secret(
    secret_key: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["clients", "add", "bank", "--allow-ip", BANK_OFFICE, "--allow-ip", "::1/128"])

    assert code == 0
    issued = json.loads(capsys.readouterr().out)
    assert set(issued) == {"key", "secret", "webhook_secret"}
    assert issued["webhook_secret"].startswith("whsec_")
    with session_factory(engine)() as session:
        record = find_client(session, issued["key"], SecretCipher([secret_key]))
        sealed = session.scalar(
            select(ClientRow.webhook_secret_encrypted).where(ClientRow.name == "bank")
        )
    assert record is not None
    assert (record.name, record.secret) == ("bank", issued["secret"])
    assert [str(network) for network in record.networks] == [BANK_OFFICE, "::1/128"]
    assert sealed is not None and issued["webhook_secret"] not in sealed
    assert SecretCipher([secret_key]).decrypt(sealed) == issued["webhook_secret"]


def test_a_client_gets_a_default_webhook_url_at_registration_or_later(
    secret_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["clients", "add", "bank", "--allow-ip", BANK_OFFICE, "--webhook-url", HOOKS])
    main(["clients", "add", "shop", "--allow-ip", BANK_OFFICE])
    capsys.readouterr()

    assert main(["clients", "set-webhook", "shop", SHOP_HOOKS]) == 0
    assert json.loads(capsys.readouterr().out) == {"name": "shop", "webhook_url": SHOP_HOOKS}
    assert main(["clients", "list"]) == 0
    listed = {c["name"]: c["webhook_url"] for c in json.loads(capsys.readouterr().out)}
    assert listed == {"bank": HOOKS, "shop": SHOP_HOOKS}

    assert main(["clients", "set-webhook", "bank", "--clear", "--renew-secret"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["webhook_url"] is None and answer["webhook_secret"].startswith("whsec_")


def test_a_client_may_be_allowed_older_user_actions_at_registration_or_later(
    secret_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["clients", "add", "bank", "--allow-ip", BANK_OFFICE, "--max-action-age-days", "7"])
    main(["clients", "add", "shop", "--allow-ip", BANK_OFFICE])
    capsys.readouterr()

    assert main(["clients", "set-action-age", "shop", "14"]) == 0
    assert json.loads(capsys.readouterr().out) == {"name": "shop", "max_action_age_days": 14}
    assert main(["clients", "set-action-age", "bank", "default"]) == 0
    capsys.readouterr()
    assert main(["clients", "list"]) == 0
    listed = {c["name"]: c["max_action_age_days"] for c in json.loads(capsys.readouterr().out)}
    assert listed == {"bank": None, "shop": 14}


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["add", "shop", "--allow-ip", BANK_OFFICE, "--max-action-age-days", " ٣"], "whole"),
        (["set-action-age", "bank", " ٥ "], "' ٥ ' is not a number of days or `default`"),
    ],
)
def test_days_are_written_in_ascii_digits_as_every_whole_number_option(
    capsys: pytest.CaptureFixture[str], args: list[str], complaint: str
) -> None:
    assert complaint in refused_by_the_parser(["clients", *args], capsys)


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["set-action-age", "nobody", "7"], "no client is named"),
        (["set-action-age", "bank", "0"], "1 to 365 days old, not 0"),
        (["add", "shop", "--allow-ip", BANK_OFFICE, "--max-action-age-days", "400"], "not 400"),
        (["set-webhook", "nobody", HOOKS], "no client is named"),
        (["set-webhook", "bank", "ftp://bank.example/hooks"], "not an absolute http(s) URL"),
        (["set-webhook", "bank", "https://u:p@bank.example/"], "no credentials"),
        (["set-webhook", "bank"], "give a URL, --clear, or --renew-secret"),
        (["set-webhook", "bank", HOOKS, "--clear"], "a URL or --clear, not both"),
        (["add", "shop", "--allow-ip", BANK_OFFICE, "--webhook-url", "hooks"], "absolute"),
    ],
)
def test_a_bad_webhook_setting_is_a_one_line_error(
    secret_key: str, capsys: pytest.CaptureFixture[str], args: list[str], complaint: str
) -> None:
    main(["clients", "add", "bank", "--allow-ip", BANK_OFFICE])
    capsys.readouterr()

    assert main(["clients", *args]) == 2

    captured = capsys.readouterr()
    assert complaint in captured.err and "Traceback" not in captured.err


def test_clients_are_listed_without_secrets(
    secret_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["clients", "add", "bank", "--allow-ip", BANK_OFFICE])
    secret = json.loads(capsys.readouterr().out)["secret"]

    assert main(["clients", "list"]) == 0

    listing = capsys.readouterr().out
    assert secret not in listing
    assert [(c["name"], c["allowed_cidrs"]) for c in json.loads(listing)] == [
        ("bank", [BANK_OFFICE])
    ]


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["bank", "--allow-ip", BANK_OFFICE], "already exists"),
        (["shop", "--allow-ip", "10.0.0.1/8"], "host bits set"),
        (["shop", "--allow-ip", "bank.example"], "not a CIDR"),
    ],
)
def test_a_taken_name_or_a_bad_network_is_a_one_line_error(
    secret_key: str, capsys: pytest.CaptureFixture[str], args: list[str], complaint: str
) -> None:
    main(["clients", "add", "bank", "--allow-ip", BANK_OFFICE])
    capsys.readouterr()

    assert main(["clients", "add", *args]) == 2

    captured = capsys.readouterr()
    assert complaint in captured.err
    assert "Traceback" not in captured.err and captured.out == ""


def test_without_settings_the_store_and_its_key_go_under_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OWNERSHIP_DATABASE_URL", raising=False)
    monkeypatch.delenv("OWNERSHIP_SECRET_KEY", raising=False)

    assert main(["clients", "add", "bank", "--allow-ip", BANK_OFFICE]) == 0

    issued = json.loads(capsys.readouterr().out)
    key_file = tmp_path / "var" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    engine = make_engine("sqlite:///var/ownership.db")
    try:
        with session_factory(engine)() as session:
            record = find_client(session, issued["key"], load_cipher(None, key_file))
    finally:
        engine.dispose()
    assert record is not None and record.secret == issued["secret"]


def test_an_unreachable_store_is_a_one_line_error_without_its_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(
        "OWNERSHIP_DATABASE_URL", "postgresql+psycopg://bank:hunter2@127.0.0.1:1/nowhere"
    )

    assert main(["clients", "list"]) == 2

    error = capsys.readouterr().err
    assert "cannot open the store" in error and "hunter2" not in error


def test_run_as_a_module_a_usage_error_is_one_line_too(tmp_path: Path) -> None:
    environment = {**os.environ, "OWNERSHIP_DATABASE_URL": f"sqlite:///{tmp_path / 'o.db'}"}
    command = [sys.executable, "-m", "pipelines.cli", "clients", "set-webhook", "shop"]

    ran = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)

    assert ran.returncode == 2
    assert "Traceback" not in ran.stderr
    assert "give a URL, --clear, or --renew-secret" in ran.stdout + ran.stderr


@pytest.mark.parametrize(
    "args",
    [
        [b"clients", b"add", "Банк".encode("cp1251"), b"--allow-ip", BANK_OFFICE.encode()],
        [b"templates", b"approve", b"tpl_\xff"],
        [b"templates", b"reject", b"tpl_1", b"--note", "не то".encode("cp1251")],
    ],
)
def test_a_text_from_a_terminal_that_is_not_utf8_is_a_one_line_error(
    tmp_path: Path, args: list[bytes]
) -> None:
    environment = {**os.environ, "OWNERSHIP_DATABASE_URL": f"sqlite:///{tmp_path / 'o.db'}"}
    command = [os.fsencode(sys.executable), b"-m", b"pipelines.cli", *args]

    ran = subprocess.run(command, capture_output=True, env=environment, check=False)

    assert ran.returncode == 2
    assert b"Traceback" not in ran.stderr
    assert b"is not UTF-8 text" in ran.stderr


def test_the_secret_key_is_rotated_by_resealing_under_the_new_one_first(
    secret_key: str,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["clients", "add", "bank", "--allow-ip", BANK_OFFICE])
    issued = json.loads(capsys.readouterr().out)
    new_key = Fernet.generate_key().decode()
    monkeypatch.setenv("OWNERSHIP_SECRET_KEY", f"{new_key},{secret_key}")

    assert main(["clients", "reseal"]) == 0
    assert json.loads(capsys.readouterr().out) == {"resealed": 1}

    with session_factory(engine)() as session:
        record = find_client(session, issued["key"], SecretCipher([new_key]))
    assert record is not None and record.secret == issued["secret"]


def test_resealing_with_keys_that_miss_one_is_a_one_line_error(
    secret_key: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["clients", "add", "bank", "--allow-ip", BANK_OFFICE])
    capsys.readouterr()
    monkeypatch.setenv("OWNERSHIP_SECRET_KEY", Fernet.generate_key().decode())

    assert main(["clients", "reseal"]) == 2

    message = capsys.readouterr().err.strip()
    assert message.startswith("error:") and "'bank'" in message and "\n" not in message


def test_a_client_is_not_added_under_a_key_that_does_not_open_the_others(
    secret_key: str,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Sealed under another key, the new client would stop `serve` from starting on the key
    that opens the others, and nothing but SQL could take it out again."""
    main(["clients", "add", "bank", "--allow-ip", BANK_OFFICE])
    capsys.readouterr()
    monkeypatch.setenv("OWNERSHIP_SECRET_KEY", Fernet.generate_key().decode())

    assert main(["clients", "add", "shop", "--allow-ip", BANK_OFFICE]) == 2

    captured = capsys.readouterr()
    assert captured.out == "" and "'bank'" in captured.err and "\n" not in captured.err.strip()
    with session_factory(engine)() as session:
        names = session.scalars(select(ClientRow.name)).all()
    assert names == ["bank"]


@pytest.mark.parametrize("action", [["add", "bank", "--allow-ip", BANK_OFFICE], ["reseal"]])
def test_a_key_file_that_cannot_be_read_is_a_one_line_error_naming_its_setting(
    action: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    engine: Engine,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OWNERSHIP_DATABASE_URL", database_url)
    monkeypatch.delenv("OWNERSHIP_SECRET_KEY", raising=False)
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("OWNERSHIP_SECRET_KEY_FILE", str(tmp_path / "a-file" / "secret.key"))

    assert main(["clients", *action]) == 2

    message = capsys.readouterr().err.strip()
    assert message.startswith("error: bad setting: OWNERSHIP_SECRET_KEY_FILE: cannot use")
    assert "\n" not in message
