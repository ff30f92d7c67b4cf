"""Format 2 of the serving snapshot, read until the next scoring run replaces the file.

Format 2 kept 30 bytes a number: phone i64, status_risk u16 (status in the high 4 bits, risk
in the low 12), reasons u16 (the mask), owner_since, last_code_at, last_confirmed_at and
evidence_at u32, channels u16. The code reasons took `last_code_at`, RECENT_CONFIRMATION
`last_confirmed_at`, and every other reason one shared time, `evidence_at`, the latest of
theirs. Its columns are turned into format 3's, each reason given the time format 2 gave it,
so that a service started on an old file answers as it did. The turned columns live in each
worker's memory (16 bytes a number) rather than in the shared mapping: for one night at most.
"""

from __future__ import annotations

import numpy as np

from pipelines.snapshot_format import (
    EXTRA,
    SLOTS,
    SLOTTED_REASONS,
    code_slots,
    confirmations_free,
    pack_verdict,
    place_times,
)

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
STATUS_SHIFT = 12
RISK_MASK = (1 << STATUS_SHIFT) - 1


def as_format_3(columns: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Format 2's columns as format 3's, and the extra times (EXTRA pairs)."""
    status = columns["status_risk"] >> STATUS_SHIFT
    mask = columns["reasons"].astype(np.uint32)
    code_slot = code_slots(status, mask)
    times = [np.where(code_slot, columns["last_code_at"], 0)]
    times += [columns["evidence_at"]] * len(SLOTTED_REASONS)
    taken = [code_slot, *((mask & reason.bit) > 0 for reason in SLOTTED_REASONS)]
    free = confirmations_free(status, mask)  # format 2 gave them no confirmation either
    slots, fourth, extra_rows, extra_times = place_times(times, taken, free)
    extras = np.empty(len(extra_rows), dtype=EXTRA)
    extras["row"], extras["at"] = extra_rows, extra_times
    turned = {
        "phone": columns["phone"],
        "verdict": pack_verdict(
            status, columns["status_risk"] & RISK_MASK, mask, columns["channels"]
        ),
        "owner_since": columns["owner_since"],
        "last_confirmed_at": np.where(free, fourth, columns["last_confirmed_at"]),
    }
    turned |= dict(zip(SLOTS, slots, strict=True))
    return turned, extras
