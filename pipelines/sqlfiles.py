"""The SQL models, loaded by name. Python binds parameters; it never builds SQL."""

from __future__ import annotations

from functools import cache

from pipelines.paths import SQL_DIR

# The portable models (DESIGN §10), in dependency order. Each file is one relation.
MODEL_ORDER: tuple[str, ...] = (
    "stg_code_entries",
    "stg_sms_deliveries",
    "stg_registrations",
    "stg_number_changes",
    "stg_verifications",
    "stg_accounts",
    "int_profile_mismatches",
    "int_change_evidence",
    "int_holder_proofs",
    "int_tenures",
    "int_code_features",
    "int_sms_features",
    "int_sms_gaps",
    "int_registration_features",
    "int_other_features",
    "int_numbers",
    "int_channels",
    "classification",
)

# Staging models only filter the checked tables, so they stay views; every other model is
# materialised once because later models read it more than once.
VIEW_MODELS: frozenset[str] = frozenset(name for name in MODEL_ORDER if name.startswith("stg_"))


@cache
def model_sql(name: str) -> str:
    return (SQL_DIR / "models" / f"{name}.sql").read_text(encoding="utf-8")


@cache
def check_sql(kind: str) -> str:
    return (SQL_DIR / "checks" / f"check_{kind}.sql").read_text(encoding="utf-8")


@cache
def number_check_sql(name: str) -> str:
    """The checks of the numbers themselves, run once every kind is checked."""
    return (SQL_DIR / "checks" / f"{name}.sql").read_text(encoding="utf-8")


@cache
def macros_sql() -> str:
    return (SQL_DIR / "checks" / "macros.sql").read_text(encoding="utf-8")


@cache
def unreadable_lines_sql() -> str:
    return (SQL_DIR / "checks" / "unreadable_lines.sql").read_text(encoding="utf-8")


@cache
def texts_as_written_sql() -> str:
    return (SQL_DIR / "checks" / "texts_as_written.sql").read_text(encoding="utf-8")


@cache
def rejects_sql() -> str:
    return (SQL_DIR / "checks" / "rejects.sql").read_text(encoding="utf-8")


@cache
def publish_sql(name: str) -> str:
    return (SQL_DIR / "publish" / f"{name}.sql").read_text(encoding="utf-8")


def audit_names() -> tuple[str, ...]:
    """Queries over the models that return offending rows; a clean run returns none."""
    return tuple(sorted(path.stem for path in (SQL_DIR / "audits").glob("*.sql")))


@cache
def audit_sql(name: str) -> str:
    return (SQL_DIR / "audits" / f"{name}.sql").read_text(encoding="utf-8")


@cache
def run_params_sql() -> str:
    return (SQL_DIR / "run_params.sql").read_text(encoding="utf-8")


@cache
def analytics_sql(name: str) -> str:
    return (SQL_DIR / "analytics" / f"{name}.sql").read_text(encoding="utf-8")
