"""Who holds each synthetic number when, who those people are, and which accounts they keep.

Everything is drawn for one chunk of numbers at a time, vectorised over numbers; the only loop
is over the k-th holder of a number, which ends after a handful of rounds.
Times are int64 seconds since the Unix epoch, UTC.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.synth_numbers import CountryPlan, Numbers, RegionTable
from pipelines.synth_params import DAY, SynthParams

YEAR = 365.25 * DAY
NEVER = np.iinfo(np.int64).max
SOCIAL = ("vk", "ok")


def product_names(params: SynthParams) -> tuple[str, ...]:
    """Every product name the generator may write, social networks first."""
    names = list(SOCIAL)
    for name, _ in (
        *params.other_product_shares,
        *params.product_code_weights,
        *params.sms_product_weights,
    ):
        if name not in names:
            names.append(name)
    return tuple(names)


@dataclass(frozen=True)
class Tenures:
    """One row per (number, holder), ordered by number, then by holder."""

    phone: np.ndarray  # index of the number within the chunk
    order: np.ndarray  # 0 for the number's first simulated holder, then 1, 2, …
    held_from: np.ndarray
    held_until: np.ndarray  # `end` for a holder who still holds the number
    current: np.ndarray  # holds the number at `end`
    reclaimed: np.ndarray  # the operator takes the number back (not for current holders)
    next_from: np.ndarray  # the number can go to its next holder (not for current holders)

    @property
    def size(self) -> int:
        return int(self.phone.size)


def draw_tenures(rng: np.random.Generator, phones: int, params: SynthParams) -> Tenures:
    """The chain of holders of each number, from `burn_in_days` before `start` to `end`."""
    end = params.end_s
    sim_start = params.start_s - params.burn_in_days * DAY
    mean_tenure = YEAR / params.abandon_rate_per_year
    phone = np.arange(phones, dtype=np.int64)
    # The first holder has held the number for a while already. Abandonment is memoryless, so
    # the time still to go is exponential from the simulation's start whatever the age.
    age = np.minimum(rng.exponential(mean_tenure, phones), params.max_first_tenure_years * YEAR)
    held_from = (sim_start - age).astype(np.int64)
    parts: list[tuple[np.ndarray, ...]] = []
    order = 0
    while phone.size:
        began = np.maximum(held_from, sim_start)
        until = began + rng.exponential(mean_tenure, phone.size).astype(np.int64)
        current = until >= end
        until = np.minimum(until, end)
        inactive = rng.integers(params.inactive_days_min, params.inactive_days_max + 1, phone.size)
        quarantine = rng.integers(
            params.quarantine_days_min, params.quarantine_days_max + 1, phone.size
        )
        # Whole days plus a random time of day, so that hand-overs do not line up at midnight.
        reclaimed = until + inactive * DAY + rng.integers(0, DAY, phone.size)
        next_from = reclaimed + quarantine * DAY + rng.integers(0, DAY, phone.size)
        ordinal = np.full(phone.size, order, dtype=np.int16)
        parts.append((phone, ordinal, held_from, until, current, reclaimed, next_from))
        again = ~current & (next_from < end)
        phone, held_from = phone[again], next_from[again]
        order += 1
    columns = [np.concatenate(column) for column in zip(*parts, strict=True)]
    by_phone = np.argsort(columns[0], kind="stable")  # rounds are appended in holder order
    return Tenures(*(column[by_phone] for column in columns))


@dataclass(frozen=True)
class People:
    """The person behind each tenure (same row order as `Tenures`)."""

    male: np.ndarray
    birth_day: np.ndarray  # days since 1970-01-01
    name_key: np.ndarray  # uint32 fingerprint of the name
    region: np.ndarray  # index into RegionTable.codes
    code_rate: np.ndarray  # codes a year over all the person's accounts (log-normal)
    reporter: np.ndarray  # updates their accounts when leaving the number
    has: np.ndarray  # (holders, products) bool: has an account in the product


def draw_people(
    rng: np.random.Generator,
    tenures: Tenures,
    numbers: Numbers,
    plans: tuple[CountryPlan, ...],
    regions: RegionTable,
    params: SynthParams,
) -> People:
    size = tenures.size
    country = numbers.country[tenures.phone]
    # Ages at `end` between 16 and 80, most between 25 and 55; nobody took their number
    # before the age of 14.
    age_days = (16 + 64 * rng.beta(2.0, 3.0, size)) * 365.25
    birth_day = np.minimum(params.end_s // DAY - age_days, tenures.held_from // DAY - 14 * 365.25)
    birth_day = birth_day.astype(np.int32)
    region = np.where(
        rng.random(size) < params.same_region_share,
        numbers.region[tenures.phone],
        regions.draw(rng, country),
    )
    names = product_names(params)
    has = np.zeros((size, len(names)), dtype=bool)
    vk_share = np.array([plan.vk_share for plan in plans])[country]
    ok_share = np.array([plan.ok_share for plan in plans])[country]
    has[:, 0] = rng.random(size) < vk_share
    has[:, 1] = rng.random(size) < ok_share
    for name, share in params.other_product_shares:
        has[:, names.index(name)] = rng.random(size) < share
    return People(
        male=rng.random(size) < params.male_share,
        birth_day=birth_day,
        name_key=rng.integers(0, 2**32, size, dtype=np.uint32),
        region=region,
        code_rate=params.code_rate_median_per_year
        * rng.lognormal(0.0, params.code_rate_sigma, size),
        reporter=rng.random(size) < params.reporter_share,
        has=has,
    )


@dataclass(frozen=True)
class Accounts:
    """One row per account a holder bound to the number during their tenure."""

    holder: np.ndarray  # row of Tenures / People
    product: np.ndarray  # index into product_names()
    registered: np.ndarray  # bound to the number (may precede the history)
    key: np.ndarray  # int64 account id, unique in the whole history
    # The number left the account: the product's next registration on the number, or the
    # holder's report; NEVER if neither happened by `end`.
    unbound: np.ndarray
    report_at: np.ndarray  # the holder's number_changes row, or NEVER
    report_reported: np.ndarray  # kind `reported` rather than `unbound`

    @property
    def size(self) -> int:
        return int(self.holder.size)

    def bound_at(self, moment: int) -> np.ndarray:
        """Social accounts whose binding to the number lasts past `moment`."""
        return (self.product < len(SOCIAL)) & (self.unbound > moment)

    def bound_after(self, moment: int) -> np.ndarray:
        """Accounts of any product still bound to the number at `moment` or later."""
        return self.unbound > moment


def draw_accounts(
    rng: np.random.Generator,
    tenures: Tenures,
    people: People,
    first_holder_id: int,
    params: SynthParams,
) -> Accounts:
    holder, product = np.nonzero(people.has)
    size = holder.size
    held_until = tenures.held_until[holder]
    # Nobody signs up before the products exist: a holder who had the number earlier signs up
    # at a uniform time after that (an adoption curve), so old holders do not all sign up at once.
    held_from = np.maximum(tenures.held_from[holder], params.accounts_since_s)
    late = (rng.random(size) < params.late_signup_share) | (
        tenures.held_from[holder] < params.accounts_since_s
    )
    soon = held_from + rng.exponential(params.signup_delay_mean_days * DAY, size)
    later = held_from + rng.random(size) * np.maximum(held_until - held_from, 0)
    registered = np.where(late, later, soon).astype(np.int64)
    # An account the holder would have bound after leaving the number never was.
    kept = registered < held_until
    holder, product, registered = holder[kept], product[kept], registered[kept]
    held_until = held_until[kept]
    size = holder.size
    # Account ids: a bijective scramble of (global holder id, product), so ids look random yet
    # never collide across chunks. An odd multiplier is invertible modulo 2**40.
    width = people.has.shape[1]
    serial = (holder.astype(np.uint64) + np.uint64(first_holder_id)) * np.uint64(width)
    serial += product.astype(np.uint64)
    key = ((serial * np.uint64(0x9E3779B97F4A7C15)) & np.uint64(2**40 - 1)).astype(np.int64)

    # A new holder binding the same product takes the number off the previous account, which
    # is how VK and OK behave (and most services that log in by phone): the next registration
    # of the product on the number ends the binding.
    phone = tenures.phone[holder]
    base = registered.min() if size else 0
    order = np.argsort(((phone * width + product) << 34) + (registered - base))
    next_registered = np.full(size, NEVER, dtype=np.int64)
    same_group = (phone[order][1:] == phone[order][:-1]) & (
        product[order][1:] == product[order][:-1]
    )
    next_registered[order[:-1][same_group]] = registered[order[1:][same_group]]

    leaving = ~tenures.current[holder]
    per_account = rng.random(size) < params.report_per_account_share
    reports = leaving & people.reporter[holder] & per_account
    report_at = held_until + rng.integers(0, params.report_lag_days_max * DAY, size)
    # A report counts only while the account still holds the number.
    reports &= (report_at < params.end_s) & (report_at < next_registered)
    report_at = np.where(reports, report_at, NEVER)
    unbound = np.minimum(next_registered, report_at)
    return Accounts(
        holder=holder,
        product=product.astype(np.int16),
        registered=registered,
        key=key,
        unbound=unbound,
        report_at=report_at,
        report_reported=rng.random(size) < params.reported_kind_share,
    )
