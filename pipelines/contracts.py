"""Column contracts of the inputs and outputs (`data/schemas/*.yaml`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipelines.paths import SCHEMAS_DIR

# The event kinds of DESIGN §3, in the order a run reads them.
INPUT_KINDS: tuple[str, ...] = (
    "code_entries",
    "sms_deliveries",
    "registrations",
    "number_changes",
    "verifications",
    "accounts",
)

# Parquet time types as DuckDB names them. A zoned time (Parquet's isAdjustedToUTC, what pandas
# writes for tz-aware times: TIMESTAMPTZ_NS for nanoseconds, TIMESTAMP WITH TIME ZONE for the
# rest) is an instant, read as UTC: the check connection's TimeZone is UTC.
TIME_TYPES: tuple[str, ...] = (
    "TIMESTAMP",
    "TIMESTAMP_S",
    "TIMESTAMP_MS",
    "TIMESTAMP_NS",
    "TIMESTAMP WITH TIME ZONE",
    "TIMESTAMPTZ_NS",
)

# DuckDB types a Parquet column may have for each contract type. Text is accepted everywhere
# (and checked row by row); anything else is a wrong type and fails the kind with a message.
ACCEPTED_TYPES: dict[str, tuple[str, ...]] = {
    "string": ("VARCHAR",),
    "timestamp": ("VARCHAR", *TIME_TYPES, "DATE"),
    "date": ("VARCHAR", "DATE", *TIME_TYPES),
    "boolean": ("VARCHAR", "BOOLEAN"),
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool
    allowed: tuple[str, ...] | None
    description: str
    timezone: str | None = None  # the zone a time is counted in, where the contract names one


@dataclass(frozen=True)
class Contract:
    name: str
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)


def load_contract(name: str, schemas_dir: Path = SCHEMAS_DIR) -> Contract:
    document = yaml.safe_load((schemas_dir / f"{name}.yaml").read_text(encoding="utf-8"))
    return Contract(name=document["name"], columns=_columns(document["columns"]))


def rejects_contract(kind: str, schemas_dir: Path = SCHEMAS_DIR) -> Contract:
    """The columns of a kind's rejects file: every kind's, then the kind's own."""
    document = yaml.safe_load((schemas_dir / "rejects.yaml").read_text(encoding="utf-8"))
    columns = _columns(document["columns"]) + _columns(document["kind_columns"][kind])
    return Contract(name=f"{document['name']}/{kind}", columns=columns)


def _columns(specs: dict[str, dict[str, Any]]) -> tuple[Column, ...]:
    return tuple(
        Column(
            name=column_name,
            type=spec["type"],
            nullable=bool(spec.get("nullable", True)),
            allowed=tuple(spec["allowed"]) if "allowed" in spec else None,
            description=spec.get("description", ""),
            timezone=spec.get("timezone"),
        )
        for column_name, spec in specs.items()
    )


def allowed_values(contracts: list[Contract]) -> list[tuple[str, str, str]]:
    """(kind, column, value) rows of every enumerated column, for the check models."""
    return [
        (contract.name, column.name, value)
        for contract in contracts
        for column in contract.columns
        for value in column.allowed or ()
    ]
