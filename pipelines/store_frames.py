"""The notify path's tables as Polars frames, read from the store (SQLite or PostgreSQL) with
SQLAlchemy, for the analytics queries to run over in DuckDB.

DuckDB could attach either database itself, but its `sqlite` and `postgres` extensions are not
bundled with the Python package and would be downloaded at run time; reading the few columns the
queries need through the store's own engine works offline on both. Times come out naive UTC, as
the scores' do; prices stay exact decimals.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import orjson
import polars as pl
from sqlalchemy import Engine, Table, inspect, make_url, select
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from delivery import records
from store.database import make_engine, missing_sqlite_file

PRICE = pl.Decimal(12, 4)
# the columns each query reads, with their types; the names are the store's
NOTIFICATIONS: Mapping[str, pl.DataType] = {
    "id": pl.String(),
    "client_key": pl.String(),
    "phone": pl.String(),
    "country": pl.String(),
    "decision": pl.String(),
    "policy_case": pl.String(),
    "number_status": pl.String(),
    "sensitive": pl.Boolean(),
    "mobile_only": pl.Boolean(),
    "fallback": pl.String(),
    "status": pl.String(),
    "channel": pl.String(),
    "created_at": pl.Datetime("us"),
    "expires_at": pl.Datetime("us"),
}
NOTIFICATION_EVENTS: Mapping[str, pl.DataType] = {
    "id": pl.Int64(),
    "notification_id": pl.String(),
    "status": pl.String(),
    "at": pl.Datetime("us"),
    "detail": pl.String(),  # JSON text
}
BILLING_LEDGER: Mapping[str, pl.DataType] = {
    "notification_id": pl.String(),
    "client_key": pl.String(),
    "channel": pl.String(),
    "country": pl.String(),
    "price": PRICE,
    "currency": pl.String(),
    "delivered_at": pl.Datetime("us"),
    "month": pl.String(),
}
TABLES: Mapping[str, tuple[Table, Mapping[str, pl.DataType]]] = {
    "notifications": (records.notifications, NOTIFICATIONS),
    "notification_events": (records.events, NOTIFICATION_EVENTS),
    "billing_ledger": (records.ledger, BILLING_LEDGER),
}


class StoreReadError(ValueError):
    """The store cannot be read as a notification store; the message says why."""


def read_tables(store_url: str, names: tuple[str, ...]) -> dict[str, pl.DataFrame]:
    """The named tables of the store at `store_url` (a SQLAlchemy URL), one frame each."""
    unknown = [name for name in names if name not in TABLES]
    if unknown:
        raise StoreReadError(f"no such notification table: {', '.join(unknown)}")
    try:
        url = make_url(store_url)
    except ArgumentError as error:
        raise StoreReadError(f"{store_url!r} is no store URL: {error}") from None
    missing = missing_sqlite_file(store_url)
    if missing is not None:
        raise StoreReadError(f"{missing}: no such store file")
    shown = url.render_as_string(hide_password=True)
    try:
        engine = make_engine(store_url)
    except NoSuchModuleError:
        raise StoreReadError(f"{shown}: no database of that kind can be read") from None
    except ImportError as error:  # a kind SQLAlchemy knows, whose driver is not installed
        raise StoreReadError(f"{shown} needs a driver not installed here ({error})") from None
    try:
        return _read(engine, names)
    except DBAPIError as error:  # the driver's first line: its SQL and parameters follow
        lines = str(error.orig).strip().splitlines()
        reason = lines[0] if lines else type(error.orig).__name__
        raise StoreReadError(f"cannot read the store at {shown}: {reason}") from None
    finally:
        engine.dispose()


def _read(engine: Engine, names: tuple[str, ...]) -> dict[str, pl.DataFrame]:
    present = set(inspect(engine).get_table_names())
    missing = [name for name in names if name not in present]
    if missing:
        raise StoreReadError(
            f"the store has no {', '.join(missing)} table: migrate it first "
            "(`ownership clients list` does, with OWNERSHIP_DATABASE_URL set to this store)"
        )
    with engine.connect() as connection:
        frames = {}
        for name in names:
            table, schema = TABLES[name]
            rows = connection.execute(select(*(table.c[column] for column in schema))).all()
            frames[name] = pl.DataFrame(
                [tuple(_frame_value(value) for value in row) for row in rows],
                schema=dict(schema),
                orient="row",
            )
        return frames


def _frame_value(value: object) -> object:
    """Times naive UTC, JSON documents as their text."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return value
