"""`ownership templates`: the moderators' queue and decisions from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, text

from delivery.templates import TemplateDesk
from pipelines.cli import main
from pipelines.moderation_rules import load_moderation_rules
from store.clients import register_client
from store.database import session_factory
from store.secrets import SecretCipher
from tests.template_drafts import BIRTHDAY_OFFER, ORDER_READY


@pytest.fixture
def desk(monkeypatch: pytest.MonkeyPatch, database_url: str, engine: Engine) -> TemplateDesk:
    """A desk on the session's database, which the CLI is pointed at; emptied by `engine`."""
    monkeypatch.setenv("OWNERSHIP_DATABASE_URL", database_url)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        register_client(
            session, "shop", ["203.0.113.0/24"], SecretCipher([Fernet.generate_key().decode()])
        )
    return TemplateDesk(sessions, load_moderation_rules())


def shop_key(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.execute(text("select consumer_key from clients")).scalar_one())


def test_the_queue_lists_waiting_templates_and_a_moderator_approves_one(
    desk: TemplateDesk, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    key = shop_key(engine)
    waiting = desk.submit(key, ORDER_READY)
    desk.submit(key, BIRTHDAY_OFFER)

    assert main(["templates", "list"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(t["id"], t["client"]) for t in listed] == [(waiting.id, "shop")]

    assert main(["templates", "approve", waiting.id, "--note", "fine", "--by", "olga"]) == 0
    approved = json.loads(capsys.readouterr().out)
    assert (approved["status"], approved["client"]) == ("approved", "shop")
    decided = desk.find(waiting.id)
    assert decided is not None and (decided.decided_by, decided.note) == ("cli:olga", "fine")

    assert main(["templates", "list", "--status", "all"]) == 0
    assert {t["status"] for t in json.loads(capsys.readouterr().out)} == {"approved", "rejected"}


def test_a_rejection_needs_a_note(
    desk: TemplateDesk, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    waiting = desk.submit(shop_key(engine), ORDER_READY)

    with pytest.raises(SystemExit) as exit_:
        main(["templates", "reject", waiting.id])
    assert exit_.value.code == 2
    assert "--note" in capsys.readouterr().err

    assert main(["templates", "approve", waiting.id, "--note", ""]) == 2
    assert "--note: the note is blank" in capsys.readouterr().err

    assert main(["templates", "reject", waiting.id, "--note", "misleading tail"]) == 0
    assert json.loads(capsys.readouterr().out)["reasons"][0]["code"] == "MODERATOR_REJECTED"


@pytest.mark.parametrize("which", ["unknown", "decided"])
def test_nothing_to_decide_is_a_one_line_error(
    desk: TemplateDesk, engine: Engine, capsys: pytest.CaptureFixture[str], which: str
) -> None:
    rejected = desk.submit(shop_key(engine), BIRTHDAY_OFFER)
    template_id = "tpl_0000000000000000" if which == "unknown" else rejected.id

    assert main(["templates", "approve", template_id]) == 2

    captured = capsys.readouterr()
    assert ("no template" if which == "unknown" else "already rejected") in captured.err
    assert "Traceback" not in captured.err and captured.out == ""


def test_broken_rules_are_a_one_line_error(
    desk: TemplateDesk,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    broken = tmp_path / "rules.yaml"
    broken.write_text("version: 1\npromotions: [", "utf-8")
    monkeypatch.setenv("OWNERSHIP_MODERATION_RULES_PATH", str(broken))

    assert main(["templates", "list"]) == 2
    assert str(broken) in capsys.readouterr().err


def test_the_output_is_utf8_as_written_not_escaped(
    desk: TemplateDesk, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    waiting = desk.submit(shop_key(engine), ORDER_READY)

    assert main(["templates", "list"]) == 0
    assert "Ваш заказ #order# готов к выдаче" in capsys.readouterr().out

    assert main(["templates", "reject", waiting.id, "--note", "хвост вводит в заблуждение"]) == 0
    assert "хвост вводит в заблуждение" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        (["--by", "m" * 81], "--by: String should have at most 80 characters"),
        (["--by", "o" * 101], "--by: String should have at most 80 characters"),  # VARCHAR(100)
        (["--by", "olga\x1b[2J"], "--by: control characters"),
        (["--note", "n" * 2_001], "--note: String should have at most 2000 characters"),
        (["--note", "fine\x07"], "--note: control characters"),
    ],
)
def test_a_decision_is_held_to_the_admin_routes_bounds_in_one_line(
    desk: TemplateDesk,
    engine: Engine,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    complaint: str,
) -> None:
    waiting = desk.submit(shop_key(engine), ORDER_READY)

    assert main(["templates", "approve", waiting.id, *options]) == 2

    captured = capsys.readouterr()
    assert complaint in captured.err and len(captured.err.strip().splitlines()) == 1
    assert captured.out == ""
    still = desk.find(waiting.id)
    assert still is not None and still.status == "pending_moderation"


def test_a_moderator_the_system_cannot_name_is_asked_for_by(
    desk: TemplateDesk,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    waiting = desk.submit(shop_key(engine), ORDER_READY)
    for variable in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(variable, raising=False)

    def no_passwd_entry(uid: int) -> None:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.setattr("pwd.getpwuid", no_passwd_entry)

    assert main(["templates", "approve", waiting.id]) == 2
    assert "give --by NAME" in capsys.readouterr().err

    assert main(["templates", "approve", waiting.id, "--by", "olga"]) == 0
    decided = desk.find(waiting.id)
    assert decided is not None and decided.decided_by == "cli:olga"


def test_the_queue_is_listed_a_page_at_a_time_saying_when_more_follow(
    desk: TemplateDesk, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    key = shop_key(engine)
    waiting = [desk.submit(key, ORDER_READY).id for _ in range(3)]

    assert main(["templates", "list", "--limit", "2"]) == 0
    captured = capsys.readouterr()
    assert [t["id"] for t in json.loads(captured.out)] == waiting[:2]
    assert f"--after {waiting[1]}" in captured.err

    assert main(["templates", "list", "--limit", "2", "--after", waiting[1]]) == 0
    captured = capsys.readouterr()
    assert ([t["id"] for t in json.loads(captured.out)], captured.err) == ([waiting[2]], "")

    assert main(["templates", "list", "--limit", "1001"]) == 2
    assert "--limit is 1 to 1000" in capsys.readouterr().err
    assert main(["templates", "list", "--after", "tpl_0000000000000000"]) == 2
    assert "no template" in capsys.readouterr().err


def test_a_demo_clock_without_its_anchor_is_pointed_out_on_stderr(
    desk: TemplateDesk, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # the service's clock started when it did: this command's would start now, and stamp a
    # decision before the submission it decides
    monkeypatch.setenv("OWNERSHIP_CLOCK_SPEED", "60")

    assert main(["templates", "list"]) == 0

    shown = capsys.readouterr()
    assert "OWNERSHIP_CLOCK_SPEED=60 without OWNERSHIP_CLOCK_ANCHOR" in shown.err
    assert json.loads(shown.out) is not None  # stdout stays one JSON document
