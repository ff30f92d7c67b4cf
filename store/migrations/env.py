"""Alembic's environment: runs online against the engine `store.database` hands over.

Each migration is one transaction, its version bump included, on both stores: one that fails
or whose process is killed midway leaves the store at the revision before it, with nothing of
it done, and the next start runs it again. PostgreSQL's DDL is transactional and Alembic knows
it. SQLite's is too, but Python's sqlite3 module begins no transaction before DDL and Alembic
assumes none: each step of a migration committed on its own (a column added with the version
left behind, which every later start failed to add again; a table's copy left half made). So
on SQLite the module's own transaction handling is turned off for the migrating connection and
each transaction opened with BEGIN (SQLAlchemy's recipe for pysqlite), and Alembic is told the
DDL is transactional.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection, Engine, event

from store.schema import metadata

engine: Engine = context.config.attributes["engine"]


def _begin_explicitly(connection: Connection) -> None:
    # IMMEDIATE: the write lock taken now, waiting out the busy timeout for another process's
    # write; a plain BEGIN reads first (the version row, a table's reflection) and cannot
    # become a write once another process committed meanwhile: "database is locked" at once
    connection.exec_driver_sql("BEGIN IMMEDIATE")


with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    driver: Any = connection.connection.dbapi_connection
    handling = driver.isolation_level
    if sqlite:
        # before anything begins: the module commits a transaction open when this is set.
        # The connection's pragmas (foreign keys on among them) were set as it connected,
        # outside any transaction, where SQLite takes them
        driver.isolation_level = None
        event.listen(connection, "begin", _begin_explicitly)
    try:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            # SQLite alters tables by copying them; batch mode lets later revisions do that
            render_as_batch=sqlite,
            compare_type=True,
            transactional_ddl=True,
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        if sqlite:
            # the connection goes back to the engine's pool, for the module's usual handling
            connection.rollback()
            event.remove(connection, "begin", _begin_explicitly)
            driver.isolation_level = handling
