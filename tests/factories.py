"""Builders of tiny event histories in the DESIGN §3 layout, for tests."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Self

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.contracts import INPUT_KINDS
from pipelines.synth import SCHEMAS as SYNTH_SCHEMAS

AS_OF = datetime(2026, 6, 1)
RU_MOBILE = "+79234567823"  # masked as +792* *** ** 23
# the generator's schemas are the input contracts as Parquet types: one copy of them
SCHEMAS: dict[str, pa.Schema] = {kind: SYNTH_SCHEMAS[kind] for kind in INPUT_KINDS}


def days_ago(days: float) -> datetime:
    return AS_OF - timedelta(days=days)


@dataclass
class Person:
    """Person parameters a registration carries; each may be missing (null)."""

    name_key: str | None
    birth_date: date | None
    gender: str | None
    region: str | None = "RU-MOW"


ANNA = Person("anna-k", date(1990, 4, 2), "f")
ANNA_RETYPED = Person("anna-k", date(1990, 4, 3), "f", "RU-SPE")  # one field off: same person
ANNA_MOVED = Person("anna-k", date(1990, 4, 2), "f", "RU-SPE")  # only the region differs
BORIS = Person("boris-p", date(1978, 11, 20), "m")
NOBODY = Person(None, None, None, None)  # a registration that gave no person parameters


@dataclass
class History:
    """Rows per kind, added by intent-revealing methods and written as Parquet files."""

    rows: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {kind: [] for kind in SCHEMAS}
    )

    def code(
        self, phone: str, at: datetime, product: str = "vk", account: str | None = None
    ) -> Self:
        self.rows["code_entries"].append(
            {"phone": phone, "ts": at, "product": product, "account_id": account}
        )
        return self

    def sms(
        self,
        phone: str,
        at: datetime,
        status: str = "delivered",
        error: str | None = None,
        product: str = "bank_x",
    ) -> Self:
        self.rows["sms_deliveries"].append(
            {"phone": phone, "ts": at, "product": product, "status": status, "error": error}
        )
        return self

    def register(
        self,
        phone: str,
        at: datetime,
        person: Person,
        product: str = "vk",
        account: str = "vk-1",
        with_code: bool = True,
    ) -> Self:
        self.rows["registrations"].append(
            {
                "phone": phone,
                "ts": at,
                "product": product,
                "account_id": account,
                "name_key": person.name_key,
                "birth_date": person.birth_date,
                "gender": person.gender,
                "region": person.region,
            }
        )
        if with_code:
            self.code(phone, at, product, account)
        return self

    def number_change(
        self, phone: str, at: datetime, account: str = "vk-1", kind: str = "reported"
    ) -> Self:
        self.rows["number_changes"].append(
            {
                "phone": phone,
                "ts": at,
                "product": account.split("-")[0],
                "account_id": account,
                "kind": kind,
            }
        )
        return self

    def verification(self, phone: str, at: datetime, result: str, method: str = "prompt") -> Self:
        self.rows["verifications"].append(
            {"phone": phone, "ts": at, "method": method, "result": result, "account_id": None}
        )
        return self

    def account(
        self,
        phone: str,
        account: str = "vk-1",
        last_seen: datetime | None = None,
        mobile_app: bool = True,
    ) -> Self:
        self.rows["accounts"].append(
            {
                "network": account.split("-")[0],
                "account_id": account,
                "phone": phone,
                "last_seen_at": last_seen or days_ago(1),
                "mobile_app": mobile_app,
            }
        )
        return self

    def write(self, folder: Path) -> Path:
        for kind, schema in SCHEMAS.items():
            (folder / kind).mkdir(parents=True, exist_ok=True)
            table = pa.Table.from_pylist(self.rows[kind], schema=schema)
            pq.write_table(table, folder / kind / "part-0.parquet")
        return folder


def steady_owner(
    history: History, phone: str, since_days: int = 400, until_days: int = 5, seen_days: float = 1
) -> History:
    """Anna: a VK account registered `since_days` ago (seen `seen_days` ago), a code and an SMS
    every month since."""
    history.register(phone, days_ago(since_days), ANNA, account="vk-1")
    history.account(phone, "vk-1", last_seen=days_ago(seen_days))
    for day in range(since_days - 30, until_days - 1, -30):
        history.code(phone, days_ago(day), "vk", "vk-1")
    for day in range(since_days - 1, 0, -20):
        history.sms(phone, days_ago(day))
    return history


SCORES_SCHEMA = pa.schema(
    [
        ("phone", pa.string()),
        ("status", pa.string()),
        ("risk_score", pa.int16()),
        ("reasons", pa.list_(pa.string())),
        ("reason_times", pa.list_(pa.timestamp("us", tz="UTC"))),
        ("owner_since", pa.timestamp("us", tz="UTC")),
        ("first_seen_at", pa.timestamp("us", tz="UTC")),
        ("last_code_at", pa.timestamp("us", tz="UTC")),
        ("last_confirmed_at", pa.timestamp("us", tz="UTC")),
        ("as_of", pa.timestamp("us", tz="UTC")),
    ]
)
UNZONED_SCORES_SCHEMA = pa.schema(
    [
        pa.field(f.name, pa.list_(pa.timestamp("us")))
        if pa.types.is_list(f.type) and pa.types.is_timestamp(f.type.value_type)
        else pa.field(f.name, pa.timestamp("us"))
        if pa.types.is_timestamp(f.type)
        else f
        for f in SCORES_SCHEMA
    ]
)


@dataclass
class Scores:
    """A scores folder (data/schemas/scores.yaml and its manifest) written row by row."""

    as_of: datetime = AS_OF
    rows: list[dict[str, Any]] = field(default_factory=list)

    def number(
        self,
        phone: str,
        status: str,
        risk_score: int,
        reasons: Sequence[str],
        owner_since: datetime | None = None,
    ) -> Self:
        self.rows.append(
            {
                "phone": phone,
                "status": status,
                "risk_score": risk_score,
                "reasons": list(reasons),
                "reason_times": [owner_since] * len(reasons),
                "owner_since": owner_since,
                "first_seen_at": owner_since,
                "last_code_at": None,
                "last_confirmed_at": None,
                "as_of": self.as_of,
            }
        )
        return self

    def write(self, folder: Path, *, zoned: bool = True) -> Path:
        """`zoned=False` writes times without their zone, as releases before 2026-11-28 did."""
        folder.mkdir(parents=True, exist_ok=True)
        schema = SCORES_SCHEMA if zoned else UNZONED_SCORES_SCHEMA
        pq.write_table(pa.Table.from_pylist(self.rows, schema=schema), folder / "scores.parquet")
        statuses = Counter(row["status"] for row in self.rows)
        manifest = {
            "as_of": self.as_of.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "numbers": len(self.rows),
            "statuses": dict(sorted(statuses.items())),
        }
        (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        return folder
