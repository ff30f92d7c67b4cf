"""Running the SQL models on DuckDB, one machine, out of core past the memory limit."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb

from pipelines.sqlfiles import (
    MODEL_ORDER,
    VIEW_MODELS,
    audit_names,
    audit_sql,
    model_sql,
    run_params_sql,
)

# Where a container's memory limit is read (cgroup v2, then v1); v1 writes a huge number for none.
CGROUP_MEMORY_LIMITS = (
    Path("/sys/fs/cgroup/memory.max"),
    Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
)


def machine_memory_bytes(cgroup_limits: tuple[Path, ...] = CGROUP_MEMORY_LIMITS) -> int:
    """The memory this process may use: the machine's, or its container's limit if lower."""
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    for path in cgroup_limits:
        with suppress(OSError, ValueError):
            memory = min(memory, int(path.read_text().strip()))
    return memory


def connect(
    memory_limit: str | None = None, threads: int | None = None, temp_dir: Path | None = None
) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    # progress goes to our own display, not DuckDB's. Inside Jupyter without ipywidgets DuckDB
    # refuses to touch the setting at all, and draws no bar there anyway.
    with suppress(duckdb.InvalidInputException):
        con.execute("set enable_progress_bar = false")
    if memory_limit:
        con.execute("set memory_limit = ?", [memory_limit])
    if threads:
        con.execute("set threads = ?", [threads])
    if temp_dir:
        temp_dir.mkdir(parents=True, exist_ok=True)
        con.execute("set temp_directory = ?", [str(temp_dir)])
    # order of rows inside a table does not matter to the models; dropping it saves memory
    con.execute("set preserve_insertion_order = false")
    return con


def create_run_params(con: duckdb.DuckDBPyConnection, row: dict[str, int]) -> None:
    con.execute(run_params_sql(), row)


def run_models(
    con: duckdb.DuckDBPyConnection, on_model: Callable[[str], None] | None = None
) -> None:
    """Create every model in dependency order: staging as views, the rest as tables.

    The last model, the classification, is stored in phone order, the order both outputs
    are published in, so that it is materialised once and sorted on the way.
    """
    for name in MODEL_ORDER:
        relation = con.sql(model_sql(name))
        if name in VIEW_MODELS:
            relation.create_view(name, replace=True)
        elif name == MODEL_ORDER[-1]:
            create_in_phone_order(con, relation, name)
        else:
            relation.create(name)
        if on_model:
            on_model(name)


@contextmanager
def insertion_order_kept(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Inside, what is stored or written keeps the order of what it reads."""
    con.execute("set preserve_insertion_order = true")
    try:
        yield
    finally:
        con.execute("set preserve_insertion_order = false")


def create_in_phone_order(
    con: duckdb.DuckDBPyConnection, relation: duckdb.DuckDBPyRelation, name: str
) -> None:
    """Store `relation` as table `name`, sorted by phone; a scan of it keeps that order."""
    with insertion_order_kept(con):
        relation.order("phone").create(name)


class AuditFailedError(Exception):
    """A model produced rows its audits forbid; nothing is published."""


def run_audits(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Run every audit; raise naming those that found rows, else return the counts (all 0)."""
    found = {
        name: int(con.sql(audit_sql(name)).aggregate("count(*)").fetchall()[0][0])
        for name in audit_names()
    }
    failed = {name: count for name, count in found.items() if count}
    if failed:
        listed = ", ".join(f"{name} ({count:,} rows)" for name, count in failed.items())
        raise AuditFailedError(f"the classification failed its audits: {listed}")
    return found
