"""Reading one kind's files (DESIGN §3) as a relation with its contract's columns.

Parquet files are grouped by schema, and each schema is checked once. CSV files are read as
RFC 4180 text with the header read here, and files of one layout are read together; a line
the reader cannot read is kept aside by DuckDB (store_rejects) for `ingest` to reject.
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from duckdb.sqltypes import BIGINT, VARCHAR, DuckDBPyType

from pipelines.contracts import ACCEPTED_TYPES, Contract


class InputError(Exception):
    """The history cannot be read as a whole; the message says what to fix."""


@dataclass(frozen=True)
class KindFiles:
    kind: str
    format: str
    files: tuple[Path, ...]


@dataclass(frozen=True)
class KindInput:
    """A kind's files read as one relation: the contract's columns, then where each row was
    read (`SOURCE_FILE`, `SOURCE_ROW`)."""

    relation: duckdb.DuckDBPyRelation
    # the files' columns the contract does not name, which are not read
    ignored: list[str]
    # rows numbered in the order the scan returns them, across the files (the reader numbers
    # none): each file's count starts where the one before ended
    numbered_by_scan: bool


# Where DuckDB's CSV reader keeps the lines it cannot read (read_csv's store_rejects).
UNREADABLE_LINES = "csv_line_errors"
UNREADABLE_SCANS = "csv_line_scans"

# Where each row was read: the file, as the run named it, and the row's place in it. Only the
# rejects file shows them: the checked tables leave them out, and DuckDB then reads neither.
SOURCE_FILE = "source_file"
SOURCE_ROW = "source_row"


def read_parquet_files(
    con: duckdb.DuckDBPyConnection, files: KindFiles, contract: Contract
) -> KindInput:
    """The kind's Parquet files as one relation, each distinct schema checked once."""
    ignored: list[str] = []
    by_schema: dict[tuple[tuple[str, str], ...], list[Path]] = {}
    for path in files.files:
        try:
            schema = pq.read_schema(path)
        except (OSError, pa.ArrowException) as error:
            raise InputError(f"{_where(files, path)}: cannot read {path}: {error}") from error
        key = tuple((field.name.lower(), str(field.type)) for field in schema)
        by_schema.setdefault(key, []).append(path)
    for paths in by_schema.values():  # in DuckDB's types, which the contracts name
        try:
            types = _types_by_name(con.read_parquet(str(paths[0])))
        except duckdb.Error as error:
            raise InputError(
                f"{_where(files, paths[0])}: cannot read {paths[0]}: {one_line(error)}"
            ) from error
        ignored += _check_columns(_where(files, paths[0], len(paths)), types, contract)
    # files that differ in their columns' order or types (NULL in one, a string in another)
    # are matched by name, at a cost
    held = {name for key in by_schema for name, _ in key}
    # the reader's column of the file's name, named apart from every column the files hold
    file_column = SOURCE_FILE
    while file_column in held:
        file_column = f"_{file_column}"
    # the file's own row number, from 0, unless a file holds a column of that name, which
    # hides it: then the rows are numbered as they are read, as CSV rows are
    by_scan = "file_row_number" in held
    relation = con.sql(
        "select * from read_parquet($files, filename = $file_column, "
        "file_row_number = $file_row_number, union_by_name = $union)",
        params={
            "files": [str(path) for path in files.files],
            "file_column": file_column,
            "file_row_number": not by_scan,
            "union": len(by_schema) > 1,
        },
    )
    row = ROW_BY_SCAN if by_scan else duckdb.SQLExpression("file_row_number + 1")
    located = _contract_columns(relation, contract, duckdb.ColumnExpression(file_column), row)
    return KindInput(located, _once(ignored), by_scan)


def read_csv_files(
    con: duckdb.DuckDBPyConnection, files: KindFiles, contract: Contract
) -> KindInput:
    """The kind's CSV files as one relation, read as RFC 4180 text, files of one layout together.

    The header is read here rather than guessed by DuckDB's sniffer, which one stray quote in
    a file's first lines can mislead about the whole file. A layout is the number of columns
    and where the contract's columns stand: files that differ only in other columns share one.
    """
    ignored: list[str] = []
    by_layout: dict[tuple[int, tuple[int, ...]], list[Path]] = {}
    for path in files.files:
        header = _csv_header(path)
        if header is None:  # no text at all: an exporter's shard of an empty partition
            continue
        ignored += _check_columns(_where(files, path), dict.fromkeys(header, VARCHAR), contract)
        places = tuple(header.index(name) for name in contract.column_names)
        by_layout.setdefault((len(header), places), []).append(path)
    if len(by_layout) > MAX_CSV_LAYOUTS:
        raise InputError(
            f"kind {files.kind!r}: its files order their columns in {len(by_layout)} ways; "
            f"more than {MAX_CSV_LAYOUTS} cannot be read together, so rewrite them alike"
        )
    if not by_layout:
        return KindInput(_no_rows(con, contract), [], numbered_by_scan=True)
    relations = [
        _contract_columns(
            con.read_csv(
                [str(path) for path in paths],
                header=True,
                auto_detect=False,
                columns=_layout_columns(width, places, contract),
                delimiter=",",
                quotechar='"',
                escapechar='"',
                store_rejects=True,
                rejects_table=UNREADABLE_LINES,
                rejects_scan=UNREADABLE_SCANS,
            ),
            contract,
            # the reader names the columns (`_layout_columns`): none is called filename
            duckdb.ColumnExpression("filename"),
            ROW_BY_SCAN,
        )
        for (width, places), paths in by_layout.items()
    ]
    # one relation per layout, usually one; paired off rather than chained, to stay well
    # within DuckDB's expression depth
    while len(relations) > 1:
        pairs = zip(relations[::2], relations[1::2], strict=False)
        unpaired = relations[len(relations) // 2 * 2 :]
        relations = [left.union(right) for left, right in pairs] + unpaired
    return KindInput(relations[0], _once(ignored), numbered_by_scan=True)


def mixed_line_ending(path: Path) -> tuple[int, str] | None:
    """The first line of a CSV file that ends with LF where the first line ends with CRLF, or
    the other way round, and its ending; None when they agree. DuckDB's reader takes one line
    ending a file, so a line appended by another tool stops it without naming the line."""
    style = None
    try:
        with open_csv_bytes(path) as file:
            for number, line in enumerate(file, start=1):
                if not line.endswith(b"\n"):
                    break  # the last line, without an ending
                ending = "CRLF" if line.endswith(b"\r\n") else "LF"
                if style is None:
                    style = ending
                elif ending != style:
                    return number, f"{ending}, while the lines before it end with {style}"
    except (OSError, EOFError):  # EOFError: a gzip file cut short
        return None
    return None


def open_csv_bytes(path: Path) -> io.BufferedReader | gzip.GzipFile:
    """A CSV file's bytes, uncompressed if it is gzip (`*.csv.gz`), as DuckDB reads it."""
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")
    return path.open("rb")


def _open_csv_text(path: Path) -> IO[str]:
    """A CSV file's text, decoded as the reader does, without a byte order mark."""
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace", newline="")
    return path.open(encoding="utf-8-sig", errors="replace", newline="")


# Layouts of one kind's CSV files read together; each costs DuckDB expression depth.
MAX_CSV_LAYOUTS = 100


def _layout_columns(width: int, places: tuple[int, ...], contract: Contract) -> dict[str, str]:
    """Every column of a layout as text, named by the contract where it has one."""
    named = dict(zip(places, contract.column_names, strict=True))
    return {named.get(index, f"column_{index}"): "VARCHAR" for index in range(width)}


def _csv_header(path: Path) -> tuple[str, ...] | None:
    """The column names of a CSV file's first line, lower-case; None for a file that holds no
    text (no byte, a byte order mark only, line breaks only), which has no rows either."""
    try:
        with _open_csv_text(path) as file:
            records = csv.reader(file)
            first = next(records, None)
            if first == [] and not any(records):  # blank lines only
                return None
    except (OSError, EOFError, csv.Error) as error:
        raise InputError(f"cannot read the header of {path}: {error}") from error
    if first is None:
        return None
    if any("\x00" in name for name in first):  # UTF-16 or UTF-32 text, or no text at all
        raise InputError(
            f"{path}: its header holds NUL bytes: CSV files are read as UTF-8 text, and this one "
            "is in another encoding (UTF-16, say) or is no text file"
        )
    # a column without a name (a written index, a trailing comma) gets one; no contract uses it
    names = tuple(name.strip().lower() or f"unnamed_{index}" for index, name in enumerate(first))
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise InputError(f"{path}: the header names {', '.join(twice)} more than once")
    return names


def _no_rows(con: duckdb.DuckDBPyConnection, contract: Contract) -> duckdb.DuckDBPyRelation:
    """A kind's input of no rows, as its CSV files are read: the contract's columns as text,
    then where a row was read."""
    nothing = con.sql("select 1 as no_row where false")
    text = duckdb.ConstantExpression(None).cast(VARCHAR)
    return nothing.select(
        *(text.alias(name) for name in contract.column_names),
        text.alias(SOURCE_FILE),
        duckdb.ConstantExpression(None).cast(BIGINT).alias(SOURCE_ROW),
    )


def _where(files: KindFiles, path: Path, alike: int = 1) -> str:
    """Which kind and file a message is about; `alike` files share what it says."""
    if len(files.files) == 1:
        return f"kind {files.kind!r}"
    more = f" (and {alike - 1} more alike)" if alike > 1 else ""
    return f"kind {files.kind!r}, file {path.name}{more}"


def _once(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _check_columns(where: str, types: dict[str, DuckDBPyType], contract: Contract) -> list[str]:
    """Raise an `InputError` unless `types` has every contract column in an accepted type;
    the other columns' names, which are not read."""
    missing = [name for name in contract.column_names if name not in types]
    if missing:
        raise InputError(
            f"{where}: missing column(s) {', '.join(missing)}; "
            f"the file has {', '.join(types) or 'no columns'}"
        )
    for column in contract.columns:
        accepted = ACCEPTED_TYPES.get(column.type, ("VARCHAR",))
        found = types[column.name]
        if str(found) not in accepted and not _all_null(found):
            raise InputError(
                f"{where}: column {column.name} has type {found}, "
                f"expected {column.type} ({' or '.join(accepted)})"
            )
    return [name for name in types if name not in contract.column_names]


def _types_by_name(relation: duckdb.DuckDBPyRelation) -> dict[str, DuckDBPyType]:
    """Column types by lower-case name: names match in any case (`PHONE` is `phone`), as in SQL."""
    named = zip(relation.columns, relation.types, strict=True)
    return {name.lower(): type_ for name, type_ in named}


def _all_null(type_: DuckDBPyType) -> bool:
    """The type a writer gives a column that holds only nulls (from pandas' None, say)."""
    return bool(type_.id == "null")


# A row's place among those the scan returns, file after file, as WITH ORDINALITY numbers
# them (a streaming window over the scan); `ingest.write_rejects` counts each file's from its
# first.
ROW_BY_SCAN = duckdb.SQLExpression("row_number() over ()")


def _contract_columns(
    relation: duckdb.DuckDBPyRelation,
    contract: Contract,
    file: duckdb.Expression,
    row: duckdb.Expression,
) -> duckdb.DuckDBPyRelation:
    """The contract's columns in its order, by name, then where each row was read (`file`,
    `row`: expressions over the reader's output), and nothing else, so that a column of the
    files named as these is not read; a column of nulls only is read as text. Unused, the
    location is pruned away."""
    types = _types_by_name(relation)
    columns = []
    for name in contract.column_names:
        column = duckdb.ColumnExpression(name)
        if _all_null(types[name]):
            column = column.cast(duckdb.sqltype("VARCHAR"))
        columns.append(column.alias(name))
    return relation.select(*columns, file.alias(SOURCE_FILE), row.alias(SOURCE_ROW))


def one_line(error: duckdb.Error) -> str:
    """DuckDB's message in one line: its first, and the one naming the file, if another does.
    (Spark's go through `spark_engine.failure_line`.)"""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    naming = [line for line in lines[1:] if ".csv" in line or ".parquet" in line]
    return " ".join(lines[:1] + naming[:1])
