"""A worker's snapshot source: a newly published file is mapped; a broken one never replaces
the one served, and is opened once, not every second it stays."""

from __future__ import annotations

import errno
import logging
from pathlib import Path

import pytest

import api.serving
from api.serving import SnapshotSource
from pipelines.snapshot import Snapshot, write_snapshot
from tests.unit.test_snapshot import AS_OF, COVERAGE_FROM, ROWS, batch


class Seconds:
    """A clock the test moves: each check is a second after the last."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def publish(path: Path, as_of: int = AS_OF, truncated: bool = False) -> None:
    """Write a snapshot beside `path` and rename it into place, as a scoring run does."""
    written = path.with_name("next.bin")
    write_snapshot(written, [batch(ROWS)], count=2, as_of=as_of, coverage_from=COVERAGE_FROM)
    if truncated:
        written.write_bytes(written.read_bytes()[:-5])
    written.rename(path)


def test_a_broken_file_is_refused_once_and_a_good_one_after_it_is_served(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "snapshot.bin"
    publish(path)
    source = SnapshotSource(path, check_interval=1.0, clock=Seconds())
    served = source.current()

    publish(path, as_of=AS_OF + 86_400, truncated=True)
    with caplog.at_level(logging.ERROR):
        for _ in range(5):
            assert source.current() is served
    refused = [record.getMessage() for record in caplog.records if record.levelno == logging.ERROR]
    assert len(refused) == 1 and "truncated" in refused[0]

    publish(path, as_of=AS_OF + 2 * 86_400)
    assert source.current() is not served
    assert source.swaps == 2


def test_a_good_file_that_failed_to_open_for_a_moment_is_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "snapshot.bin"
    publish(path)
    source = SnapshotSource(path, check_interval=1.0, clock=Seconds())
    served = source.current()
    publish(path, as_of=AS_OF + 86_400)
    opened = Snapshot
    failures = [OSError(errno.EMFILE, "Too many open files")]

    def no_descriptor_left_once(at: Path) -> Snapshot:
        if failures:
            raise failures.pop()
        return opened(at)

    monkeypatch.setattr(api.serving, "Snapshot", no_descriptor_left_once)

    assert source.current() is served  # the worker had no descriptor to spare
    assert source.current() is not served  # the next check maps the new file
