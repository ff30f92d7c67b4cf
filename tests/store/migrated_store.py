"""A store of either dialect migrated to a given revision, for the tests of one migration: put
rows in at the revision before it, upgrade, downgrade, and look."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from store.database import alembic_config, make_engine
from tests.conftest import fresh_database


@contextmanager
def store_at(kind: str, folder: Path, revision: str) -> Iterator[tuple[Engine, Config]]:
    """A new database of `kind` migrated to `revision`, with Alembic's configuration for it."""
    with fresh_database(kind, folder) as url:
        engine = make_engine(url)
        try:
            config = alembic_config(engine)
            command.upgrade(config, revision)
            yield engine, config
        finally:
            engine.dispose()
