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

from ownership.numbers import InvalidNumberError, parse_number
from pipelines.contracts import ACCEPTED_TYPES, INPUT_KINDS, Contract, allowed_values
from pipelines.sqlfiles import check_sql, macros_sql

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


def register_raw(con: duckdb.DuckDBPyConnection, files: KindFiles, contract: Contract) -> None:
    """Expose the kind's files as the view `raw_<kind>` with the contract's columns."""
    paths = [str(path) for path in files.files]
    try:
        if files.format == "parquet":
            relation = con.read_parquet(paths)
        else:
            relation = con.read_csv(paths, header=True, all_varchar=True)
        types = dict(zip(relation.columns, (str(t) for t in relation.types), strict=True))
    except duckdb.Error as error:
        first_line = str(error).splitlines()[0]
        raise InputError(f"kind {files.kind!r}: cannot read its files: {first_line}") from error
    missing = [name for name in contract.column_names if name not in types]
    if missing:
        raise InputError(
            f"kind {files.kind!r}: missing column(s) {', '.join(missing)}; "
            f"the files have {', '.join(types) or 'no columns'}"
        )
    for column in contract.columns:
        accepted = ACCEPTED_TYPES.get(column.type, ("VARCHAR",))
        if types[column.name] not in accepted:
            raise InputError(
                f"kind {files.kind!r}: column {column.name} has type {types[column.name]}, "
                f"expected {column.type} ({' or '.join(accepted)})"
            )
    relation.select(*contract.column_names).create_view(f"raw_{files.kind}", replace=True)


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
    """Materialise `checked_<kind>`: every row, typed, with its reject reason."""
    _checked(con, kind).create(f"checked_{kind}")


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
    """Count a checked kind's rows, rejects (by reason) and rows left for a later run."""
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
    return KindCounts(kind, int(rows), int(rejected), int(late), reasons)


def write_rejects(con: duckdb.DuckDBPyConnection, kind: str, rejects_dir: Path) -> Path:
    """The kind's rejected rows with their reasons and raw texts, checked again from the input."""
    rejects_dir.mkdir(parents=True, exist_ok=True)
    target = rejects_dir / f"{kind}.parquet"
    con.sql(check_sql(kind)).filter("reject_reason is not null").write_parquet(str(target))
    return target
