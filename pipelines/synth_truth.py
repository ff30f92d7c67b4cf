"""What the rules are measured against: the truth labels of each number, and the current state
of the social accounts bound to it.

Definitions (also in docs/synth.md):
- the *current holder* holds the number at `end`; there is none when it is out of service;
- the *reference holder* is the earlier of: the first holder whose tenure reaches into the
  history, and the holder the events first show (the one holding the number at its first
  event or, when that event falls between two holders, the last one before it);
- `owner_changed`: some social account bound at `end` belongs to someone other than the current
  holder; for a number with no bound account, the current holder is not the reference holder;
- the *subjects* are the holders whose accounts (or, without accounts, whose tenure) the change
  is about; a subject's *last proof* is the latest of: taking the number, their last code entry
  on it, their last registration on it (one made before `start` has no code entry in the
  events, but the registration row is there);
- `evidence`: after a subject's last proof there is a `number_changes` row, an
  `unknown_subscriber` SMS failure, or a registration by another person whose recorded
  parameters differ from one of the subject's own registrations in at least
  `PROFILE_MISMATCH_MIN_FIELDS` of name, birth date and gender, each present on both (DESIGN §4:
  "do not match the previous holder's"). Every account bound in the history has its
  registration in the events, so the subject's parameters are there whenever they have an
  account; one field off is what the same person's re-registration looks like, so it does not
  count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from pipelines.synth_events import UNKNOWN_SUBSCRIBER, ChunkEvents, Registrations
from pipelines.synth_params import DAY, SynthParams
from pipelines.synth_people import Accounts, Tenures

NONE = -1
# As the rules' default `profile_mismatch_min_fields`: the same person's re-registration can
# differ in one field (a typo, a slipped date), two strangers differ in more.
PROFILE_MISMATCH_MIN_FIELDS = 2


@dataclass(frozen=True)
class Labels:
    owner_changed: np.ndarray
    evidence: np.ndarray
    current: np.ndarray  # tenure row of the current holder, NONE when out of service


@dataclass(frozen=True)
class BoundAccounts:
    """Social accounts bound to the numbers at `end` (rows of `Accounts`), with their state."""

    row: np.ndarray
    last_seen: np.ndarray
    mobile_app: np.ndarray


def bound_accounts(
    rng: np.random.Generator, tenures: Tenures, accounts: Accounts, params: SynthParams
) -> BoundAccounts:
    end = params.end_s
    row = np.flatnonzero(accounts.bound_at(end))
    holder = accounts.holder[row]
    size = row.size
    current = tenures.current[holder]
    recently = end - rng.exponential(2 * DAY, size).astype(np.int64)
    # A current holder who is not active was last seen days to a year ago; a previous holder
    # who gave the network up was last seen around the time they left the number.
    idle = end - rng.integers(7 * DAY, 365 * DAY, size)
    gave_up = np.minimum(tenures.held_until[holder] + rng.integers(0, 30 * DAY, size), end)
    active = np.where(
        current,
        rng.random(size) < params.active_owner_share,
        rng.random(size) < params.previous_owner_still_active_share,
    )
    last_seen = np.where(active, recently, np.where(current, idle, gave_up))
    return BoundAccounts(
        row=row,
        last_seen=np.maximum(last_seen, accounts.registered[row]),
        mobile_app=rng.random(size) < params.mobile_app_share,
    )


def label_numbers(
    phones: int,
    tenures: Tenures,
    accounts: Accounts,
    bound: BoundAccounts,
    events: ChunkEvents,
    params: SynthParams,
) -> Labels:
    current = np.full(phones, NONE, dtype=np.int64)
    holding = np.flatnonzero(tenures.current)
    current[tenures.phone[holding]] = holding
    reference = _reference_holders(phones, tenures, events, params)

    bound_holder = accounts.holder[bound.row]
    bound_phone = tenures.phone[bound_holder]
    has_bound = np.bincount(bound_phone, minlength=phones) > 0
    stale = bound_holder != current[bound_phone]
    unbound_change = np.flatnonzero(~has_bound & (reference != current) & (reference != NONE))
    subject = np.unique(np.concatenate([bound_holder[stale], reference[unbound_change]]))
    subject_phone = tenures.phone[subject]
    owner_changed = np.zeros(phones, dtype=bool)
    owner_changed[subject_phone] = True

    codes, reg = events.code_entries, events.registrations
    last_proof = np.maximum.reduce(
        [
            tenures.held_from[subject],
            _latest(tenures.size, codes.holder, codes.ts)[subject],
            _latest(tenures.size, reg.holder, reg.ts)[subject],
        ]
    )
    latest_trace = np.full(phones, np.iinfo(np.int64).min, dtype=np.int64)
    sms = events.sms_deliveries
    failed = sms.error == UNKNOWN_SUBSCRIBER
    changes = events.number_changes
    trace_phone = np.concatenate([sms.phone[failed], changes.phone])
    trace_ts = np.concatenate([sms.ts[failed], changes.ts])
    np.maximum.at(latest_trace, trace_phone, trace_ts)
    evident = latest_trace[subject_phone] > last_proof
    evident |= _stranger_registered(subject, subject_phone, last_proof, reg)

    evidence = np.zeros(phones, dtype=bool)
    evidence[subject_phone[evident]] = True
    return Labels(owner_changed=owner_changed, evidence=evidence, current=current)


def _reference_holders(
    phones: int, tenures: Tenures, events: ChunkEvents, params: SynthParams
) -> np.ndarray:
    """Per number, the tenure row of its reference holder (NONE if it has no holder in view).

    The earlier of: the first holder whose tenure reaches into the history, and the holder the
    events first show. An earlier holder is in the events when an account of theirs stayed
    bound into the history (its registration is there), or when an SMS meant for them failed
    or their report of the change came in after they left: the number passed from them to the
    next holder where the rules can see it.
    """
    reaching = np.flatnonzero(tenures.current | (tenures.held_until > params.start_s))
    reference = np.full(phones, NONE, dtype=np.int64)
    first_phone, first_at = np.unique(tenures.phone[reaching], return_index=True)
    reference[first_phone] = reaching[first_at]

    streams = (
        events.registrations,
        events.code_entries,
        events.sms_deliveries,
        events.number_changes,
    )
    first_event = np.full(phones, np.iinfo(np.int64).max, dtype=np.int64)
    for stream in streams:
        np.minimum.at(first_event, stream.phone, stream.ts)
    seen = np.flatnonzero(first_event < np.iinfo(np.int64).max)
    if not seen.size:
        return reference
    # Tenures are ordered by number, then by time: one sorted key finds, for each number's
    # first event, the last tenure that began at or before it.
    base = min(int(tenures.held_from.min()), int(first_event[seen].min()))
    tenure_key = (tenures.phone << 34) + (tenures.held_from - base)
    event_key = (seen << 34) + (first_event[seen] - base)
    at = np.searchsorted(tenure_key, event_key, side="right") - 1
    found = (at >= 0) & (tenures.phone[np.maximum(at, 0)] == seen)
    shown, shown_at = seen[found], at[found]
    # rows of a number are in time order, so the smaller row is the earlier holder
    reference[shown] = np.where(
        reference[shown] == NONE, shown_at, np.minimum(reference[shown], shown_at)
    )
    return reference


def _latest(size: int, index: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Per index in 0..size-1, the latest of its times (int64 min if it has none)."""
    last = np.full(size, np.iinfo(np.int64).min, dtype=np.int64)
    if ts.size:
        order = np.argsort((index << 34) + (ts - ts.min()))
        index = index[order]
        is_last = np.append(index[1:] != index[:-1], True)
        last[index[is_last]] = ts[order][is_last]
    return last


def _stranger_registered(
    subject: np.ndarray,
    subject_phone: np.ndarray,
    last_proof: np.ndarray,
    reg: Registrations,
) -> np.ndarray:
    """Per subject: someone else registered on the number after the subject's last proof, with
    parameters that differ from one of the subject's own registrations in at least
    PROFILE_MISMATCH_MIN_FIELDS fields present on both. A subject with no registration (no
    account) leaves nothing to compare with, which is also all a classifier would see."""
    recorded = pl.DataFrame(
        {
            "phone": reg.phone,
            "ts": reg.ts,
            "holder": reg.holder,
            "name": reg.name_key,
            "birth": reg.birth_day,
            "male": reg.male,
            "name_missing": reg.name_missing,
            "birth_missing": reg.birth_missing,
            "gender_missing": reg.gender_missing,
        }
    ).select(
        "phone",
        "ts",
        "holder",
        pl.when(~pl.col("name_missing")).then(pl.col("name")).alias("name"),
        pl.when(~pl.col("birth_missing")).then(pl.col("birth")).alias("birth"),
        pl.when(~pl.col("gender_missing")).then(pl.col("male")).alias("male"),
    )
    subjects = pl.DataFrame(
        {"i": np.arange(subject.size), "phone": subject_phone, "subject": subject}
    ).with_columns(last_proof=pl.Series(last_proof))
    own = recorded.select(
        pl.col("holder").alias("subject"),
        pl.col("name").alias("own_name"),
        pl.col("birth").alias("own_birth"),
        pl.col("male").alias("own_male"),
    )
    # A field missing on either side neither differs nor agrees.
    differing = pl.sum_horizontal(
        (pl.col(field) != pl.col(f"own_{field}")).fill_null(False).cast(pl.Int8)
        for field in ("name", "birth", "male")
    )
    hits = (
        subjects.join(recorded, on="phone")
        .filter((pl.col("holder") != pl.col("subject")) & (pl.col("ts") > pl.col("last_proof")))
        .join(own, on="subject")
        .filter(differing >= PROFILE_MISMATCH_MIN_FIELDS)
        .get_column("i")
        .unique()
        .to_numpy()
    )
    out = np.zeros(subject.size, dtype=bool)
    out[hits] = True
    return out
