"""The one validated settings object (`OWNERSHIP_*` environment variables, DESIGN §8)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ownership.rules import RuleSettings


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OWNERSHIP_", extra="ignore", frozen=True)

    database_url: str = "sqlite:///./var/ownership.db"
    scores_dir: Path = Path("var/scores")

    possession_window_days: int = Field(90, gt=0)
    freshness_days: int = Field(30, gt=0)
    activity_days: int = Field(7, gt=0)
    permanent_failures_min: int = Field(1, ge=1)
    profile_mismatch_min_fields: int = Field(2, ge=1, le=3)
    registration_code_grace_seconds: int = Field(3_600, ge=0)

    # A run whose share of rejected rows passes this publishes nothing.
    max_reject_share: float = Field(0.01, ge=0.0, le=1.0)
    # DuckDB's memory limit (e.g. "8GB"); past it DuckDB spills to disk instead of failing.
    memory_limit: str | None = None
    threads: int | None = Field(None, ge=1)

    # How often an API worker looks for a newly published snapshot, in seconds.
    snapshot_check_seconds: float = Field(1.0, gt=0)

    def rules(self) -> RuleSettings:
        return RuleSettings(
            possession_window_days=self.possession_window_days,
            freshness_days=self.freshness_days,
            activity_days=self.activity_days,
            permanent_failures_min=self.permanent_failures_min,
            profile_mismatch_min_fields=self.profile_mismatch_min_fields,
            registration_code_grace_seconds=self.registration_code_grace_seconds,
        )


def load_settings(**overrides: object) -> Settings:
    """Read the environment once, failing fast on a bad value; `overrides` win (CLI flags)."""
    return Settings.model_validate(
        {key: value for key, value in overrides.items() if value is not None}
    )
