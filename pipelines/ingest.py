"""Reading and checking a history folder (DESIGN §3) into DuckDB tables `checked_<kind>`.

Whole-input problems (a missing folder, kind or column, a wrong column type, unreadable files)
stop the run with an `InputError` that says what to fix. Row problems reject the row: it goes to
`OUT/rejects/<kind>.parquet` with its reason and is counted; nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from duckdb.sqltypes import DuckDBPyType

from ownership.numbers import InvalidNumberError, parse_number
from pipelines.contracts import ACCEPTED_TYPES, INPUT_KINDS, Contract, allowed_values
from pipelines.sqlfiles import check_sql, macros_sql, unreadable_lines_sql

FORMATS = ("parquet", "csv")


class InputError(Exception):
    """The history cannot be read as a whole; the message says what to fix."""


@dataclass(frozen=True)
class KindFiles:
    kind: str
    format: str
    files: tuple[Path, ...]


@dataclass(frozen=True)
class KindCounts:
    kind: str
    rows: int
    rejected: int
    after_as_of: int
    reject_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def accepted(self) -> int:
        return self.rows - self.rejected - self.after_as_of


def discover(events_dir: Path, kinds: Iterable[str] = INPUT_KINDS) -> dict[str, KindFiles]:
    """The files of every kind, or an `InputError` naming the first thing missing."""
    if not events_dir.is_dir():
        raise InputError(f"events folder {events_dir} does not exist")
    if not any(events_dir.iterdir()):
        raise InputError(
            f"events folder {events_dir} is empty: expected one folder per kind "
            f"({', '.join(INPUT_KINDS)})"
        )
    found: dict[str, KindFiles] = {}
    for kind in kinds:
        folder = events_dir / kind
        if not folder.is_dir():
            raise InputError(f"missing kind {kind!r}: no folder {folder}")
        by_format = {fmt: tuple(sorted(folder.glob(f"*.{fmt}"))) for fmt in FORMATS}
        present = [fmt for fmt, files in by_format.items() if files]
        if not present:
            raise InputError(f"kind {kind!r}: {folder} has no *.parquet or *.csv files")
        if len(present) > 1:
            raise InputError(
                f"kind {kind!r}: {folder} mixes Parquet and CSV files; all files of a kind "
                "share one schema, so keep one format"
            )
        found[kind] = KindFiles(kind, present[0], by_format[present[0]])
    return found


def prepare(con: duckdb.DuckDBPyConnection, contracts: list[Contract]) -> None:
    """Create the macros and the allowed-values table the check models use."""
    con.execute(macros_sql())
    con.execute(
        "create or replace table allowed_values (kind varchar, name varchar, value varchar)"
    )
    con.executemany("insert into allowed_values values (?, ?, ?)", allowed_values(contracts))
    con.execute(
        "create or replace table phone_fixes (phone_text varchar primary key, phone bigint)"
    )
    con.execute("create or replace table input_files (kind varchar, path varchar)")
    con.execute(
        "create or replace table unreadable_lines "
        "(kind varchar, file varchar, line bigint, reject_reason varchar, line_text varchar)"
    )


def register_raw(con: duckdb.DuckDBPyConnection, files: KindFiles, contract: Contract) -> None:
    """Expose the kind's files as the view `raw_<kind>` with the contract's columns.

    Each file is checked on its own, and its columns are taken by name, so files of one kind may
    order their columns differently. A CSV line the reader cannot split into the header's
    columns (or decode as UTF-8) is not an error of the whole input: DuckDB keeps it aside, and
    `collect_unreadable_lines` turns it into a rejected row.
    """
    relations = [_read_checked_file(con, files, path, contract) for path in files.files]
    if files.format == "parquet":
        # one reader for all files, as they all passed. Files that differ in their columns'
        # order or types (NULL in one, a string in another) are matched by name, at a cost
        schemas = {tuple(zip(r.columns, map(str, r.types), strict=True)) for r in relations}
        paths = [str(path) for path in files.files]
        relations = [con.read_parquet(paths, union_by_name=len(schemas) > 1)]
    selected = [_contract_columns(relation, contract) for relation in relations]
    combined = selected[0]
    for relation in selected[1:]:
        combined = combined.union(relation)
    combined.create_view(f"raw_{files.kind}", replace=True)
    con.executemany(
        "insert into input_files values (?, ?)", [(files.kind, str(path)) for path in files.files]
    )


def _read_checked_file(
    con: duckdb.DuckDBPyConnection, files: KindFiles, path: Path, contract: Contract
) -> duckdb.DuckDBPyRelation:
    """One file of a kind, read lazily, or an `InputError` saying what is wrong with it."""
    where = f"kind {files.kind!r}" + (f", file {path.name}" if len(files.files) > 1 else "")
    try:
        if files.format == "parquet":
            relation = con.read_parquet(str(path))
        else:
            relation = con.read_csv(
                str(path),
                header=True,
                all_varchar=True,
                store_rejects=True,
                rejects_table=UNREADABLE_LINES,
                rejects_scan=UNREADABLE_SCANS,
            )
        types = _types_by_name(relation)
    except duckdb.Error as error:
        raise InputError(f"{where}: cannot read {path}: {_first_line(error)}") from error
    missing = [name for name in contract.column_names if name not in types]
    if missing:
        raise InputError(
            f"{where}: missing column(s) {', '.join(missing)}; "
            f"the file has {', '.join(relation.columns) or 'no columns'}"
        )
    for column in contract.columns:
        accepted = ACCEPTED_TYPES.get(column.type, ("VARCHAR",))
        found = types[column.name]
        if str(found) not in accepted and not _all_null(found):
            raise InputError(
                f"{where}: column {column.name} has type {found}, "
                f"expected {column.type} ({' or '.join(accepted)})"
            )
    return relation


def _types_by_name(relation: duckdb.DuckDBPyRelation) -> dict[str, DuckDBPyType]:
    """Column types by lower-case name: names match in any case (`PHONE` is `phone`), as in SQL."""
    named = zip(relation.columns, relation.types, strict=True)
    return {name.lower(): type_ for name, type_ in named}


def _all_null(type_: DuckDBPyType) -> bool:
    """The type a writer gives a column that holds only nulls (from pandas' None, say)."""
    return bool(type_.id == "null")


def _contract_columns(
    relation: duckdb.DuckDBPyRelation, contract: Contract
) -> duckdb.DuckDBPyRelation:
    """The contract's columns in its order, by name; a column of nulls only is read as text."""
    types = _types_by_name(relation)
    columns = []
    for name in contract.column_names:
        column = duckdb.ColumnExpression(name)
        if _all_null(types[name]):
            column = column.cast(duckdb.sqltype("VARCHAR"))
        columns.append(column.alias(name))
    return relation.select(*columns)


def _first_line(error: duckdb.Error) -> str:
    return str(error).splitlines()[0]


# Where DuckDB's CSV reader keeps the lines it cannot read (read_csv's store_rejects).
UNREADABLE_LINES = "csv_line_errors"
UNREADABLE_SCANS = "csv_line_scans"

# The checked columns that hold times, as seconds since the epoch.
EPOCH_COLUMNS = frozenset({"ts", "last_seen_at"})

# The input rows whose phone text has been mended.
MENDED_ROWS = "phone_text in (select phone_text from phone_fixes)"
# Every row but those of a first pass whose phone was mended since: a second pass re-checked them.
CURRENT_ROWS = "not coalesce(unreadable_phone in (select phone_text from phone_fixes), false)"
# Columns named so hold the input's raw texts: only the rejects file shows them.
TEXT_SUFFIX = "_text"


def _checked(
    con: duckdb.DuckDBPyConnection, kind: str, rows: str | None = None
) -> duckdb.DuckDBPyRelation:
    """The kind's check model without the raw texts: what the models and the counts read.

    A rejected row's texts are read again, from the input, by `write_rejects`.
    """
    checked = con.sql(check_sql(kind))
    if rows:
        checked = checked.filter(rows)
    return checked.select(*(name for name in checked.columns if not name.endswith(TEXT_SUFFIX)))


def check_kind(con: duckdb.DuckDBPyConnection, kind: str) -> None:
    """Materialise `checked_<kind>`: every row, typed, with its reject reason.

    Files that cannot be read to the end (a damaged Parquet page, say) stop the run here.
    """
    try:
        _checked(con, kind).create(f"checked_{kind}")
    except (duckdb.IOException, duckdb.InvalidInputException) as error:
        raise InputError(f"kind {kind!r}: cannot read its files: {_first_line(error)}") from error


def collect_unreadable_lines(con: duckdb.DuckDBPyConnection) -> None:
    """Record the CSV lines the reader kept aside in `unreadable_lines`, once each.

    Run after every scan of the input (the checks and the phone mending): the reader lists a
    line again on each scan, and once per broken column.
    """
    kept = con.sql(
        "select count(*) from duckdb_tables() where table_name in (?, ?)",
        params=[UNREADABLE_LINES, UNREADABLE_SCANS],
    ).fetchall()[0][0]
    if kept == 2:  # the tables exist once a CSV file has been read
        con.execute("delete from unreadable_lines")
        con.sql(unreadable_lines_sql()).insert_into("unreadable_lines")


def mend_phones(con: duckdb.DuckDBPyConnection, kinds: Iterable[str]) -> int:
    """Mend the phone texts that are not strict E.164 with phonenumbers, once each.

    Strict E.164 texts are converted in SQL. Only the rest (spaces, dashes, brackets,
    garbage), which the first pass rejected, comes to Python, so a clean history never calls
    phonenumbers per row and is read once. A kind with mended texts is read and checked again,
    keeping only the rows with those texts; the first pass's rows of them are superseded.
    Returns how many distinct texts were mended.
    """
    messy: dict[str, set[str]] = {}
    for kind in kinds:
        unreadable = con.table(f"checked_{kind}").select("unreadable_phone").distinct()
        messy[kind] = {row[0] for row in unreadable.fetchall() if row[0] is not None}
    texts = set().union(*messy.values())
    fixes: list[tuple[str, int]] = []
    for text in sorted(texts):
        try:
            fixes.append((text, parse_number(text).key))
        except InvalidNumberError:
            continue
    if fixes:
        con.executemany("insert into phone_fixes values (?, ?)", fixes)
        mended = {text for text, _ in fixes}
        for kind, kind_texts in messy.items():
            if kind_texts & mended:
                _checked(con, kind, MENDED_ROWS).insert_into(f"checked_{kind}")
    return len(fixes)


def count_kind(con: duckdb.DuckDBPyConnection, kind: str) -> KindCounts:
    """Count a kind's rows, rejects (by reason) and rows left for a later run.

    Unreadable CSV lines count as rows, rejected: `collect_unreadable_lines` runs first.
    """
    table = con.table(f"checked_{kind}").filter(CURRENT_ROWS)
    rows, rejected, late = table.aggregate(
        "count(*), count(reject_reason), "
        "count(case when after_as_of and reject_reason is null then 1 end)"
    ).fetchall()[0]
    reasons = dict(
        table.filter("reject_reason is not null")
        .aggregate("reject_reason, count(*)", "reject_reason")
        .fetchall()
    )
    lines = _unreadable_lines(con, kind)
    unreadable = dict(lines.aggregate("reject_reason, count(*)", "reject_reason").fetchall())
    reasons.update(unreadable)  # their reasons name the reader's error, unlike any check's
    unread = sum(unreadable.values())
    return KindCounts(kind, int(rows) + unread, int(rejected) + unread, int(late), reasons)


def _unreadable_lines(con: duckdb.DuckDBPyConnection, kind: str) -> duckdb.DuckDBPyRelation:
    return con.table("unreadable_lines").filter(duckdb.ColumnExpression("kind") == kind)


def write_rejects(con: duckdb.DuckDBPyConnection, kind: str, rejects_dir: Path) -> Path:
    """The kind's rejected rows with their reasons and raw texts, checked again from the input."""
    rejects_dir.mkdir(parents=True, exist_ok=True)
    target = rejects_dir / f"{kind}.parquet"
    checked = con.sql(check_sql(kind)).filter("reject_reason is not null")
    # times as times, not the epoch seconds the models count in
    rejected = checked.select(
        *(
            duckdb.FunctionExpression("to_utc_time", duckdb.ColumnExpression(name)).alias(name)
            if name in EPOCH_COLUMNS
            else duckdb.ColumnExpression(name)
            for name in checked.columns
        )
    )
    unreadable = _unreadable_lines(con, kind).select("file", "line", "reject_reason", "line_text")
    if unreadable.aggregate("count(*)").fetchall()[0][0]:
        # the rows the checks rejected, then the lines the reader could not read; each has
        # the other's columns empty
        rejected = con.sql("select * from rejected union all by name select * from unreadable")
    rejected.write_parquet(str(target))
    return target
