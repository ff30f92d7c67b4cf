"""The events of one chunk: registrations, code entries, SMS delivery reports, number changes.

Rows are numpy columns keyed by the number's index within the chunk; `pipelines.synth` turns
them into Arrow tables. Rates are Poisson: a count per account (or per number) is drawn, then
that many uniform times in the exposure window, so the work is proportional to the events.

Every kind covers [start, end] only, except registrations: the registry knows every account
bound to the number at some time in the history, so an account created before `start` has its
registration row at its true creation time. Its code entry and code SMS, like every other event
before `start`, are not written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.synth_numbers import Numbers, RegionTable
from pipelines.synth_params import SynthParams
from pipelines.synth_people import SOCIAL, YEAR, Accounts, People, Tenures, product_names

# Order matters: the index is what the event columns store.
SMS_ERRORS = ("unknown_subscriber", "absent_subscriber", "network", "rejected", "expired", "other")
UNKNOWN_SUBSCRIBER, ABSENT_SUBSCRIBER = 0, 1
NO_ERROR = -1
# Birth-date slips of a re-registration: a day or two off, or the wrong year.
BIRTH_SLIPS = np.array([-365, -2, -1, 1, 2, 365])


@dataclass(frozen=True)
class Registrations:
    """Every account bound to the number at some time in the history, at its creation time
    (which may precede `start`), and the re-registrations inside the history."""

    phone: np.ndarray
    ts: np.ndarray
    product: np.ndarray
    key: np.ndarray
    holder: np.ndarray  # truth only: whose registration it is
    name_key: np.ndarray  # uint32; `*_missing` masks say which fields the product left out
    birth_day: np.ndarray
    male: np.ndarray
    region: np.ndarray
    name_missing: np.ndarray
    birth_missing: np.ndarray
    gender_missing: np.ndarray
    region_missing: np.ndarray


@dataclass(frozen=True)
class CodeEntries:
    phone: np.ndarray
    ts: np.ndarray
    product: np.ndarray
    key: np.ndarray
    key_missing: np.ndarray
    holder: np.ndarray  # truth only: who entered the code


@dataclass(frozen=True)
class SmsDeliveries:
    phone: np.ndarray
    ts: np.ndarray
    product: np.ndarray
    error: np.ndarray  # index into SMS_ERRORS, NO_ERROR when delivered


@dataclass(frozen=True)
class NumberChanges:
    phone: np.ndarray
    ts: np.ndarray
    product: np.ndarray
    key: np.ndarray
    reported: np.ndarray  # kind `reported`, else `unbound`


@dataclass(frozen=True)
class ChunkEvents:
    registrations: Registrations
    code_entries: CodeEntries
    sms_deliveries: SmsDeliveries
    number_changes: NumberChanges


def draw_events(
    rng: np.random.Generator,
    numbers: Numbers,
    tenures: Tenures,
    people: People,
    accounts: Accounts,
    regions: RegionTable,
    params: SynthParams,
) -> ChunkEvents:
    start, end = params.start_s, params.end_s
    phones = numbers.keys.size
    registrations = _registrations(rng, numbers, tenures, people, accounts, regions, params)
    changes = _number_changes(tenures, accounts, params)
    # A registration inside the history comes with its code entry and the code's SMS.
    entered = np.flatnonzero(registrations.ts >= start)

    # A person's code rate covers all their accounts; each account takes a share of it by its
    # product's weight. An account gets codes from its binding (or `start`) until its holder
    # leaves.
    weights = dict(params.product_code_weights)
    product_weight = np.array([weights.get(name, 0.0) for name in product_names(params)])
    weight = product_weight[accounts.product]
    person_weight = np.bincount(accounts.holder, weights=weight, minlength=tenures.size)
    share = np.divide(
        weight,
        person_weight[accounts.holder],
        out=np.zeros(accounts.size),
        where=person_weight[accounts.holder] > 0,
    )
    held_until = tenures.held_until[accounts.holder]
    lo = np.maximum(accounts.registered, start)
    exposure_years = np.maximum(held_until - lo, 0) / YEAR
    code_mean = people.code_rate[accounts.holder] * share * exposure_years
    # Each number's background SMS: a gamma-distributed appetite around the mean rate.
    shape = params.sms_rate_gamma_shape
    appetite = rng.gamma(shape, 1 / shape, phones) if shape > 0 else np.ones(phones)
    sms_mean = appetite * params.background_sms_per_month * 12 * (end - start) / YEAR

    if params.events_per_phone is not None:
        # A fixed density: the owner model fixes registrations, their code entries and SMS,
        # and number changes; one common factor scales both rate-driven streams into the rest.
        structural = registrations.ts.size + 2 * entered.size + changes.ts.size
        budget = max(0.0, params.events_per_phone * phones - structural)
        expected = 2 * float(code_mean.sum()) + float(sms_mean.sum())
        factor = budget / expected if expected else 0.0
        code_mean, sms_mean = code_mean * factor, sms_mean * factor

    count = rng.poisson(code_mean)
    row = np.repeat(np.arange(accounts.size), count)
    ts = lo[row] + (rng.random(row.size) * (held_until - lo)[row]).astype(np.int64)
    product = accounts.product[row]
    key_missing = (product >= len(SOCIAL)) & (
        rng.random(row.size) < params.other_code_account_missing_share
    )
    # Every registration in the history needs a code: same account, same moment.
    codes = CodeEntries(
        phone=np.concatenate([tenures.phone[accounts.holder[row]], registrations.phone[entered]]),
        ts=np.concatenate([ts, registrations.ts[entered]]),
        product=np.concatenate([product, registrations.product[entered]]),
        key=np.concatenate([accounts.key[row], registrations.key[entered]]),
        key_missing=np.concatenate([key_missing, np.zeros(entered.size, bool)]),
        holder=np.concatenate([accounts.holder[row], registrations.holder[entered]]),
    )
    sms = _sms(rng, tenures, codes, rng.poisson(sms_mean), params)
    return ChunkEvents(registrations, codes, sms, changes)


def _registrations(
    rng: np.random.Generator,
    numbers: Numbers,
    tenures: Tenures,
    people: People,
    accounts: Accounts,
    regions: RegionTable,
    params: SynthParams,
) -> Registrations:
    """The only kind with rows before `start`; see `Registrations`."""
    start = params.start_s
    # Every account bound to the number at some time in the history, however long ago it was
    # created (its creation lies in its holder's tenure, and not before `accounts_since`).
    first = np.flatnonzero(accounts.bound_after(start))
    # A re-registration of the same account later in the tenure (reinstall, re-binding).
    held_until = tenures.held_until[accounts.holder]
    lo = np.maximum(accounts.registered, start)
    again = np.flatnonzero(
        (rng.random(accounts.size) < params.reregistration_share) & (held_until > lo)
    )
    again_ts = lo[again] + (rng.random(again.size) * (held_until - lo)[again]).astype(np.int64)
    row = np.concatenate([first, again])
    ts = np.concatenate([accounts.registered[first], again_ts])
    holder = accounts.holder[row]
    size = row.size

    name_key = people.name_key[holder].copy()
    birth_day = people.birth_day[holder].copy()
    region = people.region[holder].copy()
    # One field differs now and then: a typo in the name, a slipped birth date, a move.
    variant = rng.random(size) < params.variant_field_share
    field = rng.integers(0, 3, size)
    slip = variant & (field == 0)
    name_key[slip] = rng.integers(0, 2**32, int(slip.sum()), dtype=np.uint32)
    slip = variant & (field == 1)
    birth_day[slip] += rng.choice(BIRTH_SLIPS, int(slip.sum())).astype(np.int32)
    slip = variant & (field == 2)
    region[slip] = regions.draw(rng, numbers.country[tenures.phone[holder[slip]]])
    return Registrations(
        phone=tenures.phone[holder],
        ts=ts,
        product=accounts.product[row],
        key=accounts.key[row],
        holder=holder,
        name_key=name_key,
        birth_day=birth_day,
        male=people.male[holder],
        region=region,
        name_missing=rng.random(size) < params.missing_name_share,
        birth_missing=rng.random(size) < params.missing_birth_date_share,
        gender_missing=rng.random(size) < params.missing_gender_share,
        region_missing=rng.random(size) < params.missing_region_share,
    )


def _number_changes(tenures: Tenures, accounts: Accounts, params: SynthParams) -> NumberChanges:
    row = np.flatnonzero(
        (accounts.report_at >= params.start_s) & (accounts.report_at < params.end_s)
    )
    return NumberChanges(
        phone=tenures.phone[accounts.holder[row]],
        ts=accounts.report_at[row],
        product=accounts.product[row],
        key=accounts.key[row],
        reported=accounts.report_reported[row],
    )


def _sms(
    rng: np.random.Generator,
    tenures: Tenures,
    codes: CodeEntries,
    background: np.ndarray,
    params: SynthParams,
) -> SmsDeliveries:
    """The SMS of the code entries, then `background[i]` more SMS to number i."""
    start, end = params.start_s, params.end_s
    names = product_names(params)
    # Each code was sent by SMS a few seconds before it was entered; those all got through.
    lead = rng.integers(
        params.code_sms_lead_seconds_min, params.code_sms_lead_seconds_max + 1, codes.ts.size
    )
    code_sms_ts = np.maximum(codes.ts - lead, start)

    phone = np.repeat(np.arange(background.size, dtype=np.int64), background)
    ts = start + (rng.random(phone.size) * (end - start)).astype(np.int64)
    senders, shares = zip(*params.sms_product_weights, strict=True)
    p = np.array(shares) / sum(shares)
    product = np.array([names.index(s) for s in senders])[rng.choice(len(p), phone.size, p=p)]
    error = _background_errors(rng, tenures, phone, ts, params)
    return SmsDeliveries(
        phone=np.concatenate([codes.phone, phone]),
        ts=np.concatenate([code_sms_ts, ts]),
        product=np.concatenate([codes.product, product]).astype(np.int16),
        error=np.concatenate([np.full(codes.ts.size, NO_ERROR, np.int8), error]),
    )


def _background_errors(
    rng: np.random.Generator,
    tenures: Tenures,
    phone: np.ndarray,
    ts: np.ndarray,
    params: SynthParams,
) -> np.ndarray:
    """The delivery outcome of each SMS, from the number's state at the time it was sent."""
    # Each tenure opens up to three segments: in service, then (after the holder leaves) off
    # but still allocated, then taken back by the operator until the next holder.
    leaving = ~tenures.current
    seg_phone = np.concatenate([tenures.phone, tenures.phone[leaving], tenures.phone[leaving]])
    seg_start = np.concatenate(
        [tenures.held_from, tenures.held_until[leaving], tenures.reclaimed[leaving]]
    )
    seg_state = np.concatenate(
        [
            np.full(tenures.size, NO_ERROR, np.int8),
            np.full(int(leaving.sum()), ABSENT_SUBSCRIBER, np.int8),
            np.full(int(leaving.sum()), UNKNOWN_SUBSCRIBER, np.int8),
        ]
    )
    base = int(seg_start.min()) if seg_start.size else 0
    seg_key = (seg_phone << 34) + (seg_start - base)
    order = np.argsort(seg_key)
    seg_key, seg_state = seg_key[order], seg_state[order]
    state = seg_state[np.searchsorted(seg_key, (phone << 34) + (ts - base), side="right") - 1]

    # In service: occasionally absent (phone off), rarely another temporary error.
    draw = rng.random(ts.size)
    error: np.ndarray = state.copy()
    in_service = state == NO_ERROR
    error[in_service & (draw < params.absent_share)] = ABSENT_SUBSCRIBER
    names, weights = zip(*params.temporary_error_weights, strict=True)
    temporary = (
        in_service
        & (draw >= params.absent_share)
        & (draw < params.absent_share + params.temporary_error_share)
    )
    p = np.array(weights) / sum(weights)
    codes = np.array([SMS_ERRORS.index(name) for name in names], dtype=np.int8)
    error[temporary] = codes[rng.choice(len(p), int(temporary.sum()), p=p)]
    return error
