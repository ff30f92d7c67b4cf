"""Each migration is atomic on both stores: one that fails, or whose process is killed, midway
leaves the store at the revision before it with nothing of it done, and the next start
migrates it (QA: a SQLite upgrade killed mid-migration was left half done, a column added with
the version behind, and every later start failed to add it again)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect, text

from store.database import MIGRATIONS, alembic_config, make_engine, upgrade
from tests.conftest import DATABASES, fresh_database

BEFORE = "0005_one_answer_a_prompt"
LAST_DONE = "0006_verification_recorded_at"  # a real migration the failing one follows
FAILING = "9001_fails_midway"

# a migration of a test's own, after 0006: a table copied (on SQLite) with a column added and
# its rows changed, a table made, and then it fails, as {end} says
FAILING_MIGRATION = """
import os, signal
import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("verifications", recreate="always") as table:
        table.add_column(sa.Column("scratch", sa.Integer(), nullable=True))
    op.execute(sa.text("update verifications set scratch = 1, result = 'denied'"))
    op.create_table("scratch_table", sa.Column("id", sa.Integer(), primary_key=True))
    {end}


def downgrade():
    pass
"""


def with_failing_migration(engine: Engine, folder: Path, end: str) -> Config:
    """Alembic's configuration for `engine` with the failing migration beside the service's."""
    versions = folder / "failing_versions"
    versions.mkdir(exist_ok=True)
    (versions / f"{FAILING}.py").write_text(
        FAILING_MIGRATION.format(revision=FAILING, down=LAST_DONE, end=end)
    )
    config = alembic_config(engine)
    config.set_main_option("path_separator", "os")
    config.set_main_option(
        "version_locations", os.pathsep.join([str(MIGRATIONS / "versions"), str(versions)])
    )
    return config


def a_store_at_0005_with_an_answer(url: str) -> None:
    engine = make_engine(url)
    try:
        command.upgrade(alembic_config(engine), BEFORE)
        with engine.begin() as connection:
            connection.execute(
                text(
                    "insert into verifications (phone, ts, method, result) "
                    "values ('+79234567823', '2026-11-01 00:00:00', 'prompt', 'confirmed')"
                )
            )
    finally:
        engine.dispose()


def what_the_store_holds(url: str) -> tuple[set[str], set[str], set[str], list[str]]:
    """Its revisions, its tables, the verifications' columns and their results."""
    engine = make_engine(url)
    try:
        found = inspect(engine)
        with engine.connect() as connection:
            revisions = set(connection.scalars(text("select version_num from alembic_version")))
            results = list(connection.scalars(text("select result from verifications")))
        columns = {column["name"] for column in found.get_columns("verifications")}
        return revisions, set(found.get_table_names()), columns, results
    finally:
        engine.dispose()


def assert_left_at_the_revision_before(url: str) -> None:
    revisions, tables, columns, results = what_the_store_holds(url)
    assert revisions == {LAST_DONE}
    assert "recorded_at" in columns  # 0006, done before, kept
    assert "scratch" not in columns and "scratch_table" not in tables
    assert not [table for table in tables if table.startswith("_alembic_tmp")]
    assert results == ["confirmed"]


@pytest.mark.parametrize("kind", DATABASES)
def test_a_migration_failing_midway_leaves_nothing_of_it_and_the_next_start_migrates(
    kind: str, tmp_path: Path
) -> None:
    with fresh_database(kind, tmp_path) as url:
        a_store_at_0005_with_an_answer(url)
        engine = make_engine(url)
        try:
            config = with_failing_migration(engine, tmp_path, 'raise RuntimeError("midway")')
            with pytest.raises(RuntimeError, match="midway"):
                command.upgrade(config, FAILING)
        finally:
            engine.dispose()

        assert_left_at_the_revision_before(url)
        upgrade(url)  # the release's own migrations, as the next start runs them
        assert LAST_DONE not in what_the_store_holds(url)[0]


KILLED_UPGRADE = """
import sys
from alembic import command
from store.database import make_engine
from tests.store.test_migrations_atomic import FAILING, with_failing_migration
from pathlib import Path

engine = make_engine(sys.argv[1])
command.upgrade(with_failing_migration(engine, Path(sys.argv[2]), sys.argv[3]), FAILING)
"""


@pytest.mark.parametrize("kind", DATABASES)
def test_a_process_killed_midway_through_a_migration_leaves_nothing_of_it(
    kind: str, tmp_path: Path
) -> None:
    with fresh_database(kind, tmp_path) as url:
        a_store_at_0005_with_an_answer(url)
        # killed as kill -9 kills it: no handler, no rollback, no exit of its own
        kill = "os.kill(os.getpid(), signal.SIGKILL)"
        killed = subprocess.run(
            [sys.executable, "-c", KILLED_UPGRADE, url, str(tmp_path), kill],
            capture_output=True,
            text=True,
            check=False,
        )
        assert killed.returncode == -9, killed.stderr

        assert_left_at_the_revision_before(url)
        upgrade(url)
        assert LAST_DONE not in what_the_store_holds(url)[0]
