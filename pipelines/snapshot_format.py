"""The serving snapshot's format 3: its layout, and where each reason keeps its time.

The writer (pipelines.snapshot), the reader (the same module), format 2's reader
(pipelines.snapshot_v2) and the bulk check (api.checks) all place a number's times by
`time_plan`, so that no two of them can disagree on which time is whose.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cache

import numpy as np

from ownership.channels import SOCIAL_CHANNELS, Channel, ChannelState
from ownership.verdicts import REASON_ORDER, Reason, StatusCode, reasons_from_mask

MAGIC = b"OWNSNAP1"
FORMAT_VERSION = 3
# magic, format version, extra times (format 3; reserved before), count, as_of, created_at,
# coverage_from, 16 reserved bytes
HEADER = struct.Struct("<8sIIQqqq16x")
SLOTS = ("at_0", "at_1", "at_2")
COLUMNS: tuple[tuple[str, type[np.generic]], ...] = (
    ("phone", np.int64),
    ("verdict", np.uint32),
    ("owner_since", np.uint32),
    ("last_confirmed_at", np.uint32),
    *((slot, np.uint32) for slot in SLOTS),
)
BYTES_PER_NUMBER = sum(np.dtype(dtype).itemsize for _, dtype in COLUMNS)
# a reason time past a number's third slot: its row, and the time
EXTRA = np.dtype([("row", "<u4"), ("at", "<u4")])

# `verdict`: status, channels, risk score and reason mask in one u32; status and channels are
# its low byte, all that the notify policy reads besides freshness
STATUS_MASK = 0x3
CHANNELS_SHIFT = 2
CHANNELS_BITS = 0x3F
RISK_SHIFT = 8
RISK_BITS = 0x3FF
RISK_MAX = 1000
REASONS_SHIFT = 18
REASONS_BITS = (1 << len(REASON_ORDER)) - 1

CHANNEL_BITS = 3
BOUND, ACTIVE, MOBILE_APP = 1, 2, 4
NETWORKS: tuple[Channel, ...] = SOCIAL_CHANNELS

# The reasons timed by the last code, which a number keeps in its first slot.
CODE_REASONS = (Reason.RECENT_CODE_ENTRY, Reason.NO_RECENT_CODE)
CODE_MASK = sum(reason.bit for reason in CODE_REASONS)
# The reasons that take a slot of their own, in this order, after the code's.
SLOTTED_REASONS = tuple(
    reason
    for reason in REASON_ORDER
    if reason not in CODE_REASONS and reason not in (Reason.RECENT_CONFIRMATION, Reason.NO_HISTORY)
)
# A row's times, as `TimePlan.sources` indexes them: last_confirmed_at, the three slots, then
# the row's extra times.
CONFIRMED_SOURCE = 0
FIRST_EXTRA_SOURCE = 1 + len(SLOTS)


def confirmation_is_free(status: int, mask: int) -> bool:
    """Whether the number's `last_confirmed_at` column holds a reason time instead: an
    owner_changed number has no last confirmation (the scores give it none), and its fourth
    change signal's time goes there, so that no number needs more than 32 bytes."""
    return status == StatusCode.OWNER_CHANGED and not mask & Reason.RECENT_CONFIRMATION.bit


def confirmations_free(status: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`confirmation_is_free` of every row."""
    free: np.ndarray = (status == StatusCode.OWNER_CHANGED) & (
        (mask & Reason.RECENT_CONFIRMATION.bit) == 0
    )
    return free


def has_code_slot(status: int, mask: int) -> bool:
    """Whether the number's first slot is its last code: any number but an owner_changed one,
    whose codes were the previous holder's (the scores give it no last code)."""
    return status != StatusCode.OWNER_CHANGED or bool(mask & CODE_MASK)


def code_slots(status: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`has_code_slot` of every row."""
    slots: np.ndarray = (status != StatusCode.OWNER_CHANGED) | ((mask & CODE_MASK) > 0)
    return slots


@dataclass(frozen=True)
class TimePlan:
    """Where the reasons of one status and mask find their times in a row."""

    reasons: tuple[Reason, ...]
    # per reason, an index into the row's times (last_confirmed_at, at_0, at_1, at_2, then its
    # extra times); None for NO_HISTORY, which no event stands behind
    sources: tuple[int | None, ...]
    # whether at_0 is the last code (Verdict.last_code_at, the proof freshness reads)
    code_slot: bool
    # whether last_confirmed_at is the last confirmation, not a reason time
    confirmed: bool
    # how many extra times the row has
    extras: int


@cache  # a few hundred distinct statuses and masks
def time_plan(status: int, mask: int) -> TimePlan:
    code_slot = has_code_slot(status, mask)
    free = confirmation_is_free(status, mask)
    # the slots a reason may take, in order: the three (less the code's), then the free column
    places = [*range(2 if code_slot else 1, FIRST_EXTRA_SOURCE), *([CONFIRMED_SOURCE] * free)]
    sources: list[int | None] = []
    taken = 0
    for reason in reasons_from_mask(mask):
        if reason is Reason.RECENT_CONFIRMATION:
            sources.append(CONFIRMED_SOURCE)
        elif reason is Reason.NO_HISTORY:
            sources.append(None)
        elif reason in CODE_REASONS:
            sources.append(1)
        else:
            extra = FIRST_EXTRA_SOURCE + taken - len(places)
            sources.append(places[taken] if taken < len(places) else extra)
            taken += 1
    return TimePlan(
        reasons_from_mask(mask), tuple(sources), code_slot, not free, max(0, taken - len(places))
    )


def extras_needed(verdicts: np.ndarray) -> np.ndarray:
    """How many extra times each row's status and reasons take (`TimePlan.extras`)."""
    status, mask = verdicts & STATUS_MASK, verdicts >> REASONS_SHIFT
    slotted_mask = sum(reason.bit for reason in SLOTTED_REASONS)
    taken = np.bitwise_count(mask & slotted_mask).astype(np.int64)
    places = len(SLOTS) - code_slots(status, mask) + confirmations_free(status, mask)
    needed: np.ndarray = np.maximum(taken - places, 0)
    return needed


def place_times(
    times: list[np.ndarray], taken: list[np.ndarray], free: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each row's taken times, in the order given: the first three into slots (3 × rows, 0
    where none), a fourth into the confirmation column where it is `free` (0 elsewhere), the
    rest as extra (row, time) pairs, by row and then in order.

    Column by column, over the rows that take each: no temporary as large as all the times.
    """
    slots = np.zeros((len(SLOTS), len(taken[0])), dtype=np.uint32)
    fourth = np.zeros(len(taken[0]), dtype=np.uint32)
    placed = np.zeros(len(taken[0]), dtype=np.uint8)  # how many times each row has so far
    extra_rows, extra_times = [np.empty(0, np.int64)], [np.empty(0, np.uint32)]
    for time, held in zip(times, taken, strict=True):
        rows = np.flatnonzero(held)
        rank = placed[rows]
        inside = rank < len(SLOTS)
        slots[rank[inside], rows[inside]] = time[rows[inside]]
        in_fourth = (rank == len(SLOTS)) & free[rows]
        fourth[rows[in_fourth]] = time[rows[in_fourth]]
        beyond = ~inside & ~in_fourth
        extra_rows.append(rows[beyond])
        extra_times.append(time[rows[beyond]].astype(np.uint32))
        placed[rows] += 1
    rows = np.concatenate(extra_rows)
    order = np.argsort(rows, kind="stable")  # stable: a row's extras stay in reason order
    return slots, fourth, rows[order], np.concatenate(extra_times)[order]


def pack_verdict(
    status: np.ndarray, risk: np.ndarray, mask: np.ndarray, channels: np.ndarray
) -> np.ndarray:
    return (
        status.astype(np.uint32)
        | (channels.astype(np.uint32) << CHANNELS_SHIFT)
        | (risk.astype(np.uint32) << RISK_SHIFT)
        | (mask.astype(np.uint32) << REASONS_SHIFT)
    )


@cache
def channels_from_bits(bits: int) -> tuple[ChannelState, ...]:
    """The bound networks packed in a snapshot's channel bits."""
    found = []
    for index, network in enumerate(NETWORKS):
        flags = bits >> (CHANNEL_BITS * index)
        if flags & BOUND:
            found.append(ChannelState(network, bool(flags & ACTIVE), bool(flags & MOBILE_APP)))
    return tuple(found)
