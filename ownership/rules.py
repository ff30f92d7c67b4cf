"""Rule thresholds of the classification (DESIGN §4), in one value passed to the pipeline."""

from __future__ import annotations

from dataclasses import dataclass

DAY_SECONDS = 86_400


@dataclass(frozen=True)
class RuleSettings:
    # W: a possession proof (code entry) younger than this keeps a number verified.
    possession_window_days: int = 90
    # F: a confirmed re-verification keeps a number fresh this long.
    freshness_days: int = 30
    # A: an account active within this many days can be delivered to.
    activity_days: int = 7
    # How many `unknown_subscriber` failures, at distinct moments, make a permanent-failure
    # signal. One is enough by default: the operator says the number is out of service, and a
    # holder who still has it answers the doubt with the next code. Raise it where a gateway
    # reports glitches.
    permanent_failures_min: int = 1
    # How many of (name, birth date, gender), present on both sides and different, make two
    # registrations different people. One differing field is a typo or a re-registration.
    profile_mismatch_min_fields: int = 2
    # A code entered this soon after a registration is the registration's own code.
    registration_code_grace_seconds: int = 3_600

    def __post_init__(self) -> None:
        for name in ("possession_window_days", "freshness_days", "activity_days"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.permanent_failures_min < 1:
            raise ValueError("permanent_failures_min must be at least 1")
        if not 1 <= self.profile_mismatch_min_fields <= 3:
            raise ValueError("profile_mismatch_min_fields must be 1, 2 or 3")
        if self.registration_code_grace_seconds < 0:
            raise ValueError("registration_code_grace_seconds must not be negative")

    @property
    def possession_window_seconds(self) -> int:
        return self.possession_window_days * DAY_SECONDS

    @property
    def freshness_seconds(self) -> int:
        return self.freshness_days * DAY_SECONDS

    @property
    def activity_seconds(self) -> int:
        return self.activity_days * DAY_SECONDS
