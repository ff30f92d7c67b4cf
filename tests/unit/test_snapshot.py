from __future__ import annotations

import os
import shutil
import threading
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from ownership.channels import Channel, ChannelState
from ownership.verdicts import REASON_ORDER, Reason, Status
from pipelines.snapshot import (
    BYTES_PER_NUMBER,
    Snapshot,
    SnapshotError,
    reason_columns,
    write_snapshot,
)

AS_OF = 1_780_000_000
COVERAGE_FROM = 1_600_000_000


def batch(rows: list[dict[str, object]]) -> pa.RecordBatch:
    columns: dict[str, list[object]] = {
        name: [row.get(name) for row in rows]
        for name in (
            "phone",
            "status",
            "risk_score",
            "owner_since",
            "last_code_at",
            "last_confirmed_at",
        )
    }
    for network in ("vk", "ok"):
        for suffix in ("bound", "active", "mobile_app"):
            name = f"{network}_{suffix}"
            columns[name] = [row.get(name, False) for row in rows]
    for reason in REASON_ORDER:
        flag, at = reason_columns(reason)
        columns[flag] = [row.get(flag, False) for row in rows]
        columns[at] = [row.get(at) for row in rows]
    flags = ("has_", "vk_", "ok_")
    types = {name: pa.bool_() if name.startswith(flags) else pa.int64() for name in columns}
    types["status"] = pa.string()
    return pa.RecordBatch.from_pydict(
        columns, schema=pa.schema([(name, types[name]) for name in columns])
    )


ROWS = [
    {
        "phone": 79000000001,
        "status": "verified",
        "risk_score": 40,
        "owner_since": 1_700_000_000,
        "last_code_at": 1_779_000_000,
        "vk_bound": True,
        "vk_active": True,
        "vk_mobile_app": True,
        "ok_bound": True,
        "has_recent_code_entry": True,
        "recent_code_entry_at": 1_779_000_000,
    },
    {
        "phone": 79234567823,
        "status": "owner_changed",
        "risk_score": 910,
        "owner_since": 1_760_000_000,
        "vk_bound": True,
        "has_profile_mismatch": True,
        "profile_mismatch_at": 1_760_000_000,
        "has_owner_denied": True,
        "owner_denied_at": 1_770_000_000,
    },
]


def test_a_snapshot_answers_lookups_within_32_bytes_a_number(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.bin"
    write_snapshot(path, [batch(ROWS)], count=2, as_of=AS_OF, coverage_from=COVERAGE_FROM)

    snapshot = Snapshot(path)
    record = snapshot.lookup(79234567823)

    assert BYTES_PER_NUMBER <= 32
    assert path.stat().st_size == 64 + BYTES_PER_NUMBER * 2
    assert record is not None
    assert record.status is Status.OWNER_CHANGED
    assert record.risk_score == 910
    assert record.reasons == (Reason.PROFILE_MISMATCH, Reason.OWNER_DENIED)
    assert record.reason_times == (
        datetime.utcfromtimestamp(1_760_000_000),
        datetime.utcfromtimestamp(1_770_000_000),
    )
    assert record.owner_since == datetime.utcfromtimestamp(1_760_000_000)
    assert snapshot.lookup(79000000000) is None
    assert snapshot.lookup(79999999999) is None
    assert snapshot.as_of == datetime.utcfromtimestamp(AS_OF)
    assert snapshot.coverage_from == datetime.utcfromtimestamp(COVERAGE_FROM)


def test_channels_say_where_a_number_can_be_reached(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.bin"
    write_snapshot(path, [batch(ROWS)], count=2, as_of=AS_OF, coverage_from=COVERAGE_FROM)
    snapshot = Snapshot(path)

    both = snapshot.lookup(79000000001)
    stale = snapshot.lookup(79234567823)

    assert both is not None and stale is not None
    assert both.channels == (
        ChannelState(Channel.VK, active=True, mobile_app=True),
        ChannelState(Channel.OK, active=False, mobile_app=False),
    )
    assert stale.channels == (ChannelState(Channel.VK, active=False, mobile_app=False),)


def test_bulk_positions_mark_missing_numbers(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.bin"
    write_snapshot(path, [batch(ROWS)], count=2, as_of=AS_OF, coverage_from=COVERAGE_FROM)

    positions = Snapshot(path).positions(np.array([79234567823, 1, 79000000001], dtype=np.int64))

    assert positions.tolist() == [1, -1, 0]


def test_a_truncated_snapshot_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.bin"
    write_snapshot(path, [batch(ROWS)], count=2, as_of=AS_OF, coverage_from=COVERAGE_FROM)
    path.write_bytes(path.read_bytes()[:-5])

    with pytest.raises(SnapshotError, match="truncated"):
        Snapshot(path)


def test_a_short_write_leaves_the_old_snapshot_in_place(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.bin"
    write_snapshot(path, [batch(ROWS)], count=2, as_of=AS_OF, coverage_from=COVERAGE_FROM)

    with pytest.raises(SnapshotError):
        write_snapshot(
            path, [batch(ROWS[:1])], count=2, as_of=AS_OF + 1, coverage_from=COVERAGE_FROM
        )

    assert Snapshot(path).as_of == datetime.utcfromtimestamp(AS_OF)
    assert list(tmp_path.iterdir()) == [path]


def test_numbers_out_of_order_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.bin"

    with pytest.raises(SnapshotError, match="strictly increasing"):
        write_snapshot(path, [batch(ROWS[::-1])], count=2, as_of=AS_OF, coverage_from=COVERAGE_FROM)

    assert list(tmp_path.iterdir()) == []


def test_batches_cut_from_a_larger_one_keep_their_own_rows_and_missing_values(
    tmp_path: Path,
) -> None:
    # a reader may hand over slices of one buffer: values and null masks start at an offset
    first, second = ROWS
    whole = batch([{**second, "phone": 78000000000, "vk_bound": False}, first, second])
    path = tmp_path / "snapshot.bin"

    write_snapshot(
        path, [whole.slice(1, 1), whole.slice(2, 1)], count=2, as_of=AS_OF, coverage_from=0
    )
    snapshot = Snapshot(path)
    verified, changed = snapshot.lookup(79000000001), snapshot.lookup(79234567823)

    assert verified is not None and changed is not None
    assert verified.reasons == (Reason.RECENT_CODE_ENTRY,)
    assert verified.last_confirmed_at is None  # a missing time, not the epoch
    assert changed.reasons == (Reason.PROFILE_MISMATCH, Reason.OWNER_DENIED)
    assert changed.channels == (ChannelState(Channel.VK, active=False, mobile_app=False),)
    assert snapshot.lookup(78000000000) is None


def test_a_number_without_a_status_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.bin"

    with pytest.raises(SnapshotError, match="status"):
        write_snapshot(
            path,
            [batch([ROWS[0], {**ROWS[1], "status": None}])],
            count=2,
            as_of=AS_OF,
            coverage_from=COVERAGE_FROM,
        )

    assert list(tmp_path.iterdir()) == []


def test_more_numbers_than_announced_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.bin"

    with pytest.raises(SnapshotError, match="more numbers"):
        write_snapshot(path, [batch(ROWS)], count=1, as_of=AS_OF, coverage_from=COVERAGE_FROM)

    assert list(tmp_path.iterdir()) == []


def test_a_snapshot_read_while_another_is_published_is_one_file_whole(tmp_path: Path) -> None:
    """The header, the size and the bytes all come from the file opened, never one from each."""
    path = tmp_path / "snapshot.bin"
    one, two = tmp_path / "one.bin", tmp_path / "two.bin"
    write_snapshot(one, [batch(ROWS[:1])], count=1, as_of=AS_OF, coverage_from=COVERAGE_FROM)
    write_snapshot(two, [batch(ROWS)], count=2, as_of=AS_OF + 1, coverage_from=COVERAGE_FROM)
    counts: dict[datetime | None, int] = {
        datetime.utcfromtimestamp(AS_OF): 1,
        datetime.utcfromtimestamp(AS_OF + 1): 2,
    }
    publishing = threading.Event()

    def publish() -> None:
        while not publishing.is_set():
            for source in (one, two):
                shutil.copyfile(source, tmp_path / "next.bin")
                os.replace(tmp_path / "next.bin", path)

    shutil.copyfile(one, path)
    publisher = threading.Thread(target=publish)
    publisher.start()
    try:
        seen = [Snapshot(path) for _ in range(2_000)]
    finally:
        publishing.set()
        publisher.join()

    assert all(counts.get(snapshot.as_of) == len(snapshot) for snapshot in seen)
    assert all(len(snapshot.columns["phone"]) == len(snapshot) for snapshot in seen)
