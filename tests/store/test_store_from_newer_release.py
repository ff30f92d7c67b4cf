"""A store a later release migrated (a rolling upgrade starts the new release's processes
first) is refused by this release's migration, untouched, on SQLite and PostgreSQL; and every
command that migrates at start-up says so in one line instead of Alembic's traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from cryptography.fernet import Fernet
from sqlalchemy import text

from pipelines.cli import main
from store.database import StoreFromNewerReleaseError, alembic_config, make_engine, upgrade
from tests.conftest import DATABASES, fresh_database

LATER = "0099_from_a_later_release"
VERSIONS = text("select version_num from alembic_version")


def from_a_newer_release(url: str) -> list[str]:
    """Migrate the store at `url` to this release's heads, then move one of its branches on to
    a revision only a later release knows; the store's revisions, as left."""
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            moved = max(connection.execute(VERSIONS).scalars())
            connection.execute(
                text("update alembic_version set version_num = :later where version_num = :moved"),
                {"later": LATER, "moved": moved},
            )
        return revisions(url)
    finally:
        engine.dispose()


def revisions(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return sorted(connection.execute(VERSIONS).scalars())
    finally:
        engine.dispose()


def this_releases_heads(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        return sorted(ScriptDirectory.from_config(alembic_config(engine)).get_heads())
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind", DATABASES)
def test_a_store_a_newer_release_migrated_is_refused_and_left_as_it_is(
    kind: str, tmp_path: Path
) -> None:
    with fresh_database(kind, tmp_path) as url:
        left = from_a_newer_release(url)

        with pytest.raises(StoreFromNewerReleaseError) as refused:
            upgrade(url)

        assert revisions(url) == left
        heads = this_releases_heads(url)
    assert LATER in left
    assert refused.value.unknown == [LATER]
    assert refused.value.heads == heads
    message = str(refused.value)
    assert "\n" not in message
    assert "migrated by a newer release" in message and LATER in message
    assert all(head in message for head in heads)


@pytest.mark.parametrize(
    "command",
    [
        ["clients", "list"],
        ["billing", "--client", "bank", "--month", "2026-11"],
        ["worker"],
        ["serve", "--port", "0"],
    ],
    ids=["clients", "billing", "worker", "serve"],
)
def test_a_command_on_a_store_a_newer_release_migrated_says_so_in_one_line(
    command: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"sqlite:///{tmp_path / 'ownership.db'}"
    left = from_a_newer_release(url)
    monkeypatch.setenv("OWNERSHIP_DATABASE_URL", url)
    monkeypatch.setenv("OWNERSHIP_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("OWNERSHIP_SCORES_DIR", str(tmp_path / "scores"))

    assert main(command) == 2

    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "migrated by a newer release" in errors[0] and LATER in errors[0]
    assert revisions(url) == left


def test_serve_started_on_a_store_a_newer_release_migrated_exits_without_a_traceback(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'ownership.db'}"
    from_a_newer_release(url)
    environment = {
        **os.environ,
        "OWNERSHIP_DATABASE_URL": url,
        "OWNERSHIP_SECRET_KEY": Fernet.generate_key().decode(),
        "OWNERSHIP_SCORES_DIR": str(tmp_path / "scores"),
    }
    serve = [sys.executable, "-m", "pipelines.cli", "serve", "--port", "0"]

    ran = subprocess.run(
        serve, capture_output=True, text=True, env=environment, timeout=120, check=False
    )

    assert ran.returncode == 2
    assert "Traceback" not in ran.stderr
    errors = [line for line in ran.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "migrated by a newer release" in errors[0] and LATER in errors[0]
