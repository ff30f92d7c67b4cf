"""The text of an unreadable CSV line as its file holds it, for the rejects file's `line_text`.

DuckDB's reader keeps a copy of each line it could not read, but it decodes a line that is not
UTF-8 on the way, and loses the byte after each bad one. Such lines are read again from their
files, at their byte offsets, and their bad bytes written as `\\xNN` escapes, so that the line
shows which encoding it was written in.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from itertools import groupby
from operator import itemgetter
from pathlib import Path

import duckdb
import pyarrow as pa

from pipelines.input_files import open_csv_bytes
from pipelines.sqlfiles import texts_as_written_sql

# The reason DuckDB's reader gives a line with bytes that are not UTF-8.
INVALID_ENCODING = "unreadable CSV line: invalid encoding"
# Longer than the reader's line size limit (2 MB), a line is refused for that first.
MAX_LINE_BYTES = 2**21
QUOTE, COMMA, SPACE = b'"', b",", b" "


def record_as_written(stream: io.BufferedReader | gzip.GzipFile, offset: int) -> bytes:
    """The CSV record that starts at `offset`, without the line end after it.

    A quoted field may hold line breaks (RFC 4180): the record goes on while one is open. A
    quote opens a field only at its start, or after one space there, or again after its
    closing quote and any spaces, as the reader takes it (`ab"c`, `  "c"` and a tab before a
    quote are text; ` "c"` and `"a" "b"` are quoted), and a doubled quote inside one is a
    quote written in it.
    """
    stream.seek(offset)
    lines: list[bytes] = []
    quoted, size = False, 0
    while size < MAX_LINE_BYTES:
        line = stream.readline(MAX_LINE_BYTES - size)
        lines.append(line)
        size += len(line)
        if QUOTE in line:  # most lines hold none: they end where they end
            quoted = _open_after(line, quoted)
        if not line or not quoted:
            break
    return b"".join(lines).removesuffix(b"\n").removesuffix(b"\r")


def _open_after(line: bytes, quoted: bool) -> bool:
    """Whether a quoted field is still open at the end of `line`, given whether one was at
    its start. As the reader: a quote after a closing one and any spaces opens the field
    again (`"a" "b"`)."""
    at_field_start, spaced, closed, position = not quoted, False, False, 0
    while position < len(line):
        byte = line[position : position + 1]
        if quoted:
            if byte == QUOTE:
                if line[position + 1 : position + 2] == QUOTE:
                    position += 1  # a quote written in the field
                else:
                    quoted, closed, position = False, True, position + 1
                    continue
        elif byte == QUOTE and (at_field_start or closed):
            quoted = True
        elif closed and byte == SPACE:
            position += 1
            continue  # after a closing quote, spaces keep the field open to another quote
        elif at_field_start and byte == SPACE and not spaced:
            spaced, position = True, position + 1
            continue  # the reader lets one space stand before a field's quote
        at_field_start = byte == COMMA and not quoted
        spaced = closed = False
        position += 1
    return quoted


def _records(lines: list[tuple[str, int]]) -> Iterator[bytes]:
    for file, of_file in groupby(lines, key=itemgetter(0)):
        with open_csv_bytes(Path(file)) as stream:  # in order: a gzip file only reads forward
            for _, offset in of_file:
                yield record_as_written(stream, offset)


def take_texts_as_written(con: duckdb.DuckDBPyConnection) -> None:
    """Put each unreadable line that is not UTF-8 in `unreadable_lines` as its file holds it."""
    not_utf8 = duckdb.ColumnExpression("reject_reason") == duckdb.ConstantExpression(
        INVALID_ENCODING
    )
    lines = (
        con.table("unreadable_lines")
        .filter(not_utf8)
        .order("file, byte_offset")
        .select("file, byte_offset")
        .fetchall()
    )
    if not lines:
        return
    texts = [record.decode("utf-8", "backslashreplace") for record in _records(lines)]
    files, offsets = zip(*lines, strict=True)
    # one statement: a file written in another encoding may have a million such lines
    con.register(
        "texts_as_written", pa.table({"file": files, "byte_offset": offsets, "line_text": texts})
    )
    try:
        con.execute(texts_as_written_sql())
    finally:
        con.unregister("texts_as_written")
