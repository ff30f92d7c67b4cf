"""The serving snapshot (DESIGN §5): sorted int64 phone keys plus fixed-width columns.

30 bytes a number (the budget is 32), memory-mapped and shared by every API worker. Layout,
little-endian:

    header (64 bytes): magic b"OWNSNAP1", format version u32, reserved u32, count u64,
                       as_of i64 (epoch seconds), created_at i64, coverage_from i64 (the
                       history's first event), 16 reserved bytes
    then one block per column, in COLUMNS order, each `count` values long.

Times are u32 seconds since the epoch (0 = none), good until 2106. `status_risk` packs the
status code (high 4 bits) and the risk score (low 12 bits). `reasons` is the mask of
`Reason.bit`. Code and confirmation reasons take their times from `last_code_at` and
`last_confirmed_at`; the others share one, `evidence_at`, the latest event behind them;
`scores.parquet` has every reason's own time. `channels` holds three bits
a network (bound, active within A before as_of, active with the mobile app), VK's in bits
0-2 and OK's in bits 3-5.
A snapshot is written under a temporary name and renamed into place, so a reader sees the old
file or the new one, never a half-written one.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa

from ownership.channels import SOCIAL_CHANNELS, Channel, ChannelState
from ownership.verdicts import (
    REASON_ORDER,
    Evidence,
    Reason,
    Status,
    StatusCode,
    Verdict,
    reasons_from_mask,
)

MAGIC = b"OWNSNAP1"
FORMAT_VERSION = 2
HEADER = struct.Struct("<8sIIQqqq16x")
COLUMNS: tuple[tuple[str, type[np.generic]], ...] = (
    ("phone", np.int64),
    ("status_risk", np.uint16),
    ("reasons", np.uint16),
    ("owner_since", np.uint32),
    ("last_code_at", np.uint32),
    ("last_confirmed_at", np.uint32),
    ("evidence_at", np.uint32),
    ("channels", np.uint16),
)
BYTES_PER_NUMBER = sum(np.dtype(dtype).itemsize for _, dtype in COLUMNS)
STATUS_SHIFT = 12
RISK_MASK = (1 << STATUS_SHIFT) - 1
STATUS_CODES = {status.value: StatusCode[status.name].value for status in Status}
STATUS_BY_CODE = {code.value: Status[code.name] for code in StatusCode}
_reasons = cache(reasons_from_mask)  # a few hundred distinct masks
CHANNEL_BITS = 3
BOUND, ACTIVE, MOBILE_APP = 1, 2, 4
NETWORKS: tuple[Channel, ...] = SOCIAL_CHANNELS


# The snapshot column that times each reason; the rest take `evidence_at`, NO_HISTORY none.
REASON_TIME_COLUMNS: dict[Reason, str | None] = {
    **{reason: "evidence_at" for reason in REASON_ORDER},
    Reason.RECENT_CODE_ENTRY: "last_code_at",
    Reason.NO_RECENT_CODE: "last_code_at",
    Reason.RECENT_CONFIRMATION: "last_confirmed_at",
    Reason.NO_HISTORY: None,
}


class SnapshotError(Exception):
    pass


def reason_columns(reason: Reason) -> tuple[str, str]:
    """The classification model's flag and time columns of a reason."""
    stem = reason.value.lower()
    return f"has_{stem}", f"{stem}_at"


def _offsets(count: int) -> dict[str, int]:
    offsets, position = {}, HEADER.size
    for name, dtype in COLUMNS:
        offsets[name] = position
        position += np.dtype(dtype).itemsize * count
    return offsets


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


def _encode(batch: pa.RecordBatch) -> dict[str, np.ndarray]:
    columns = {name: batch.column(name) for name in batch.schema.names}
    if columns["status"].null_count:
        raise SnapshotError("every number needs a status; some have none")
    # a handful of distinct statuses: map the dictionary, then index it
    encoded_status = columns["status"].dictionary_encode()
    try:
        codes = np.array(
            [STATUS_CODES[value] for value in encoded_status.dictionary.to_pylist()],
            dtype=np.uint16,
        )
    except KeyError as error:
        raise SnapshotError(f"status {error.args[0]!r} is not a known status") from error
    indices = _numpy(encoded_status.indices)
    status = codes[indices] if len(codes) else np.zeros(len(batch), dtype=np.uint16)
    risk = _numpy(columns["risk_score"]).astype(np.uint16)
    mask = np.zeros(len(batch), dtype=np.uint16)
    evidence_at = np.zeros(len(batch), dtype=np.uint32)
    for reason in REASON_ORDER:
        flag_name, at_name = reason_columns(reason)
        flag = _numpy(columns[flag_name])
        mask |= np.where(flag, reason.bit, 0).astype(np.uint16)
        if REASON_TIME_COLUMNS[reason] == "evidence_at":  # the others have columns of their own
            evidence_at = np.maximum(evidence_at, np.where(flag, _seconds(columns[at_name]), 0))
    channels = np.zeros(len(batch), dtype=np.uint16)
    for index, network in enumerate(NETWORKS):
        for suffix, bit in (("bound", BOUND), ("active", ACTIVE), ("mobile_app", MOBILE_APP)):
            set_bit = _numpy(columns[f"{network.value}_{suffix}"])
            channels |= np.where(set_bit, bit << (CHANNEL_BITS * index), 0).astype(np.uint16)
    return {
        "phone": _numpy(columns["phone"]).astype(np.int64),
        "status_risk": (status << STATUS_SHIFT) | risk,
        "reasons": mask,
        "owner_since": _seconds(columns["owner_since"]),
        "last_code_at": _seconds(columns["last_code_at"]),
        "last_confirmed_at": _seconds(columns["last_confirmed_at"]),
        "evidence_at": evidence_at,
        "channels": channels,
    }


def _fill(path: Path, size: int, offsets: dict[str, int], batches: Iterable[pa.RecordBatch]) -> int:
    """Write the encoded batches into the file's columns; return how many numbers came."""
    written, last_key = 0, np.iinfo(np.int64).min
    mapped = np.memmap(path, dtype=np.uint8, mode="r+", shape=(size,))
    try:
        for batch in batches:
            encoded = _encode(batch)
            keys = encoded["phone"]
            if len(keys) and (keys[0] <= last_key or np.any(np.diff(keys) <= 0)):
                raise SnapshotError("numbers must come in strictly increasing order, once each")
            last_key = int(keys[-1]) if len(keys) else last_key
            if written + len(batch) > (size - HEADER.size) // BYTES_PER_NUMBER:
                raise SnapshotError("more numbers came than the snapshot was sized for")
            for name, dtype in COLUMNS:
                width = np.dtype(dtype).itemsize
                start = offsets[name] + written * width
                mapped[start : start + width * len(batch)] = encoded[name].view(np.uint8)
            written += len(batch)
        mapped.flush()
    finally:
        del mapped
    return written


def write_snapshot(
    target: Path,
    batches: Iterable[pa.RecordBatch],
    count: int,
    as_of: int,
    coverage_from: int | None,
) -> None:
    """Write the classification rows (sorted by phone) as a snapshot, atomically.

    `coverage_from` is the time of the history's first event: no check can answer for earlier.
    """
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    offsets = _offsets(count)
    size = HEADER.size + BYTES_PER_NUMBER * count
    with temporary.open("wb") as handle:
        handle.write(
            HEADER.pack(
                MAGIC,
                FORMAT_VERSION,
                0,
                count,
                as_of,
                int(datetime.now(UTC).timestamp()),
                coverage_from or 0,
            )
        )
        handle.truncate(size)
    try:
        written = _fill(temporary, size, offsets, batches)
        if written != count:
            raise SnapshotError(f"expected {count} numbers, got {written}")
    except BaseException:
        temporary.unlink()  # whatever went wrong, no half-written file is left behind
        raise
    os.replace(temporary, target)


@cache
def channels_from_bits(bits: int) -> tuple[ChannelState, ...]:
    """The bound networks packed in a snapshot's `channels` value."""
    found = []
    for index, network in enumerate(NETWORKS):
        flags = bits >> (CHANNEL_BITS * index)
        if flags & BOUND:
            found.append(ChannelState(network, bool(flags & ACTIVE), bool(flags & MOBILE_APP)))
    return tuple(found)


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
    owner_since: datetime | None
    last_code_at: datetime | None
    last_confirmed_at: datetime | None
    evidence_at: datetime | None
    channels: tuple[ChannelState, ...]

    def verdict(self) -> Verdict:
        """The record as a core verdict; each reason gets the time the snapshot keeps for it."""
        times = {
            "evidence_at": self.evidence_at,
            "last_code_at": self.last_code_at,
            "last_confirmed_at": self.last_confirmed_at,
        }
        return Verdict(
            status=self.status,
            risk_score=self.risk_score,
            evidence=tuple(
                Evidence(reason, times.get(REASON_TIME_COLUMNS[reason] or ""))
                for reason in self.reasons
            ),
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
            magic, version, _, count, as_of, created_at, coverage_from = HEADER.unpack(header)
            if magic != MAGIC:
                raise SnapshotError(f"{path} is not a snapshot: bad magic")
            if version != FORMAT_VERSION:
                raise SnapshotError(
                    f"{path} has format {version}, this reader knows {FORMAT_VERSION}"
                )
            expected = HEADER.size + BYTES_PER_NUMBER * count
            if stat.st_size != expected:
                raise SnapshotError(f"{path} is truncated: {stat.st_size} of {expected} bytes")
            # one read-only mapping of the file; the columns are plain arrays over it (a plain
            # array reads a value faster than np.memmap), and they keep the mapping alive
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        # which file this is, as a reader that watches the path tells a new one
        self.identity = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        self.count = int(count)
        self.as_of = _moment(as_of)
        self.created_at = _moment(created_at)
        self.coverage_from = _moment(coverage_from)
        self.size_bytes = expected
        self.columns: dict[str, np.ndarray] = {}
        offsets = _offsets(self.count)
        for name, dtype in COLUMNS:
            self.columns[name] = np.frombuffer(
                mapped, dtype=dtype, count=self.count, offset=offsets[name]
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

    def record(self, position: int) -> SnapshotRecord:
        columns = self.columns
        packed = int(columns["status_risk"][position])
        return SnapshotRecord(
            phone=int(columns["phone"][position]),
            status=STATUS_BY_CODE[packed >> STATUS_SHIFT],
            risk_score=packed & RISK_MASK,
            reasons=_reasons(int(columns["reasons"][position])),
            owner_since=_moment(columns["owner_since"][position]),
            last_code_at=_moment(columns["last_code_at"][position]),
            last_confirmed_at=_moment(columns["last_confirmed_at"][position]),
            evidence_at=_moment(columns["evidence_at"][position]),
            channels=channels_from_bits(int(columns["channels"][position])),
        )

    def lookup(self, key: int) -> SnapshotRecord | None:
        if not self.count:
            return None
        phones = self.columns["phone"]
        position = int(phones.searchsorted(key))
        if position < self.count and int(phones[position]) == key:
            return self.record(position)
        return None
