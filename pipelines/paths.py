"""Where the project's own files live."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
SCHEMAS_DIR = DATA_DIR / "schemas"
SQL_DIR = Path(__file__).resolve().parent / "sql"

# How an input file's name ends for each format, in any case (`may.CSV`); DuckDB and pyarrow
# read gzip CSV as is (DESIGN §3)
INPUT_SUFFIXES: dict[str, str] = {".parquet": "parquet", ".csv": "csv", ".csv.gz": "csv"}


def input_format(path: Path) -> str | None:
    """The format a file's name gives it, or None for a name of no input format."""
    name = path.name.lower()
    return next((fmt for suffix, fmt in INPUT_SUFFIXES.items() if name.endswith(suffix)), None)


# what Spark and Hadoop write beside the files of a dataset: markers and summaries, no rows
MARKERS = frozenset({"_SUCCESS", "_metadata", "_common_metadata"})
MARKER_PREFIXES = ("_committed_", "_started_")


def is_data_name(path: Path) -> bool:
    """Whether a name in a kind's folder may hold its rows: hidden names (`.DS_Store`, macOS's
    `._part.csv`, a writer's temporary file) do not, nor Spark's markers (`_SUCCESS`). Any
    other name, `_backfill.parquet` included, is read, or refused if of no input format."""
    name = path.name
    return not (name.startswith(".") or name in MARKERS or name.startswith(MARKER_PREFIXES))


def stray_input_files(history: Path, kinds: Iterable[str], named: int = 5) -> str | None:
    """What is wrong with data files (or folders named as data files) beside a history's kind
    folders, or None if it has none: a run reads a kind's folder only, and nothing is dropped
    silently (DESIGN §3). Other files (notes, a manifest, hidden ones) and other folders (the
    generator's truth/) hold no rows and may stay."""
    if not history.is_dir():
        return None
    # a folder named as a data file is a dataset as Spark writes one: rows too
    stray = [
        path.name
        for path in sorted(history.iterdir())
        if is_data_name(path) and input_format(path) is not None
    ]
    if not stray:
        return None
    shown = ", ".join(stray[:named])
    more = f" and {len(stray) - named} more" if len(stray) > named else ""
    where = "it into its kind's folder" if len(stray) == 1 else "them into their kinds' folders"
    folders = ", ".join(f"{kind}/" for kind in kinds)
    return (
        f"{history} holds {shown}{more} beside the kinds' folders, where a run does not read: "
        f"move {where} ({folders}), or out of the history"
    )


# the folders a history holds beside its kinds' that are known to hold no rows: the generator's
KNOWN_FOLDERS = frozenset({"truth"})


def ignored_folders(history: Path, kinds: Iterable[str]) -> list[str]:
    """The names of the folders beside a history's kinds' that a run does not read, which are
    told, not refused (a folder of notes may stay): a misspelt kind (`sms_delivery/`) among
    them would leave its rows out without a word. Hidden folders (`.git`) and the generator's
    `truth/` are not told; one named as a data file is refused (`stray_input_files`)."""
    known = KNOWN_FOLDERS | set(kinds)
    return [
        path.name
        for path in sorted(history.iterdir())
        if path.is_dir()
        and is_data_name(path)
        and input_format(path) is None
        and path.name not in known
    ]


def input_files(folder: Path) -> list[Path]:
    """The data files of a kind's folder, in name order (none if it is no folder)."""
    if not folder.is_dir():
        return []
    return [
        path
        for path in sorted(folder.iterdir())
        if is_data_name(path) and path.is_file() and input_format(path) is not None
    ]
