"""`ownership clients set-policy|show-policy`: a client's own notify policy from an operator's
YAML file, shown with where it differs from the service's, and `default` giving that back."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from pipelines.cli import main
from store.tables import ClientRow

BANK_OFFICE = "203.0.113.0/24"
CAREFUL = """\
# suspicious numbers by SMS; a fortnight's proof counts as fresh
freshness_days: 14
rows:
  suspicious: {regular: sms, sensitive: sms}
"""


# a few lines that expand to 9**9 texts if aliases are followed
BILLION_LAUGHS = "freshness_days:\n  - &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"  - &{name} [{', '.join([f'*{previous}'] * 9)}]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.fixture
def bank(secret_key: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["clients", "add", "bank", "--allow-ip", BANK_OFFICE])
    capsys.readouterr()


def policy_file(folder: Path, text: str) -> str:
    path = folder / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def own_policy_listed(capsys: pytest.CaptureFixture[str]) -> object:
    assert main(["clients", "list"]) == 0
    return json.loads(capsys.readouterr().out)[0]["own_policy"]


def test_a_policy_file_set_is_shown_with_the_rows_that_differ_from_the_default(
    bank: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["clients", "set-policy", "bank", policy_file(tmp_path, CAREFUL)]) == 0
    set_answer = json.loads(capsys.readouterr().out)
    assert main(["clients", "show-policy", "bank"]) == 0
    shown = json.loads(capsys.readouterr().out)

    assert shown == set_answer
    assert (shown["own_policy"], shown["freshness_days"], shown["default_freshness_days"]) == (
        True,
        14,
        30,
    )
    assert shown["rows"]["SUSPICIOUS"] == {
        "regular": "sms",
        "sensitive": "sms",
        "default": {"regular": "deliver", "sensitive": "reverify"},
    }
    assert shown["rows"]["VERIFIED_FRESH"] == {"regular": "deliver", "sensitive": "deliver"}
    assert [row for row, actions in shown["rows"].items() if "default" in actions] == ["SUSPICIOUS"]
    assert own_policy_listed(capsys) is True


def test_set_policy_default_gives_the_services_policy_back(
    bank: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["clients", "set-policy", "bank", policy_file(tmp_path, CAREFUL)])
    capsys.readouterr()

    assert main(["clients", "set-policy", "bank", "default"]) == 0

    shown = json.loads(capsys.readouterr().out)
    assert shown["own_policy"] is False and shown["freshness_days"] == 30
    assert not [row for row, actions in shown["rows"].items() if "default" in actions]
    assert own_policy_listed(capsys) is False


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("rows: {OWNER_CHANGED: {regular: deliver}}", "by sms only, not deliver"),
        ("rows: {NO_MOBILE_APP: {sensitive: reverify}}", "by sms only, not reverify"),
        ("rows: {RECYCLED: {regular: sms}}", "'RECYCLED' is no row"),
        ("rows: {SUSPICIOUS: {regular: fax}}", "'fax' is no action"),
        ("freshness_days: 0", "1 to 90"),
        ("rows: [unclosed", "is not YAML at line 1"),
        ("", "a policy file is a mapping"),
        ("rows: 0", "rows is a mapping"),
        ("rows: {SUSPICIOUS: {regular: sms}, suspicious: {regular: deliver}}", "given twice"),
        ("freshness_days: 14\nfreshness_days: 90", "'freshness_days' is given twice"),
        (BILLION_LAUGHS, "takes no aliases"),
        ("freshness_days: [" + "1, " * 30_000 + "1]", "longer than a policy file can be"),
        ("freshness_days: 030", "'030' is no whole number written in decimal"),
        ("{a: " * 2_000 + "1" + "}" * 2_000, "nested deeper than a policy file can be"),
    ],
)
def test_a_bad_policy_file_is_a_one_line_error_and_changes_nothing(
    bank: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, complaint: str
) -> None:
    assert main(["clients", "set-policy", "bank", policy_file(tmp_path, text)]) == 2

    captured = capsys.readouterr()
    assert complaint in captured.err and captured.err.count("\n") == 1
    assert "Traceback" not in captured.err and captured.out == ""
    assert own_policy_listed(capsys) is False


def test_a_file_that_changes_nothing_and_default_both_store_no_policy(
    bank: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], engine: Engine
) -> None:
    main(["clients", "set-policy", "bank", policy_file(tmp_path, CAREFUL)])
    main(["clients", "set-policy", "bank", "default"])
    main(["clients", "add", "shop", "--allow-ip", BANK_OFFICE])
    main(["clients", "set-policy", "shop", policy_file(tmp_path, "{}")])
    capsys.readouterr()

    with engine.connect() as connection:  # SQL's NULL, as an analyst's `is null` reads it
        without = connection.scalars(
            select(ClientRow.name).where(ClientRow.notify_policy.is_(None))
        ).all()
    assert sorted(without) == ["bank", "shop"]


@pytest.mark.parametrize(
    "args",
    [["set-policy", "nobody", "default"], ["show-policy", "nobody"]],
)
def test_an_unknown_client_is_a_one_line_error(
    bank: None, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    assert main(["clients", *args]) == 2

    assert "no client is named 'nobody'" in capsys.readouterr().err


def test_a_policy_file_that_is_a_pipe_is_refused_rather_than_waited_for(
    bank: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.mkfifo(tmp_path / "policy.yaml")

    assert main(["clients", "set-policy", "bank", str(tmp_path / "policy.yaml")]) == 2

    assert "it is not a file" in capsys.readouterr().err


def test_a_policy_file_that_cannot_be_read_is_a_one_line_error(
    bank: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["clients", "set-policy", "bank", str(tmp_path / "missing.yaml")]) == 2

    assert "cannot read the policy file" in capsys.readouterr().err
