"""The one-row `run_params` relation the models read their thresholds from."""

from __future__ import annotations

from ownership.rules import RuleSettings


def run_params_row(rules: RuleSettings, as_of: int, run_at: int) -> dict[str, int]:
    """Settings as the models see them: whole seconds and counts, one row."""
    return {
        "as_of": as_of,
        "run_at": run_at,
        "possession_window_s": rules.possession_window_seconds,
        "freshness_s": rules.freshness_seconds,
        "activity_s": rules.activity_seconds,
        "permanent_failures_min": rules.permanent_failures_min,
        "profile_mismatch_min_fields": rules.profile_mismatch_min_fields,
        "registration_code_grace_s": rules.registration_code_grace_seconds,
    }
