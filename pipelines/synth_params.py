"""The knobs of the synthetic history generator, each with where its default comes from.

"Brief" is the generator's brief (the project's own working assumptions), "DESIGN §n" the design
document; "assumption" marks a figure with no published source, picked to look plausible and
kept as a parameter so that a study can vary it. `docs/synth.md` explains each in prose.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

DAY = 86_400  # seconds
# Sort keys pack a number's (or holder's) index within its chunk into the top bits of an int64
# and a time span in seconds into the low 34 bits (544 years), which bounds both.
MAX_CHUNK_PHONES = 2**24
# The densest history the generator makes: a number with ten thousand events in two years
# (about fourteen a day) is already more than any holder's SMS and codes.
MAX_EVENTS_PER_PHONE = 10_000
# About the events a chunk holds at the realistic density (50,000 numbers of about 126 events),
# which peak at about 1.4 GB: a denser history has fewer numbers a chunk
CHUNK_EVENTS = 6_300_000
MAX_SPAN_YEARS = 200
# The most numbers one history holds: 10^9 events at ten a number. More distinct numbers take
# memory by the gigabyte to draw, before a single event is drawn.
MAX_PHONES = 100_000_000


@dataclass(frozen=True)
class SynthParams:
    # --- the history span -------------------------------------------------------------------
    # Brief: the history ends 2026-11-01 00:00 UTC and covers two years.
    start: datetime = datetime(2024, 11, 1)
    end: datetime = datetime(2026, 11, 1)
    # Assumption: owners are simulated from this many days before `start`, so that at `start`
    # some numbers are already recycled or out of service, as in a real snapshot.
    burn_in_days: int = 730

    # --- event density ----------------------------------------------------------------------
    # None: the realistic rates below (code entries per person, background SMS per number), about
    # 126 events per phone at the defaults (docs/synth.md, "Density"). A number: the same rates
    # scaled by one common factor so that each chunk's expected total is this many events per
    # phone, registrations and number changes included (the benchmark asks for 10: 10^8 events
    # over 10^7 phones).
    events_per_phone: float | None = None

    # --- owners and recycling ---------------------------------------------------------------
    # Brief: owners abandon numbers at about 4 % a year, i.e. a mean tenure of 25 years
    # (for scale: the FCC counts over 35 million US numbers disconnected a year).
    abandon_rate_per_year: float = 0.04
    # Assumption: the tenure already served at the start of the simulation is capped, because
    # mobile numbers have only been handed out for a couple of decades.
    max_first_tenure_years: float = 20.0
    # DESIGN §1: the operator takes back a number after 90-180 days without payment or use.
    inactive_days_min: int = 90
    inactive_days_max: int = 180
    # DESIGN §1: the number is then kept out of service for about two months.
    quarantine_days_min: int = 50
    quarantine_days_max: int = 70

    # --- people -------------------------------------------------------------------------------
    # DESIGN §11: 60 %+ of Russian mobile subscribers are active in VK or OK; the same union
    # share is used in every country, split between VK and OK by that country's audience.
    social_union_share: float = 0.62
    # Assumption: shares of people with an account in each other product.
    other_product_shares: tuple[tuple[str, float], ...] = (
        ("mail", 0.45),
        ("bank_x", 0.35),
        ("shop_y", 0.25),
        ("taxi_z", 0.20),
    )
    # Assumption (Rosstat puts men at about 46 % of Russia's population).
    male_share: float = 0.46
    # Assumption: a person lives in the region of the number with this probability, else in
    # another region of the country (numbers are regional, so successive owners often share one).
    same_region_share: float = 0.85
    # Assumption: most accounts are bound soon after a person takes a number (mean below);
    # this share is created later, at a uniform time within the tenure (new services).
    late_signup_share: float = 0.3
    signup_delay_mean_days: float = 30.0
    # Assumption: no account predates this (VK and OK opened in 2006). A holder who already had
    # the number then signs up at a uniform time between this date and leaving the number.
    accounts_since: datetime = datetime(2007, 1, 1)

    # --- code entries -----------------------------------------------------------------------
    # Brief: per-person code-entry rates are heavy-tailed, "from weekly to yearly". A person's
    # rate (all their accounts together) is log-normal with the 5th-95th percentile at 1 and 52
    # a year: median sqrt(52) = 7.2 a year (one code every 7 weeks, roughly monthly) and
    # sigma = ln(52) / (2 * 1.645) = 1.2. Mean 14.8 a year.
    code_rate_median_per_year: float = 7.2
    code_rate_sigma: float = 1.2
    # Assumption: how a person's codes are shared among their accounts, relative to each other
    # (banks confirm payments by code, mail rarely asks for one).
    product_code_weights: tuple[tuple[str, float], ...] = (
        ("vk", 1.0),
        ("ok", 1.0),
        ("mail", 0.5),
        ("bank_x", 2.0),
        ("shop_y", 0.7),
        ("taxi_z", 0.7),
    )
    # Assumption: other products often do not pass the account id with a code entry.
    other_code_account_missing_share: float = 0.3
    # Assumption: the code SMS is delivered this many seconds before the code is entered.
    code_sms_lead_seconds_min: int = 5
    code_sms_lead_seconds_max: int = 90

    # --- background SMS -----------------------------------------------------------------------
    # Brief: every number gets "a steady stream of SMS from various products". Assumption: 3 a
    # month on average (notices, promotions, order status), on top of the SMS of its codes.
    background_sms_per_month: float = 3.0
    # Assumption: each number's rate is that mean times a gamma draw (mean 1, this shape), so a
    # few numbers receive most of the traffic.
    sms_rate_gamma_shape: float = 0.5
    # Assumption: who sends the background SMS.
    sms_product_weights: tuple[tuple[str, float], ...] = (
        ("bank_x", 0.30),
        ("shop_y", 0.25),
        ("taxi_z", 0.15),
        ("mail", 0.10),
        ("vk", 0.12),
        ("ok", 0.08),
    )
    # Brief: `absent_subscriber` (phone off) hits about 1-2 % of SMS to a number in service.
    absent_share: float = 0.015
    # Brief: other temporary errors are rare; this is their total share, split by weight.
    temporary_error_share: float = 0.005
    temporary_error_weights: tuple[tuple[str, float], ...] = (
        ("network", 0.4),
        ("expired", 0.3),
        ("rejected", 0.2),
        ("other", 0.1),
    )

    # --- reporting and noise ----------------------------------------------------------------
    # Brief: 20-30 % of owners report the change or unbind the number when they leave it.
    reporter_share: float = 0.25
    # Assumption: a reporter updates each of their accounts with this probability.
    report_per_account_share: float = 0.8
    # Assumption: the update follows the departure within this many days.
    report_lag_days_max: int = 60
    # Assumption: share of number_changes rows that are `reported` (the rest `unbound`).
    reported_kind_share: float = 0.3
    # Brief: some people re-register with slightly different parameters. Share of accounts
    # with one extra registration, and share of registrations where one field differs.
    reregistration_share: float = 0.1
    variant_field_share: float = 0.05
    # Assumption: products do not always collect every field; a field is missing this often.
    missing_name_share: float = 0.05
    missing_birth_date_share: float = 0.3
    missing_gender_share: float = 0.2
    missing_region_share: float = 0.25

    # --- current state of social accounts --------------------------------------------------
    # Assumption: a current owner's bound account was seen within the last days this often.
    active_owner_share: float = 0.8
    # Assumption: a previous owner whose account stayed bound still uses the network this often
    # (that is the danger: a live account behind a recycled number).
    previous_owner_still_active_share: float = 0.6
    # Assumption: the share of accounts using the mobile app.
    mobile_app_share: float = 0.75

    # --- mechanics ----------------------------------------------------------------------------
    # Phones per chunk: memory stays bounded by the chunk. At the realistic density (about 126
    # events per phone) 50,000 phones per chunk peak at about 1.4 GB, and the sparse density
    # runs faster with them than with larger chunks.
    chunk_phones: int = 50_000

    @classmethod
    def of_density(cls, events_per_phone: float | None) -> SynthParams:
        """The parameters for `events_per_phone` events a number (None: the realistic
        density), with fewer numbers a chunk when they are denser than the realistic density,
        so that a chunk's memory stays about the same."""
        if events_per_phone is None or events_per_phone * cls.chunk_phones <= CHUNK_EVENTS:
            return cls(events_per_phone=events_per_phone)
        return cls(
            events_per_phone=events_per_phone,
            chunk_phones=max(1, int(CHUNK_EVENTS // events_per_phone)),
        )

    def __post_init__(self) -> None:
        problems = []
        if self.start >= self.end:
            problems.append("start must precede end")
        if not 0 < self.chunk_phones <= MAX_CHUNK_PHONES:
            problems.append(f"chunk_phones must lie in 1..{MAX_CHUNK_PHONES}")
        if self.events_per_phone is not None and not (
            0 <= self.events_per_phone <= MAX_EVENTS_PER_PHONE
        ):
            problems.append(f"events_per_phone must be from 0 to {MAX_EVENTS_PER_PHONE:,}")
        rates = ("code_rate_median_per_year", "code_rate_sigma", "background_sms_per_month")
        problems += [f"{k} must not be negative" for k in rates if getattr(self, k) < 0]
        days = ("burn_in_days", "inactive_days_min", "quarantine_days_min")
        problems += [f"{k} must not be negative" for k in days if getattr(self, k) < 0]
        if not self.inactive_days_min <= self.inactive_days_max:
            problems.append("inactive_days_min must not exceed inactive_days_max")
        if not self.quarantine_days_min <= self.quarantine_days_max:
            problems.append("quarantine_days_min must not exceed quarantine_days_max")
        span_years = (self.end - self.start).days / 365.25 + self.burn_in_days / 365.25
        if span_years + self.max_first_tenure_years > MAX_SPAN_YEARS:
            problems.append(f"history, burn-in and first tenure must span < {MAX_SPAN_YEARS} years")
        if self.abandon_rate_per_year <= 0:
            problems.append("abandon_rate_per_year must be positive")
        shares = {k: v for k, v in asdict(self).items() if k.endswith("_share")}
        problems += [f"{k} must lie in [0, 1]" for k, v in shares.items() if not 0 <= v <= 1]
        if problems:
            raise ValueError("invalid SynthParams: " + "; ".join(problems))

    @property
    def start_s(self) -> int:
        return _epoch_seconds(self.start)

    @property
    def end_s(self) -> int:
        return _epoch_seconds(self.end)

    @property
    def accounts_since_s(self) -> int:
        return _epoch_seconds(self.accounts_since)

    def to_json(self) -> dict[str, Any]:
        """The parameters as JSON values (datetimes in ISO form), for `truth/meta.json`."""
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            out[key] = value.isoformat() if isinstance(value, datetime) else value
        return out


def _epoch_seconds(moment: datetime) -> int:
    # Naive datetimes are UTC throughout the project; an aware one is converted.
    if moment.tzinfo is not None:
        moment = moment.replace(tzinfo=None) - moment.utcoffset()  # type: ignore[operator]
    return int((moment - datetime(1970, 1, 1)).total_seconds())
