"""Reading and checking a history folder (DESIGN §3) into DuckDB tables `checked_<kind>`.

Whole-input problems (a missing folder, kind or column, a wrong column type, unreadable files)
stop the run with an `InputError` that says what to fix. Row problems reject the row: it goes to
`OUT/rejects/<kind>.parquet` with its reason and is counted; nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ownership.numbers import InvalidNumberError, parse_number
from pipelines.contracts import INPUT_KINDS, Contract, allowed_values
from pipelines.duckdb_engine import insertion_order_kept
from pipelines.input_files import (
    SOURCE_FILE,
    SOURCE_ROW,
    UNREADABLE_LINES,
    UNREADABLE_SCANS,
    InputError,
    KindFiles,
    mixed_line_ending,
    one_line,
    read_csv_files,
    read_parquet_files,
)
from pipelines.lines_as_written import take_texts_as_written
from pipelines.number_ranges import RANGES_FILE
from pipelines.paths import input_format, is_data_name, stray_input_files
from pipelines.sqlfiles import (
    check_sql,
    macros_sql,
    number_check_sql,
    rejects_sql,
    unreadable_lines_sql,
)

FORMATS = ("parquet", "csv")
# Files of a kind named in an error, before "and N more".
NAMED_FILES = 5
# DuckDB reads a file name as a pattern: these would match other files, or none
GLOB_CHARACTERS = frozenset("*?[]{}")


@dataclass(frozen=True)
class KindCounts:
    kind: str
    rows: int
    rejected: int
    after_as_of: int
    reject_reasons: dict[str, int] = field(default_factory=dict)
    # the time of the kind's first row the run scores (epoch seconds); None: none, or no times
    first_at: int | None = None

    @property
    def accepted(self) -> int:
        return self.rows - self.rejected - self.after_as_of


# The kinds that follow every number as it goes, its codes entered and its SMS reported: the
# history covers the time from the first of their rows. A registration may be years older (an
# account made long before any log began) and says nothing of who held the number in between.
COVERAGE_KINDS = ("code_entries", "sms_deliveries")


def logs_start(counts: Mapping[str, KindCounts]) -> int | None:
    """The time the history's coverage starts: the first row the run scores of the kinds that
    follow every number (epoch seconds); None if neither has one."""
    firsts = [counts[kind].first_at for kind in COVERAGE_KINDS if kind in counts]
    known = [first for first in firsts if first is not None]
    return min(known) if known else None


def discover(events_dir: Path, kinds: Iterable[str] = INPUT_KINDS) -> dict[str, KindFiles]:
    """The files of every kind, or an `InputError` naming the first thing missing."""
    if events_dir.exists() and not events_dir.is_dir():
        raise InputError(f"events folder {events_dir} is a file; give the history's folder")
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
        by_format, unread = _kind_folder(folder)
        if unread:
            # nothing is dropped silently (DESIGN §3): a partition folder or a file of another
            # format may hold the kind's rows
            shown = ", ".join(unread[:NAMED_FILES])
            more = f" and {len(unread) - NAMED_FILES} more" if len(unread) > NAMED_FILES else ""
            raise InputError(
                f"kind {kind!r}: {folder} holds {shown}{more}, which a run does not read: "
                "a kind's folder holds only *.parquet, *.csv or *.csv.gz files, no sub-folders; "
                "move the rows into such files, or anything else out"
            )
        present = [fmt for fmt, files in by_format.items() if files]
        if not present:
            raise InputError(f"kind {kind!r}: {folder} has no *.parquet or *.csv files")
        if len(present) > 1:
            raise InputError(
                f"kind {kind!r}: {folder} mixes Parquet and CSV files; all files of a kind "
                "share one schema, so keep one format"
            )
        patterned = [
            path.name for path in by_format[present[0]] if GLOB_CHARACTERS & set(path.name)
        ]
        if patterned:
            raise InputError(
                f"kind {kind!r}: file name {patterned[0]} holds a character readers take for a "
                f"pattern ({' '.join(sorted(GLOB_CHARACTERS))}); rename the file"
            )
        found[kind] = KindFiles(kind, present[0], by_format[present[0]])
    # after the kinds: a kind's own folder given as the history is told as such, above
    stray = stray_input_files(events_dir, INPUT_KINDS, NAMED_FILES)
    if stray:
        raise InputError(f"events folder {stray}")
    return found


def _kind_folder(folder: Path) -> tuple[dict[str, tuple[Path, ...]], list[str]]:
    """A kind folder's files by format, and the names of what else it holds.

    Hidden names and markers are not data (`pipelines.paths.is_data_name`).
    """
    by_format: dict[str, list[Path]] = {fmt: [] for fmt in FORMATS}
    unread: list[str] = []
    for path in sorted(folder.iterdir()):
        if not is_data_name(path):
            continue
        fmt = input_format(path) if path.is_file() else None
        if fmt is None:
            unread.append(f"{path.name}/" if path.is_dir() else path.name)
        else:
            by_format[fmt].append(path)
    return {fmt: tuple(files) for fmt, files in by_format.items()}, unread


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
    con.read_csv(
        str(RANGES_FILE), header=True, comment="#", delimiter=",", dtype=RANGE_COLUMNS
    ).create("number_ranges")
    con.execute("create or replace table kinds_numbered_by_scan (kind varchar)")
    con.execute(
        "create or replace table scan_rows_before (source_file varchar, rows_before bigint)"
    )
    con.execute(
        "create or replace table unreadable_lines (kind varchar, file varchar, line bigint, "
        "byte_offset bigint, reject_reason varchar, line_text varchar, quote_left_open boolean)"
    )


def register_raw(con: duckdb.DuckDBPyConnection, files: KindFiles, contract: Contract) -> list[str]:
    """Expose the kind's files as the view `raw_<kind>` with the contract's columns.

    Every file is checked for the contract's columns, taken by name in any case and order. A
    CSV line that cannot be split into the header's columns (or decoded as UTF-8) is not an
    error of the whole input: DuckDB keeps it aside, and `collect_unreadable_lines` turns it
    into a rejected row. Returns the names of the files' columns the contract does not name,
    which are not read.
    """
    read = (read_parquet_files if files.format == "parquet" else read_csv_files)(
        con, files, contract
    )
    read.relation.create_view(f"raw_{files.kind}", replace=True)
    if read.numbered_by_scan:
        con.execute("insert into kinds_numbered_by_scan values (?)", [files.kind])
    # one statement: executemany costs a statement a file, about a millisecond each
    con.execute(
        "insert into input_files select ?, unnest(?)",
        [files.kind, [str(path) for path in files.files]],
    )
    return read.ignored


# data/number_ranges.csv, made by pipelines.number_ranges
RANGE_COLUMNS = {"low": "bigint", "high": "bigint", "verdict": "varchar"}
# The reason of a row whose phone is garbage, or reads as a number no operator could issue.
INVALID_PHONE = "phone is not a valid number"
# The rows of the numbers `check_numbers` found invalid.
INVALID_NUMBER_ROWS = "phone in (select phone from invalid_numbers)"

# The checked columns that hold times, as seconds since the epoch.
EPOCH_COLUMNS = frozenset({"ts", "last_seen_at"})

# The input rows whose phone text has been mended.
MENDED_ROWS = "phone_text in (select phone_text from phone_fixes)"
# Every row but those of a first pass whose phone was mended since: a second pass re-checked them.
CURRENT_ROWS = "not coalesce(unreadable_phone in (select phone_text from phone_fixes), false)"
# Columns named so hold the input's raw texts: only the rejects file shows them.
TEXT_SUFFIX = "_text"
# Where a row was read: only the rejects file shows it, as `file` and `row`.
LOCATION_COLUMNS = (SOURCE_FILE, SOURCE_ROW)


def _checked(
    con: duckdb.DuckDBPyConnection, kind: str, rows: str | None = None
) -> duckdb.DuckDBPyRelation:
    """The kind's check model without the raw texts and locations: what the models and the
    counts read; left out, DuckDB does not read them.

    A rejected row's texts and location are read again, from the input, by `write_rejects`.
    """
    checked = con.sql(check_sql(kind))
    if rows:
        checked = checked.filter(rows)
    return checked.select(
        *(
            name
            for name in checked.columns
            if not name.endswith(TEXT_SUFFIX) and name not in LOCATION_COLUMNS
        )
    )


def check_kind(con: duckdb.DuckDBPyConnection, kind: str) -> None:
    """Materialise `checked_<kind>`: every row, typed, with its reject reason.

    Files that cannot be read to the end (a damaged Parquet page, say) stop the run here.
    """
    try:
        _checked(con, kind).create(f"checked_{kind}")
    except (duckdb.IOException, duckdb.InvalidInputException) as error:
        files = con.sql("select path from input_files where kind = ? order by path", params=[kind])
        for (path,) in files.fetchall():
            mixed = mixed_line_ending(Path(path)) if input_format(Path(path)) == "csv" else None
            if mixed:
                line, ending = mixed
                raise InputError(
                    f"kind {kind!r}, file {path}, line {line}: the line ends with {ending}; "
                    "a CSV file is read with one line ending throughout, so rewrite it with "
                    "one (dos2unix, or unix2dos)"
                ) from error
        raise InputError(f"kind {kind!r}: cannot read its files: {one_line(error)}") from error


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
        take_texts_as_written(con)
    # A quote left open swallowed the lines up to the next quote, or to the end: the rows in
    # them cannot be told apart, let alone counted, so the input must be mended.
    left_open = con.table("unreadable_lines").filter("quote_left_open")
    found = left_open.order("kind, file, line").limit(1).fetchall()
    if found:
        kind, file, line, offset = found[0][:4]
        raise InputError(
            f"kind {kind!r}, file {file}, line {line} (byte {offset}): a quote opened on this "
            "line is not closed where its field ends, so what follows cannot be read as rows; "
            "fix the quoting"
        )


def mend_phones(
    con: duckdb.DuckDBPyConnection, kinds: Iterable[str], default_region: str | None = None
) -> int:
    """Mend the phone texts that are not strict E.164 with phonenumbers, once each.

    Strict E.164 texts are converted in SQL. Only the rest (spaces, dashes, brackets, national
    forms without a country code, garbage), which the first pass rejected, comes to Python, so
    a clean history never calls phonenumbers per row and is read once. With `default_region`
    ("RU"), a text without a country code is read as a number of that region
    (`89234567823` → +79234567823); a text with a `+` keeps its own country. A kind with
    mended texts is read and checked again, keeping only the rows with those texts; the first
    pass's rows of them are superseded.
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
            fixes.append((text, parse_number(text, default_region).key))
        except InvalidNumberError:
            continue
    if fixes:
        # one statement: executemany costs a statement a row
        con.execute(
            "insert into phone_fixes select unnest(?::varchar[]), unnest(?::bigint[])",
            [[text for text, _ in fixes], [key for _, key in fixes]],
        )
        mended = {text for text, _ in fixes}
        for kind, kind_texts in messy.items():
            if kind_texts & mended:
                _checked(con, kind, MENDED_ROWS).insert_into(f"checked_{kind}")
    return len(fixes)


def accounts_on_several_numbers(con: duckdb.DuckDBPyConnection) -> int:
    """How many accounts the accounts input binds to more than one number, each of which then
    counts the account as its own: a feed's fault the run cannot settle, said in the manifest."""
    found = con.sql(number_check_sql("accounts_on_several_numbers"))
    return int(found.aggregate("count(*)").fetchall()[0][0])


@dataclass(frozen=True)
class NumberCheck:
    # strict E.164 texts phonenumbers reads as another number (`+490301234567`, a national
    # prefix written in, is +49301234567): their rows now carry that number
    renumbered: int
    # numbers no operator could issue: their rows are rejected
    invalid: int


def check_numbers(con: duckdb.DuckDBPyConnection, kinds: Iterable[str]) -> NumberCheck:
    """Judge the numbers of strict E.164 texts as phonenumbers, and so the API, would.

    Validity is looked up in the ranges of data/number_ranges.csv, made from phonenumbers'
    metadata. The checked phones are grouped into blocks of a million keys; only the rows of
    blocks that one valid range does not fill are read again, number by number. The numbers
    the ranges do not call valid are parsed one by one: one phonenumbers reads as another
    number is mended to it, like a messy text; the rest are rejected. The numbers of mended
    texts were made by phonenumbers, and are not judged again.
    """
    con.sql(number_check_sql("checked_phones")).create_view("checked_phones")
    con.sql(number_check_sql("doubtful_number_blocks")).create("doubtful_number_blocks")
    doubtful = con.sql(number_check_sql("doubtful_numbers"))
    if not con.table("doubtful_number_blocks").aggregate("count(*)").fetchall()[0][0]:
        doubtful = doubtful.limit(0)
    renumbered: dict[int, int] = {}
    invalid: list[int] = []
    for (phone,) in doubtful.fetchall():
        read_as = _read_as(phone)
        if read_as is None:
            invalid.append(phone)
        elif read_as != phone:
            renumbered[phone] = read_as
    # one statement each: executemany costs a statement a row
    con.execute(
        "create or replace table renumbered_numbers as "
        "select unnest(?::bigint[]) as phone, unnest(?::bigint[]) as read_as",
        [list(renumbered), list(renumbered.values())],
    )
    con.execute(
        "create or replace table invalid_numbers as select unnest(?::bigint[]) as phone",
        [invalid],
    )
    for kind in kinds if renumbered or invalid else ():
        con.execute(
            f"update checked_{kind} set phone = renumbered_numbers.read_as "
            f"from renumbered_numbers where checked_{kind}.phone = renumbered_numbers.phone"
        )
        con.execute(
            f"update checked_{kind} set reject_reason = ? where {INVALID_NUMBER_ROWS}",
            [INVALID_PHONE],
        )
    return NumberCheck(len(renumbered), len(invalid))


def _read_as(key: int) -> int | None:
    """The key phonenumbers reads `+<key>` as, or None if it is not a valid number."""
    try:
        return parse_number(f"+{key}").key
    except InvalidNumberError:
        return None


def count_kind(con: duckdb.DuckDBPyConnection, kind: str) -> KindCounts:
    """Count a kind's rows, rejects (by reason) and rows left for a later run.

    Unreadable CSV lines count as rows, rejected: `collect_unreadable_lines` runs first.
    """
    table = con.table(f"checked_{kind}").filter(CURRENT_ROWS)
    # the first time in the same scan, of a kind whose rows are events (accounts are a state)
    first = "min(case when reject_reason is null and not after_as_of then ts end)"
    rows, rejected, late, first_at = table.aggregate(
        "count(*), count(reject_reason), "
        "count(case when after_as_of and reject_reason is null then 1 end), "
        + (first if "ts" in table.columns else "null")
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
    return KindCounts(
        kind,
        int(rows) + unread,
        int(rejected) + unread,
        int(late),
        reasons,
        None if first_at is None else int(first_at),
    )


def _unreadable_lines(con: duckdb.DuckDBPyConnection, kind: str) -> duckdb.DuckDBPyRelation:
    return con.table("unreadable_lines").filter(duckdb.ColumnExpression("kind") == kind)


def write_rejects(con: duckdb.DuckDBPyConnection, kind: str, rejects_dir: Path) -> Path:
    """The kind's rejected rows, checked again from the input, each with its reason, raw texts
    and where it was read (data/schemas/rejects.yaml)."""
    rejects_dir.mkdir(parents=True, exist_ok=True)
    target = rejects_dir / f"{kind}.parquet"
    # CSV rows are numbered in the order the scan returns them: kept here, so exact
    with insertion_order_kept(con):
        con.sql(check_sql(kind)).create_view("rejected_input", replace=True)
        con.execute("delete from scan_rows_before")
        if _numbered_by_scan(con, kind):  # else each row's number is its file's own
            # a scan of its own, only of a kind numbered so: the main path reads no
            # location, and one scan of the rejects giving both would keep every row
            con.table(f"raw_{kind}").aggregate(
                "source_file, min(source_row) - 1", "source_file"
            ).insert_into("scan_rows_before")
        located = con.sql(rejects_sql(), params={"kind": kind})
        # times as times, not the epoch seconds the models count in
        rejected = located.select(
            *(
                duckdb.FunctionExpression("to_utc_time", duckdb.ColumnExpression(name)).alias(name)
                if name in EPOCH_COLUMNS
                else duckdb.ColumnExpression(name)
                for name in located.columns
            )
        )
        rejected.write_parquet(str(target))
    return target


def _numbered_by_scan(con: duckdb.DuckDBPyConnection, kind: str) -> bool:
    numbered = con.sql("select count(*) from kinds_numbered_by_scan where kind = ?", params=[kind])
    return bool(numbered.fetchall()[0][0])
