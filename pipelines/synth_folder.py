"""Where the generator writes: a history appears whole in its folder, or not at all.

A history is written beside its folder first (`.<name>.partial`), and moved in once its last
file is closed. A run that fails or is interrupted leaves the folder as it was: an earlier
history in it stays whole, and no half-written one can be scored by mistake. Moving in
replaces the generator's own entries (one folder a kind, and `truth/`); anything else in the
folder, such as verifications exported into the history, would be mixed into the new history,
so the folder is refused unless the caller owns it (the demo).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

from pipelines.locks import LockHeldError, held_alone

# The file a finished history holds; its presence marks a folder the generator wrote whole.
META = Path("truth/meta.json")


class SynthFolderError(Exception):
    """The folder cannot take a history; the message says why and what to do."""


@contextmanager
def written_whole(
    out: Path, entries: Iterable[str], generated: Iterable[str], *, replace_others: bool = False
) -> Iterator[Path]:
    """Yield an empty folder to write the history in; move it into `out` once the block ends
    without error, or remove it. `entries` are the history's top-level names; `generated` the
    file names (patterns) the generator writes inside them. One run at a time writes a folder:
    another is refused while it runs."""
    entries, generated = tuple(entries), tuple(generated)
    out = Path(out).resolve()
    _check_takes_a_history(out, entries, generated, replace_others)
    partial = out.parent / f".{out.name}.partial"
    with _only_run(out):
        try:
            shutil.rmtree(partial, ignore_errors=True)  # of a run killed before it cleaned up
            partial.mkdir(parents=True)
        except OSError as error:
            raise SynthFolderError(f"cannot write beside {out}: {_why(error)}") from error
        try:
            yield partial
            # files may have come into the folder while the history was drawn
            _check_takes_a_history(out, entries, generated, replace_others)
            _move_in(partial, out, entries)
        finally:
            shutil.rmtree(partial, ignore_errors=True)


@contextmanager
def _only_run(out: Path) -> Iterator[None]:
    """Hold the folder's lock (`.<name>.lock` beside it) while the block runs."""
    held = ExitStack()
    try:
        held.enter_context(held_alone(out.parent / f".{out.name}.lock"))
    except LockHeldError as error:
        raise SynthFolderError(
            f"another run of the generator is writing {out}; wait for it, or choose another --out"
        ) from error
    except OSError as error:
        raise SynthFolderError(f"cannot write beside {out}: {_why(error)}") from error
    with held:
        yield


def _check_takes_a_history(
    out: Path, entries: tuple[str, ...], generated: tuple[str, ...], replace_others: bool
) -> None:
    if out.exists() and not out.is_dir():
        raise SynthFolderError(f"{out} is a file; give a folder to write the history to")
    if not out.is_dir() or replace_others:
        return
    found = sorted(out.iterdir())
    if not found:
        return
    if not (out / META).is_file():
        raise SynthFolderError(
            f"{out} is not empty and holds no finished history ({META} is missing): the "
            "generator writes into an empty folder or replaces a history it finished; remove "
            "the folder's contents or choose another --out"
        )
    for path in found:
        if path.name not in entries:
            raise _foreign(out, path)
        for inner in path.rglob("*"):
            if inner.is_file() and not any(inner.match(pattern) for pattern in generated):
                raise _foreign(out, inner)


def _foreign(out: Path, path: Path) -> SynthFolderError:
    return SynthFolderError(
        f"{out} holds {path.relative_to(out)}, which the generator did not write: a new "
        "history there would be read together with it; move it away or choose another --out"
    )


def _move_in(partial: Path, out: Path, entries: tuple[str, ...]) -> None:
    """Put the history's entries in `out`, each replacing the one of the same name. Stopped
    part way (an interrupt, a failing rename), it puts back what it had moved: the folder
    holds the earlier history whole, or the new one."""
    replaced = partial / ".replaced"
    done: list[tuple[Path, Path]] = []  # (from, to), in the order made
    try:
        out.mkdir(parents=True, exist_ok=True)
        replaced.mkdir()
        moves = [(out / name, replaced / name) for name in entries if (out / name).exists()]
        # the other files of a folder the caller owns
        moves += [
            (path, replaced / path.name) for path in out.iterdir() if path.name not in entries
        ]
        moves += [(partial / name, out / name) for name in entries]
        for source, target in moves:
            # noted first, so that an interrupt just after the rename is undone too; undoing
            # a rename that never happened fails, quietly
            done.append((source, target))
            source.rename(target)
    except BaseException as error:
        for source, target in reversed(done):
            with suppress(OSError):
                target.rename(source)
        if isinstance(error, OSError):
            raise SynthFolderError(f"cannot move the history into {out}: {_why(error)}") from error
        raise


def _why(error: OSError) -> str:
    reason = error.strerror or str(error)
    return f"{reason}: {error.filename}" if error.filename else reason
