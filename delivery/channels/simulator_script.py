"""The simulators' script: what the simulated person does for chosen numbers, written by the
operator of a demo or a sandbox in a CSV file (`OWNERSHIP_SIMULATOR_SCRIPT`), so that a bank's
integrator can have a No, a Yes, no answer or a message never delivered on demand for a test
number, as a messaging sandbox's test numbers do.

    phone,answer,after_seconds,delivered_after_seconds,read_after_seconds
    # the previous owner of a recycled number: a No a minute after the prompt
    +79031112233,no,60
    +79161112244,never,,never

- `phone`: the number in E.164 (`+79031112233`);
- `answer`: `yes`, `no` or `never`, to every re-verification prompt to the number, `after_seconds`
  after it is asked (needed for yes and no); blank: drawn, as for any number;
- `delivered_after_seconds`: its messages are delivered this long after sending, or `never`;
  blank: drawn. `read_after_seconds`: read this long after sending (blank or `never`: not read).

The header names the columns (`answer` and the last two may be left out), and a line may end
before its blank cells; blank lines and lines starting with `#` are skipped. Anything else the
file cannot mean is refused in one line that names the file and the line
(`SimulatorScriptError`): a number in it must not fall back to drawn outcomes unnoticed because
of a typo.
"""

from __future__ import annotations

import csv
import errno
import math
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType

from delivery.events import ReverificationAnswer
from ownership.numbers import InvalidNumberError, parse_number

PHONE, ANSWER, AFTER = "phone", "answer", "after_seconds"
DELIVERED_AFTER, READ_AFTER = "delivered_after_seconds", "read_after_seconds"
COLUMNS = (PHONE, ANSWER, AFTER, DELIVERED_AFTER, READ_AFTER)
REQUIRED = (PHONE,)
NEVER = "never"
ANSWERS: Mapping[str, ReverificationAnswer | None] = MappingProxyType(
    {"yes": ReverificationAnswer.CONFIRMED, "no": ReverificationAnswer.DENIED, NEVER: None}
)
# past the longest TTL (a day) a notification has gone by SMS: a week is room enough, and keeps
# every moment the simulators compute from it a time
MAX_SECONDS = 7 * 86_400
# a script names a sandbox's test numbers, a few hundred at most: a file past this (some 25,000
# lines) is another file, and would hold the simulators up while it is read
MAX_BYTES = 1 << 20


class SimulatorScriptError(ValueError):
    """A script the simulators cannot follow; its message is one line naming file and line."""


@dataclass(frozen=True)
class ScriptedNumber:
    """What the simulated person does for one number; a part left None is drawn."""

    phone: str
    # scripted answer: (the answer, None for never; after asking)
    answer: tuple[ReverificationAnswer | None, timedelta] | None = None
    # scripted delivery: (delivered after sending, None for never; read after sending, or None)
    delivery: tuple[timedelta | None, timedelta | None] | None = None


@dataclass(frozen=True)
class SimulatorScript:
    numbers: Mapping[str, ScriptedNumber]

    @classmethod
    def empty(cls) -> SimulatorScript:
        return cls(MappingProxyType({}))


def read_script(path: Path) -> SimulatorScript:
    """The script in the file at `path`, or SimulatorScriptError saying what is wrong where."""
    try:
        data = _file_bytes(path)
    except FileNotFoundError:
        raise SimulatorScriptError(f"{path}: does not exist") from None
    except IsADirectoryError:
        raise SimulatorScriptError(f"{path}: is not a file") from None
    except OSError as error:
        raise SimulatorScriptError(f"{path}: cannot be read ({error.strerror})") from None
    try:
        # utf-8-sig: a spreadsheet's CSV export starts with a byte-order mark
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = text_line_of(data, error.start)
        raise SimulatorScriptError(f"{path}, line {line}: is not UTF-8 text") from None
    return parse_script(text.splitlines(), str(path))


def _file_bytes(path: Path) -> bytes:
    """The file's bytes, judged by the file opened, not by its name: opened without waiting, so
    that a pipe put in its place (even between a look and the read) holds no reader up.

    A script decides what the simulated people answer, and its errors quote its cells: it must
    be the service's own file, written by no one else, and not a link, which whoever may write
    its folder could point at any file the service reads (its secret key) to have a line of it
    quoted in the log."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise SimulatorScriptError(
                f"{path}: is a symbolic link; name the script's file itself"
            ) from None
        raise
    with os.fdopen(descriptor, "rb") as opened:
        found = os.fstat(opened.fileno())
        if not stat.S_ISREG(found.st_mode):
            raise SimulatorScriptError(f"{path}: is not a file")
        if found.st_uid != os.geteuid():
            raise SimulatorScriptError(
                f"{path}: is owned by another user (uid {found.st_uid}) than the service's"
            )
        if found.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise SimulatorScriptError(
                f"{path}: may be written by others (mode {stat.S_IMODE(found.st_mode):04o}); "
                f"`chmod go-w {path}`"
            )
        data = opened.read(MAX_BYTES + 1)  # no more: one byte past it is enough to refuse
    if len(data) > MAX_BYTES:
        raise SimulatorScriptError(
            f"{path}: is larger than {MAX_BYTES:,} bytes; a script names test numbers"
        )
    return data


def text_line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def parse_script(lines: Iterable[str], source: str) -> SimulatorScript:
    """The script written in `lines` (a file's, named `source` in errors)."""
    header: tuple[str, ...] | None = None
    numbers: dict[str, ScriptedNumber] = {}
    lines_of: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        where = f"{source}, line {number}"
        if line.lstrip().startswith("#"):  # a comment, however long, is not read as CSV
            continue
        try:
            cells = [cell.strip() for cell in next(csv.reader([line]), [])]
        except csv.Error as error:  # a field past the csv module's limit, say
            raise SimulatorScriptError(f"{where}: {error}") from None
        # blank, or a comment, as written or as a spreadsheet exports them: its blank row is
        # commas, its comment quoted when it holds one
        if not any(cells) or cells[0].startswith("#"):
            continue
        while not cells[-1]:  # a spreadsheet pads lines with commas
            cells.pop()
        if header is None:
            header = _header(cells, where)
            continue
        if len(cells) > len(header):
            raise SimulatorScriptError(
                f"{where}: has {len(cells)} fields, the header {len(header)} ({','.join(header)})"
            )
        # the blank cells at a line's end may be left out, as a spreadsheet writes them
        cells += [""] * (len(header) - len(cells))
        scripted = _row(dict(zip(header, cells, strict=True)), where)
        if scripted.phone in lines_of:
            raise SimulatorScriptError(
                f"{where}: {scripted.phone} is scripted on line {lines_of[scripted.phone]} too"
            )
        numbers[scripted.phone] = scripted
        lines_of[scripted.phone] = number
    if header is None:  # empty: half saved, or not a script at all; a header alone scripts none
        raise SimulatorScriptError(
            f"{source}: has no header line (a script's first line names its columns: "
            f"{','.join(COLUMNS)})"
        )
    return SimulatorScript(MappingProxyType(numbers))


def _header(cells: list[str], where: str) -> tuple[str, ...]:
    names = tuple(cell.lower() for cell in cells)
    unknown = [name for name in names if name not in COLUMNS]
    if unknown:
        raise SimulatorScriptError(
            f"{where}: the header names {', '.join(map(repr, unknown))}, no column of a script "
            f"(its columns: {','.join(COLUMNS)})"
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise SimulatorScriptError(f"{where}: the header names {', '.join(repeated)} twice")
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise SimulatorScriptError(
            f"{where}: the header has no {', '.join(missing)} column (a script's first line "
            f"names its columns: {','.join(COLUMNS)})"
        )
    if not {ANSWER, DELIVERED_AFTER} & set(names):
        raise SimulatorScriptError(
            f"{where}: the header has neither {ANSWER} nor {DELIVERED_AFTER}: nothing to script"
        )
    return names


def _row(row: dict[str, str], where: str) -> ScriptedNumber:
    try:
        phone = parse_number(row[PHONE]).e164 if row[PHONE].startswith("+") else None
    except InvalidNumberError as error:
        raise SimulatorScriptError(f"{where}: {error}") from None
    if phone is None:
        raise SimulatorScriptError(
            f"{where}: phone {row[PHONE]!r} is not written in E.164, such as +79031112233"
        )
    answer = _answer(row.get(ANSWER, ""), row.get(AFTER, ""), where)
    delivery = _delivery(row.get(DELIVERED_AFTER, ""), row.get(READ_AFTER, ""), where)
    if answer is None and delivery is None:
        raise SimulatorScriptError(
            f"{where}: scripts nothing for {phone} (give an answer or delivered_after_seconds)"
        )
    if answer is not None and answer[0] is not None and delivery and delivery[1] is None:
        never = "delivered" if delivery[0] is None else "read"
        raise SimulatorScriptError(
            f"{where}: answers {row[ANSWER].lower()} to prompts never {never}; a person "
            "answers what they read"
        )
    return ScriptedNumber(phone, answer, delivery)


def _answer(
    text: str, after: str, where: str
) -> tuple[ReverificationAnswer | None, timedelta] | None:
    if not text:
        if after:
            raise SimulatorScriptError(f"{where}: after_seconds is given without an answer")
        return None
    if text.lower() not in ANSWERS:
        raise SimulatorScriptError(f"{where}: answer {text!r} is none of yes, no, never")
    answer = ANSWERS[text.lower()]
    if answer is None:  # never answered: no time to wait for
        if after:
            raise SimulatorScriptError(
                f"{where}: after_seconds is given with answer never, which comes at no time"
            )
        return None, timedelta(0)
    if not after:
        raise SimulatorScriptError(
            f"{where}: answer {text.lower()} needs after_seconds, how long after the prompt"
        )
    return answer, _seconds(AFTER, after, where)


def _delivery(
    delivered: str, read: str, where: str
) -> tuple[timedelta | None, timedelta | None] | None:
    if not delivered:
        if read:
            raise SimulatorScriptError(
                f"{where}: read_after_seconds is given without delivered_after_seconds"
            )
        return None
    if delivered.lower() == NEVER:
        if read and read.lower() != NEVER:
            raise SimulatorScriptError(f"{where}: a message never delivered is never read")
        return None, None
    delivered_after = _seconds(DELIVERED_AFTER, delivered, where)
    if not read or read.lower() == NEVER:
        return delivered_after, None
    read_after = _seconds(READ_AFTER, read, where)
    if read_after < delivered_after:
        raise SimulatorScriptError(
            f"{where}: read_after_seconds ({read}) is before delivered_after_seconds "
            f"({delivered}); both count from sending"
        )
    return delivered_after, read_after


def _seconds(column: str, text: str, where: str) -> timedelta:
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or "_" in text:
        raise SimulatorScriptError(f"{where}: {column} {text!r} is not a number of seconds")
    if seconds < 0:
        raise SimulatorScriptError(f"{where}: {column} {text!r} is negative")
    if seconds > MAX_SECONDS:
        raise SimulatorScriptError(
            f"{where}: {column} {text!r} is past a week ({MAX_SECONDS} s), longer than any TTL"
        )
    return timedelta(seconds=seconds)
