"""Engines, sessions and migrations for the store: SQLite embedded, PostgreSQL in production."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from store.lock_watch import LOCK_CONNECTION_TIMEOUTS, AdvisoryLockWatch, warn_lost
from store.schema import metadata

MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 5_000


def make_engine(
    url: str,
    *,
    pool_size: int = 5,
    max_overflow: int = 10,
    durable: bool = True,
    pre_ping: bool = True,
) -> Engine:
    """An engine tuned for the store's dialect.

    Either way its errors never quote a statement's parameters: they carry numbers, texts
    and one-time codes, tokens in a callback URL, and an error is logged.
    SQLite: WAL, so readers never wait for the writer; foreign keys enforced (SQLite leaves
    them off); writers wait up to five seconds for the lock instead of failing at once. The
    file's own folder is created, so the embedded default needs no set-up.
    PostgreSQL: a bounded pool whose connections are checked before use. `durable=False`
    commits without waiting for the disk (`synchronous_commit=off`): for writes whose loss in
    a database crash costs nothing that matters, such as nonces (a replay is still refused by
    its timestamp once the window has passed). `pre_ping=False` spares a round trip on every
    checkout, for a busy service whose pool stays warm (connections are still recycled).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _folder_made(Path(parsed.database).parent, url)
            _created_owner_only(parsed.database)
        engine = create_engine(
            parsed,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            hide_parameters=True,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        parsed,
        connect_args={} if durable else {"options": "-c synchronous_commit=off"},
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=pre_ping,
        pool_recycle=1_800,
        hide_parameters=True,
    )


class StoreFolderMissingError(Exception):
    """A SQLite store's folder lies in a folder that does not exist: a mistyped path, which
    would otherwise start a second, empty store."""


def _folder_made(folder: Path, url: str) -> None:
    """The store file's own folder, made if missing (`var/` of the embedded default), but
    never the folders above it."""
    try:
        folder.mkdir(exist_ok=True)
    except FileNotFoundError as error:
        raise StoreFolderMissingError(
            f"cannot open the store at {make_url(url).render_as_string(hide_password=True)}: "
            f"{folder.parent} does not exist (only the store's own folder is made)"
        ) from error


def _created_owner_only(database: str) -> None:
    """Create a new SQLite store's file readable by its owner alone, before SQLite does with
    the umask's (commonly 0644): it holds numbers and the texts of the notifications, one-time
    codes among them. SQLite gives its WAL and shared-memory files the database file's mode.
    A file that is there is left as it is; so is a URI filename, which SQLite itself opens."""
    if database.startswith("file:"):
        return
    # one there, or a folder that cannot be written, is SQLite's to open or to refuse
    with suppress(OSError):
        os.close(os.open(database, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # with WAL, NORMAL loses no committed data on a crash, only on power loss, and commits fast
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def missing_sqlite_file(url: str) -> str | None:
    """The file of a SQLite store at `url` that does not exist (SQLite would make an empty
    database of a mistyped path); None for one that does, in memory, or another database."""
    parsed = make_url(url)
    database = parsed.database or ""
    on_disk = parsed.get_backend_name() == "sqlite" and database not in ("", ":memory:")
    return database if on_disk and not Path(database).is_file() else None


def session_factory(engine: Engine) -> sessionmaker[Session]:
    # rows stay readable after commit: repositories hand out values, not live objects
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    """Alembic's configuration, built in code so an installed package needs no alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(url: str) -> None:
    """Migrate the database at `url` to the newest revision (creating it, for SQLite).

    One process at a time: servers and workers started together on a fresh store would each
    create the same tables, and all but one fail. The others wait for the lock, then find
    nothing left to do.

    Raises StoreFromNewerReleaseError, leaving the store untouched, when a later release
    migrated it past the revisions this one knows; StoreLacksColumnsError when, migrated, it
    lacks a table or column the code's tables declare."""
    engine = make_engine(url)
    try:
        with _migrating_alone(engine):
            _migrate(engine)
        _refuse_a_store_lacking_columns(engine)
    finally:
        engine.dispose()


def _migrate(engine: Engine) -> None:
    config = alembic_config(engine)
    script = ScriptDirectory.from_config(config)
    # under the lock: a newer release migrating meanwhile is seen done, or not begun
    current = _store_revisions(engine)
    _refuse_a_store_from_a_newer_release(engine, script, current)
    if current == set(script.get_heads()):
        return  # as this release needs it: Alembic would only log its set-up
    # "heads": the areas of the store (clients, webhooks, templates, notifications)
    # each have a branch of revisions from 0001, so none waits on another's numbering
    command.upgrade(config, "heads")


class StoreLacksColumnsError(Exception):
    """The store, at this release's revisions, lacks tables or columns the code's tables
    declare: its migrations were not the ones these revisions hold (a revision changed after
    a build migrated the store with it, or the schema altered by hand). Said at the start, in
    one line naming them, rather than by the first job that reads them."""

    def __init__(self, store: str, missing: Iterable[str]) -> None:
        self.missing = sorted(missing)
        super().__init__(
            f"the store at {store} lacks what this release's code reads: "
            f"{', '.join(self.missing)}, though it is at this release's revisions (a build "
            "migrated it with a revision changed since, or its schema was altered by hand): "
            "restore a backup taken before, or add them as store/tables*.py declares them"
        )


def _refuse_a_store_lacking_columns(engine: Engine) -> None:
    """Raise `StoreLacksColumnsError` if a table or column of the code's tables is not in the
    store. One pass of the inspector (one query on PostgreSQL); names only, not types, which
    each dialect reports in its own words."""
    with engine.connect() as connection:
        found = inspect(connection).get_multi_columns()
    columns = {table: {column["name"] for column in kept} for (_, table), kept in found.items()}
    missing = [
        table.name if table.name not in columns else f"{table.name}.{column.name}"
        for table in metadata.sorted_tables
        for column in table.columns
        if column.name not in columns.get(table.name, ())
    ]
    if missing:
        store = engine.url.render_as_string(hide_password=True)
        raise StoreLacksColumnsError(store, dict.fromkeys(missing))


class StoreFromNewerReleaseError(Exception):
    """The store holds revisions this release's migrations do not know: a later release
    migrated it, as a rolling upgrade does when the new release's processes start first.
    Alembic would fail on them with a traceback; and an older release may not take the store
    down, since the newer release's processes run on it. The message says so in one line."""

    def __init__(self, store: str, unknown: Iterable[str], heads: Iterable[str]) -> None:
        self.unknown = sorted(unknown)
        self.heads = sorted(heads)
        revisions = "revision" if len(self.unknown) == 1 else "revisions"
        super().__init__(
            f"the store at {store} was migrated by a newer release of the service "
            f"({revisions} {', '.join(self.unknown)}, which this release does not know; it "
            f"knows up to {', '.join(self.heads)}): run this release's processes only against "
            "a store it migrated, so upgrade this process to the release that migrated the "
            "store (starting an older release never migrates a store down)"
        )


# where Alembic keeps the revisions a store is at
VERSION_TABLE = "alembic_version"


def _store_revisions(engine: Engine) -> set[str]:
    """The revisions the store is at (none for a new store): one small read of its version
    table, as it is, not through Alembic's context, which logs its set-up."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return set()
        return set(connection.scalars(text(f"select version_num from {VERSION_TABLE}")))


def _refuse_a_store_from_a_newer_release(
    engine: Engine, script: ScriptDirectory, current: set[str]
) -> None:
    """Raise `StoreFromNewerReleaseError`, leaving the store as it is, if it holds a revision
    (of `current`) that `script` does not know."""
    unknown = current - {revision.revision for revision in script.walk_revisions()}
    if unknown:
        store = engine.url.render_as_string(hide_password=True)
        raise StoreFromNewerReleaseError(store, unknown, script.get_heads())


# the advisory lock's key on PostgreSQL: any constant the service's other locks do not use
MIGRATION_LOCK = 0x6F776E6D  # "ownm"


@contextmanager
def _migrating_alone(engine: Engine) -> Iterator[None]:
    """Hold the store's migration lock: PostgreSQL's advisory lock, or a lock file beside the
    SQLite file (an in-memory database is one process's own)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("select pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            try:
                yield
            finally:
                connection.execute(text("select pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                connection.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    try:
        lock = open(f"{database}.migrating", "a")  # noqa: SIM115 - held across the yield
    except OSError:  # no folder to write in: SQLite says so itself, in its own error
        yield
        return
    with lock:  # kept on disk: a lock file needs no content
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class StoreLockHeldError(Exception):
    """Another process holds the store-wide lock."""


# the advisory lock of the process that runs the channel simulators on the store
SIMULATORS_LOCK = 0x6F776E73  # "owns"
NIGHTLY_LOCK = 0x6F776E6E  # "ownn"


@contextmanager
def held_alone_on_store(
    url: str, key: int, name: str, on_lost: Callable[[str], None] = warn_lost
) -> Iterator[None]:
    """Hold a store-wide lock while the block runs, or raise `StoreLockHeldError` at once:
    PostgreSQL's session advisory lock `key`, held on a connection of its own, or a lock file
    `<database>.<name>` beside the SQLite file (an in-memory database is one process's own).

    PostgreSQL's lock goes with its connection: a thread checks it every few seconds and
    takes it again on a new connection when that one was lost, or else calls `on_lost` (from
    that thread) with a sentence saying so, while the block runs on: a holder that must not
    run without the lock stops when told (store.lock_watch). A lock file cannot be lost."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        engine = create_engine(parsed, poolclass=NullPool, connect_args=LOCK_CONNECTION_TIMEOUTS)
        try:
            connection = engine.connect()
            try:
                taken = connection.execute(text("select pg_try_advisory_lock(:key)"), {"key": key})
                if not taken.scalar():
                    raise StoreLockHeldError(name)
                connection.commit()
            except BaseException:
                connection.close()
                raise
            watch = AdvisoryLockWatch(engine, connection, key, name, on_lost)
            watch.start()
            try:
                yield
            finally:
                holding = watch.stop()  # None: lost, and its connection took it along
                if holding is not None:
                    with suppress(DBAPIError):
                        holding.execute(text("select pg_advisory_unlock(:key)"), {"key": key})
                        holding.commit()
                    with suppress(DBAPIError):
                        holding.close()
        finally:
            engine.dispose()
        return
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        yield
        return
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    with open(f"{database}.{name}", "a") as lock:  # kept on disk: a lock file needs no content
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise StoreLockHeldError(name) from error
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
