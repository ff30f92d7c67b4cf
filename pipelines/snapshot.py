"""The serving snapshot (DESIGN §5): sorted int64 phone keys plus fixed-width columns.

32 bytes a number (below): memory-mapped and shared by every API worker. Format 3,
little-endian:

    header (64 bytes): magic b"OWNSNAP1", format version u32 (3), extra times u32, count u64,
                       as_of i64 (epoch seconds), created_at i64, coverage_from i64 (where
                       the history's coverage starts), 16 reserved bytes
    one block per column, in COLUMNS order, each `count` values long: phone i64, verdict u32,
        owner_since u32, last_confirmed_at u32, at_0 u32, at_1 u32, at_2 u32
    the extra times: (row u32, time u32) pairs, sorted by row, then in reason order (none
        that the rules can make). A reader refuses pairs out of order, past the last row, or
        more or fewer for a row that has some than its reasons take; it does not read every
        number to find one whose pairs are all gone (a swap must not wait on it): such a row
        answers those reasons without a time.

Times are u32 seconds since the epoch (0 = none), good until 2106. `verdict` packs the status
(bits 0-1, `StatusCode`), the channels (bits 2-7: three bits a network, bound, active within
A before as_of and active with the mobile app, VK's then OK's), the risk score (bits 8-17) and
the reason mask (bits 18-30, `Reason.bit`).

Every reason carries the time of its own event, as `scores.parquet`'s `reason_times` does
(DESIGN §4); pipelines.snapshot_format's `time_plan` says where:
- RECENT_CONFIRMATION's is `last_confirmed_at`; NO_HISTORY has none;
- a number that is not owner_changed keeps its last VK or OK code in at_0 (0 if none): the
  time of RECENT_CODE_ENTRY and NO_RECENT_CODE, and the proof that the notify policy's
  freshness reads even where no reason names it (a number verified on a confirmation, whose
  code is older than W, yet may be younger than the confirmation when F > W);
- every other reason takes the next slot, in REASON_ORDER; an owner_changed number, which has
  no last confirmation (the scores give it none), takes `last_confirmed_at` for a fourth, so
  that all four change signals fit; past those, an extra time.
No number the rules make has an extra time: a verified number has at most a code, steady SMS
and matching profiles, a suspicious one a code, an SMS gap and sparse codes or only
registration codes, never both, and an owner_changed one four signals. Every snapshot is 32
bytes a number and the 64-byte header.

A snapshot of format 2 (30 bytes a number, one time shared by most reasons) is still read and
answered as it was (pipelines.snapshot_v2), so that a service started on an old file works
until the next run replaces it.
A snapshot is written under a temporary name and renamed into place, so a reader sees the old
file or the new one, never a half-written one.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from ownership.channels import ChannelState
from ownership.verdicts import (
    REASON_ORDER,
    Evidence,
    Reason,
    Status,
    StatusCode,
    Verdict,
)
from pipelines import snapshot_v2
from pipelines.snapshot_format import (
    ACTIVE,
    BOUND,
    BYTES_PER_NUMBER,
    CHANNEL_BITS,
    CHANNELS_BITS,
    CHANNELS_SHIFT,
    COLUMNS,
    EXTRA,
    FIRST_EXTRA_SOURCE,
    FORMAT_VERSION,
    HEADER,
    MAGIC,
    MOBILE_APP,
    NETWORKS,
    REASONS_SHIFT,
    RISK_BITS,
    RISK_MAX,
    RISK_SHIFT,
    SLOTS,
    SLOTTED_REASONS,
    STATUS_MASK,
    channels_from_bits,
    code_slots,
    confirmations_free,
    extras_needed,
    pack_verdict,
    place_times,
    time_plan,
)

STATUS_CODES = {status.value: StatusCode[status.name].value for status in Status}
STATUS_BY_CODE = {code.value: Status[code.name] for code in StatusCode}
__all__ = ["BYTES_PER_NUMBER", "EPOCH", "Snapshot", "SnapshotError", "write_snapshot"]


class SnapshotError(Exception):
    pass


def reason_columns(reason: Reason) -> tuple[str, str]:
    """The classification model's flag and time columns of a reason."""
    stem = reason.value.lower()
    return f"has_{stem}", f"{stem}_at"


def offsets(columns: tuple[tuple[str, type[np.generic]], ...], count: int) -> dict[str, int]:
    """Where each column's block starts, and (under "end") where the last one ends."""
    found, position = {}, HEADER.size
    for name, dtype in columns:
        found[name] = position
        position += np.dtype(dtype).itemsize * count
    found["end"] = position
    return found


def _bits(buffer: pa.Buffer, offset: int, length: int) -> np.ndarray:
    packed = np.frombuffer(buffer, dtype=np.uint8)
    return np.unpackbits(packed, bitorder="little")[offset : offset + length].view(bool)


def _numpy(values: pa.Array) -> np.ndarray:
    """A boolean or integer column as numpy, nulls as 0 (False), read from the Arrow buffers.

    pyarrow's own `to_numpy` and `fill_null` import pandas on first use, a sixth of a second
    of every scoring run, for what is a view of a buffer.
    """
    if pa.types.is_null(values.type):  # a column with no type of its own: all null
        return np.zeros(len(values), np.int64)
    validity, data = values.buffers()[:2]
    length, offset = len(values), values.offset
    if data is None:  # no values at all, or all null
        array = np.zeros(length, bool if pa.types.is_boolean(values.type) else np.int64)
    elif pa.types.is_boolean(values.type):
        array = _bits(data, offset, length)
    elif pa.types.is_integer(values.type):
        kind = "i" if pa.types.is_signed_integer(values.type) else "u"
        dtype = np.dtype(f"<{kind}{values.type.bit_width // 8}")
        array = np.frombuffer(data, dtype=dtype, count=offset + length)[offset:]
    else:
        raise SnapshotError(f"a column of type {values.type} cannot go into the snapshot")
    if validity is not None and values.null_count:
        array = np.where(_bits(validity, offset, length), array, 0).astype(array.dtype)
    return array


def _seconds(values: pa.Array) -> np.ndarray:
    seconds = _numpy(values).astype(np.int64)
    if len(seconds) and (seconds.min() < 0 or seconds.max() > np.iinfo(np.uint32).max):
        raise SnapshotError("a time before 1970 or after 2106 does not fit the snapshot")
    return seconds.astype(np.uint32)


def _status_codes(status: pa.Array) -> np.ndarray:
    if status.null_count:
        raise SnapshotError("every number needs a status; some have none")
    # a handful of distinct statuses: map the dictionary, then index it
    encoded = status.dictionary_encode()
    try:
        codes = np.array(
            [STATUS_CODES[value] for value in encoded.dictionary.to_pylist()], dtype=np.uint32
        )
    except KeyError as error:
        raise SnapshotError(f"status {error.args[0]!r} is not a known status") from error
    if not len(codes):
        return np.zeros(len(status), dtype=np.uint32)
    status_codes: np.ndarray = codes[_numpy(encoded.indices)]
    return status_codes


def _encode(batch: pa.RecordBatch) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """The batch's columns, and its extra times: rows (in the batch) and times."""
    columns = {name: batch.column(name) for name in batch.schema.names}
    status = _status_codes(columns["status"])
    risk = _numpy(columns["risk_score"]).astype(np.int64)
    if len(risk) and (risk.min() < 0 or risk.max() > RISK_MAX):
        raise SnapshotError(f"a risk score outside 0-{RISK_MAX} does not fit the snapshot")
    flags = {
        reason: _numpy(columns[reason_columns(reason)[0]]).astype(bool, copy=False)
        for reason in REASON_ORDER
    }
    # bits set in place, where they hold: no temporary a reason or a channel
    mask = np.zeros(len(batch), dtype=np.uint32)
    for reason, flag in flags.items():
        np.bitwise_or(mask, reason.bit, out=mask, where=flag)
    code_slot = code_slots(status, mask)
    times = [_seconds(columns["last_code_at"])]
    times += [_seconds(columns[reason_columns(reason)[1]]) for reason in SLOTTED_REASONS]
    taken = [code_slot, *(flags[reason] for reason in SLOTTED_REASONS)]
    free = confirmations_free(status, mask)
    confirmed = _seconds(columns["last_confirmed_at"])
    if np.any(confirmed[free]):
        raise SnapshotError(
            "an owner_changed number has a last confirmation, where the snapshot keeps a "
            "reason time: the scores give such numbers none"
        )
    slots, fourth, extra_rows, extra_times = place_times(times, taken, free)
    channels = np.zeros(len(batch), dtype=np.uint32)
    for index, network in enumerate(NETWORKS):
        for suffix, bit in (("bound", BOUND), ("active", ACTIVE), ("mobile_app", MOBILE_APP)):
            set_bit = _numpy(columns[f"{network.value}_{suffix}"]).astype(bool, copy=False)
            np.bitwise_or(channels, bit << (CHANNEL_BITS * index), out=channels, where=set_bit)
    encoded = {
        "phone": _numpy(columns["phone"]).astype(np.int64),
        "verdict": pack_verdict(status, risk, mask, channels),
        "owner_since": _seconds(columns["owner_since"]),
        "last_confirmed_at": np.where(free, fourth, confirmed),
    }
    encoded |= dict(zip(SLOTS, slots, strict=True))
    return encoded, extra_rows, extra_times


def _fill(path: Path, count: int, batches: Iterable[pa.RecordBatch]) -> tuple[int, np.ndarray]:
    """Write the encoded batches into the file's columns; return how many numbers came, and
    their extra times (EXTRA pairs)."""
    written, last_key = 0, np.iinfo(np.int64).min
    starts = offsets(COLUMNS, count)
    extras: list[np.ndarray] = []
    mapped = np.memmap(path, dtype=np.uint8, mode="r+", shape=(starts["end"],))
    try:
        for batch in batches:
            encoded, extra_rows, extra_times = _encode(batch)
            keys = encoded["phone"]
            if len(keys) and (keys[0] <= last_key or np.any(np.diff(keys) <= 0)):
                raise SnapshotError("numbers must come in strictly increasing order, once each")
            last_key = int(keys[-1]) if len(keys) else last_key
            if written + len(batch) > count:
                raise SnapshotError("more numbers came than the snapshot was sized for")
            for name, dtype in COLUMNS:
                width = np.dtype(dtype).itemsize
                start = starts[name] + written * width
                mapped[start : start + width * len(batch)] = encoded[name].view(np.uint8)
            pairs = np.empty(len(extra_rows), dtype=EXTRA)
            pairs["row"], pairs["at"] = extra_rows + written, extra_times
            extras.append(pairs)
            written += len(batch)
        mapped.flush()
    finally:
        del mapped
    return written, np.concatenate(extras) if extras else np.empty(0, dtype=EXTRA)


def write_snapshot(
    target: Path,
    batches: Iterable[pa.RecordBatch],
    count: int,
    as_of: int,
    coverage_from: int | None,
) -> None:
    """Write the classification rows (sorted by phone) as a snapshot, atomically.

    `coverage_from` is where the history's coverage starts (`publish.coverage_start`): no check
    can answer for earlier.
    """
    if count > np.iinfo(np.uint32).max:
        raise SnapshotError(f"{count} numbers do not fit a snapshot's u32 rows")
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    columns_end = offsets(COLUMNS, count)["end"]
    with temporary.open("wb") as handle:
        handle.truncate(columns_end)
    try:
        written, extras = _fill(temporary, count, batches)
        if written != count:
            raise SnapshotError(f"expected {count} numbers, got {written}")
        with temporary.open("r+b") as handle:
            # the header last, with the count of extra times known
            handle.seek(columns_end)
            handle.write(extras.tobytes())
            handle.seek(0)
            handle.write(
                HEADER.pack(
                    MAGIC,
                    FORMAT_VERSION,
                    len(extras),
                    count,
                    as_of,
                    int(datetime.now(UTC).timestamp()),
                    coverage_from or 0,
                )
            )
    except BaseException:
        temporary.unlink()  # whatever went wrong, no half-written file is left behind
        raise
    os.replace(temporary, target)


EPOCH = datetime(1970, 1, 1)


def _moment(seconds: int) -> datetime | None:
    """A snapshot time as naive UTC (0 is none)."""
    return EPOCH + timedelta(seconds=int(seconds)) if seconds else None


@dataclass(frozen=True)
class SnapshotRecord:
    phone: int
    status: Status
    risk_score: int
    reasons: tuple[Reason, ...]
    # the time of each reason's event, in the order of `reasons`
    reason_times: tuple[datetime | None, ...]
    owner_since: datetime | None
    last_code_at: datetime | None
    last_confirmed_at: datetime | None
    channels: tuple[ChannelState, ...]

    def verdict(self) -> Verdict:
        """The record as a core verdict."""
        return Verdict(
            status=self.status,
            risk_score=self.risk_score,
            evidence=tuple(map(Evidence, self.reasons, self.reason_times)),
            owner_since=self.owner_since,
            last_code_at=self.last_code_at,
            last_confirmed_at=self.last_confirmed_at,
        )


class Snapshot:
    """A read-only, memory-mapped snapshot. Lookups are a binary search over the keys."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # one open file for the header, the size and the mapping: a snapshot published
        # between reads by path would pair one file's count with another's bytes
        with path.open("rb") as handle:
            header = handle.read(HEADER.size)
            stat = os.fstat(handle.fileno())
            if len(header) < HEADER.size:
                raise SnapshotError(f"{path} is not a snapshot: too short")
            magic, version, extras, count, as_of, created_at, coverage_from = HEADER.unpack(header)
            if magic != MAGIC:
                raise SnapshotError(f"{path} is not a snapshot: bad magic")
            if version not in (2, FORMAT_VERSION):
                raise SnapshotError(
                    f"{path} has format {version}, this reader knows 2 and {FORMAT_VERSION}"
                )
            layout = COLUMNS if version == FORMAT_VERSION else snapshot_v2.COLUMNS
            extras = extras if version == FORMAT_VERSION else 0  # reserved, 0, in format 2
            columns_end = offsets(layout, count)["end"]
            expected = columns_end + EXTRA.itemsize * extras
            if stat.st_size != expected:
                raise SnapshotError(f"{path} is truncated: {stat.st_size} of {expected} bytes")
            # one read-only mapping of the file; the columns are plain arrays over it (a plain
            # array reads a value faster than np.memmap), and they keep the mapping alive
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        # which file this is, as a reader that watches the path tells a new one
        self.identity = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        self.count = int(count)
        self.format = int(version)
        self.as_of = _moment(as_of)
        self.created_at = _moment(created_at)
        self.coverage_from = _moment(coverage_from)
        self.size_bytes = expected
        starts = offsets(layout, self.count)
        self.columns: dict[str, np.ndarray] = {
            name: np.frombuffer(mapped, dtype=dtype, count=self.count, offset=starts[name])
            for name, dtype in layout
        }
        self.extras = np.frombuffer(mapped, dtype=EXTRA, count=extras, offset=columns_end)
        if version != FORMAT_VERSION:
            self.columns, self.extras = snapshot_v2.as_format_3(self.columns)
        # the rows with extra times, in order, each with as many as its reasons take: read at
        # the cost of the extra times alone, not of every number (a swap must not wait), and a
        # lookup takes a row's own or none, never another number's
        rows = self.extras["row"]
        distinct, counts = np.unique(rows, return_counts=True)
        if len(rows) and (
            np.any(np.diff(rows.astype(np.int64)) < 0)
            or rows[-1] >= self.count
            or not np.array_equal(extras_needed(self.columns["verdict"][distinct]), counts)
        ):
            raise SnapshotError(
                f"{path} is damaged: its extra times are not those of its numbers' reasons"
            )

    def __len__(self) -> int:
        return self.count

    def positions(self, keys: np.ndarray) -> np.ndarray:
        """Row of each key, or -1 where the number is not in the snapshot."""
        phones = self.columns["phone"]
        # searching in key order walks the file forwards, which the page cache prefers
        order = np.argsort(keys, kind="stable")
        found = np.empty(len(keys), dtype=np.int64)
        found[order] = np.searchsorted(phones, keys[order])
        clipped = np.minimum(found, max(self.count - 1, 0))
        hit = (found < self.count) & (phones[clipped] == keys) if self.count else found < 0
        return np.where(hit, found, -1)

    def extra_times(self, positions: np.ndarray, count: int) -> list[np.ndarray]:
        """The first `count` extra times of the rows at `positions` (0 where a row has fewer)."""
        rows, times = self.extras["row"], self.extras["at"]
        if not len(rows):
            return [np.zeros(len(positions), dtype=np.uint32) for _ in range(count)]
        start = np.searchsorted(rows, positions)
        found = []
        for index in range(count):
            at = np.minimum(start + index, len(rows) - 1)
            hit = (start + index < len(rows)) & (rows[at] == positions)
            found.append(np.where(hit, times[at], 0).astype(np.uint32))
        return found

    def record(self, position: int) -> SnapshotRecord:
        columns = self.columns
        packed = int(columns["verdict"][position])
        plan = time_plan(packed & STATUS_MASK, packed >> REASONS_SHIFT)
        times = [int(columns[name][position]) for name in ("last_confirmed_at", *SLOTS)]
        if plan.extras:
            rows = self.extras["row"]
            start = int(rows.searchsorted(position))
            own = rows[start : start + plan.extras] == position  # none, in a damaged file
            times += np.where(own, self.extras["at"][start : start + plan.extras], 0).tolist()
            times += [0] * (FIRST_EXTRA_SOURCE + plan.extras - len(times))
        return SnapshotRecord(
            phone=int(columns["phone"][position]),
            status=STATUS_BY_CODE[packed & STATUS_MASK],
            risk_score=(packed >> RISK_SHIFT) & RISK_BITS,
            reasons=plan.reasons,
            reason_times=tuple(
                None if source is None else _moment(times[source]) for source in plan.sources
            ),
            owner_since=_moment(columns["owner_since"][position]),
            last_code_at=_moment(times[1]) if plan.code_slot else None,
            last_confirmed_at=_moment(times[0]) if plan.confirmed else None,
            channels=channels_from_bits((packed >> CHANNELS_SHIFT) & CHANNELS_BITS),
        )

    def lookup(self, key: int) -> SnapshotRecord | None:
        if not self.count:
            return None
        phones = self.columns["phone"]
        position = int(phones.searchsorted(key))
        if position < self.count and int(phones[position]) == key:
            return self.record(position)
        return None
