"""Alembic's environment: runs online against the engine `store.database` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

import store.tables_webhooks  # noqa: F401  (its tables join Base's metadata)
from store.tables import Base

engine: Engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite alters tables by copying them; batch mode lets later revisions do that
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
