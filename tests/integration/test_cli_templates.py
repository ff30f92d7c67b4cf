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
    assert [t["id"] for t in json.loads(capsys.readouterr().out)] == [waiting.id]

    assert main(["templates", "approve", waiting.id, "--note", "fine", "--by", "olga"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "approved"
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
