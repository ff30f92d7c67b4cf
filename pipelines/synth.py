"""A realistic synthetic event history with its ground truth (DESIGN §3, §9: `ownership synth`).

Numbers pass from owner to owner (abandonment, the operator's take-back and quarantine, a new
holder); each owner is a person with accounts, code entries and registrations; every number gets
a stream of SMS whose delivery reports follow its state. The history is written chunk by chunk as
Parquet in the §3 layout, and `truth/` records who held each number when and what a perfect
classifier should answer. Same seed, phones and parameters: byte-identical files.

Every event lies in [start, end] except registrations: every account bound to a number at some
time in the history has its registration row at its creation time, which may precede `start`
(a registry knows all the accounts bound to a number). Only those inside the history come with
their code entry and its SMS.

The modelling lives in `synth_numbers`, `synth_people`, `synth_events` and `synth_truth`;
every figure is a `SynthParams` field (see `docs/synth.md`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.contracts import INPUT_KINDS
from pipelines.synth_events import SMS_ERRORS, ChunkEvents, draw_events
from pipelines.synth_folder import META, written_whole
from pipelines.synth_numbers import (
    CountryPlan,
    Numbers,
    RegionTable,
    draw_numbers,
    e164_strings,
    load_country_plans,
)
from pipelines.synth_params import MAX_PHONES, SynthParams
from pipelines.synth_people import (
    Accounts,
    Tenures,
    draw_accounts,
    draw_people,
    draw_tenures,
    product_names,
)
from pipelines.synth_truth import BoundAccounts, Labels, bound_accounts, label_numbers

__all__ = ["KINDS", "SCHEMAS", "SynthParams", "SynthSummary", "generate"]

TS = pa.timestamp("us")
SCHEMAS: dict[str, pa.Schema] = {
    "code_entries": pa.schema(
        [
            ("phone", pa.string()),
            ("ts", TS),
            ("product", pa.string()),
            ("account_id", pa.string()),
        ]
    ),
    "sms_deliveries": pa.schema(
        [
            ("phone", pa.string()),
            ("ts", TS),
            ("product", pa.string()),
            ("status", pa.string()),
            ("error", pa.string()),
        ]
    ),
    "registrations": pa.schema(
        [
            ("phone", pa.string()),
            ("ts", TS),
            ("product", pa.string()),
            ("account_id", pa.string()),
            ("name_key", pa.string()),
            ("birth_date", pa.date32()),
            ("gender", pa.string()),
            ("region", pa.string()),
        ]
    ),
    "number_changes": pa.schema(
        [
            ("phone", pa.string()),
            ("ts", TS),
            ("product", pa.string()),
            ("account_id", pa.string()),
            ("kind", pa.string()),
        ]
    ),
    "verifications": pa.schema(
        [
            ("phone", pa.string()),
            ("ts", TS),
            ("method", pa.string()),
            ("result", pa.string()),
            ("account_id", pa.string()),
        ]
    ),
    "accounts": pa.schema(
        [
            ("network", pa.string()),
            ("account_id", pa.string()),
            ("phone", pa.string()),
            ("last_seen_at", TS),
            ("mobile_app", pa.bool_()),
        ]
    ),
    "truth/holders": pa.schema(
        [
            ("phone", pa.string()),
            ("holder_id", pa.int64()),
            ("held_from", TS),
            ("held_until", TS),
        ]
    ),
    "truth/accounts": pa.schema(
        [
            ("network", pa.string()),
            ("account_id", pa.string()),
            ("phone", pa.string()),
            ("holder_id", pa.int64()),
        ]
    ),
    "truth/labels": pa.schema(
        [
            ("phone", pa.string()),
            ("owner_changed", pa.bool_()),
            ("evidence", pa.bool_()),
            ("current_holder_since", TS),
        ]
    ),
}
KINDS = INPUT_KINDS
TRUTH = ("truth/holders", "truth/accounts", "truth/labels")


@dataclass(frozen=True)
class SynthSummary:
    rows: Mapping[str, int]  # rows written per kind (the six of DESIGN §3)
    phones: int
    start: datetime
    end: datetime
    # Numbers taken by a new holder within the history (a hand-over, whatever was bound).
    ownership_changes: int
    # Numbers whose truth label is owner_changed at `end`.
    owner_changed_phones: int

    @property
    def events(self) -> int:
        """Rows of the event kinds (all but the `accounts` state)."""
        return sum(n for kind, n in self.rows.items() if kind != "accounts")


def generate(
    out: Path,
    phones: int,
    seed: int,
    params: SynthParams = SynthParams(),  # noqa: B008 - frozen, so one shared default is safe
    progress: Callable[[int, int], None] | None = None,
    *,
    replace_others: bool = False,
) -> SynthSummary:
    """Write a synthetic history of `phones` numbers under `out`, and its truth under
    `out/truth`. `progress(done, total)` is called after each chunk.

    The history appears in `out` whole, replacing one the generator finished there, or not at
    all (`pipelines/synth_folder.py`); a folder holding anything else is refused with a
    `SynthFolderError`, unless `replace_others` (a folder the caller owns)."""
    if not 0 < phones <= MAX_PHONES:
        raise ValueError(f"phones must be from 1 to {MAX_PHONES:,}")
    generated = [f"{kind}/part-*.parquet" for kind in KINDS]
    generated += [f"{name}.parquet" for name in TRUTH] + [str(META)]
    with written_whole(out, [*KINDS, "truth"], generated, replace_others=replace_others) as partial:
        return _generate(partial, phones, seed, params, progress)


def _generate(
    out: Path,
    phones: int,
    seed: int,
    params: SynthParams,
    progress: Callable[[int, int], None] | None,
) -> SynthSummary:
    for kind in (*KINDS, "truth"):
        (out / kind).mkdir()
    plans = load_country_plans(params.social_union_share)
    regions = RegionTable(plans)
    chunks = -(-phones // params.chunk_phones)
    numbers_seed, *chunk_seeds = np.random.SeedSequence(seed).spawn(chunks + 1)
    numbers = draw_numbers(np.random.default_rng(numbers_seed), phones, plans, regions)

    rows = dict.fromkeys(KINDS, 0)
    changes = changed = 0
    next_holder_id = 0
    truth_writers = {
        name: pq.ParquetWriter(out / f"{name}.parquet", SCHEMAS[name], compression="zstd")
        for name in TRUTH
    }
    # Parquet encoding releases the GIL: one writer thread writes chunk i while chunk i+1 is
    # drawn. At most one chunk waits, so memory stays at about two chunks.
    pending: Future[int] | None = None
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            for index, chunk_seed in enumerate(chunk_seeds):
                lo = index * params.chunk_phones
                chunk = _slice_sorted(numbers, lo, min(lo + params.chunk_phones, phones))
                tables, truth, facts = _simulate_chunk(
                    index,
                    np.random.default_rng(chunk_seed),
                    chunk,
                    plans,
                    regions,
                    next_holder_id,
                    params,
                )
                for kind, table in tables.items():
                    rows[kind] += table.num_rows
                changes += facts.ownership_changes
                changed += facts.owner_changed_phones
                next_holder_id += facts.holders
                if pending is not None:
                    _report(progress, pending.result(), phones)
                pending = pool.submit(
                    _write_chunk, out, index, tables, truth, truth_writers, lo + chunk.keys.size
                )
            if pending is not None:
                _report(progress, pending.result(), phones)
    finally:
        for writer in truth_writers.values():
            writer.close()

    summary = SynthSummary(
        rows=rows,
        phones=phones,
        start=params.start,
        end=params.end,
        ownership_changes=changes,
        owner_changed_phones=changed,
    )
    meta = {
        "seed": seed,
        "phones": phones,
        "start": params.start.isoformat(),
        "end": params.end.isoformat(),
        "params": params.to_json(),
        "rows": rows,
        "ownership_changes": changes,
        "owner_changed_phones": changed,
    }
    (out / META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return summary


@dataclass(frozen=True)
class _ChunkFacts:
    holders: int
    ownership_changes: int
    owner_changed_phones: int


def _simulate_chunk(
    index: int,
    rng: np.random.Generator,
    chunk: Numbers,
    plans: tuple[CountryPlan, ...],
    regions: RegionTable,
    first_holder_id: int,
    params: SynthParams,
) -> tuple[dict[str, pa.Table], dict[str, pa.Table], _ChunkFacts]:
    tenures = draw_tenures(rng, chunk.keys.size, params)
    people = draw_people(rng, tenures, chunk, plans, regions, params)
    accounts = draw_accounts(rng, tenures, people, first_holder_id, params)
    events = draw_events(rng, chunk, tenures, people, accounts, regions, params)
    bound = bound_accounts(rng, tenures, accounts, params)
    labels = label_numbers(chunk.keys.size, tenures, accounts, bound, events, params)
    writer = _ChunkWriter(e164_strings(chunk.keys), params, regions)
    tables = writer.event_tables(events, tenures, accounts, bound, first_chunk=index == 0)
    truth = writer.truth_tables(tenures, accounts, bound, labels, first_holder_id)
    started = tenures.held_from[tenures.order > 0]
    facts = _ChunkFacts(
        holders=tenures.size,
        ownership_changes=int(((started >= params.start_s) & (started < params.end_s)).sum()),
        owner_changed_phones=int(labels.owner_changed.sum()),
    )
    return tables, truth, facts


def _write_chunk(
    out: Path,
    index: int,
    tables: dict[str, pa.Table],
    truth: dict[str, pa.Table],
    truth_writers: dict[str, pq.ParquetWriter],
    done: int,
) -> int:
    for kind, table in tables.items():
        pq.write_table(table, out / kind / f"part-{index:05d}.parquet", compression="zstd")
    for name, table in truth.items():
        truth_writers[name].write_table(table)
    return done


def _report(progress: Callable[[int, int], None] | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


def _slice_sorted(numbers: Numbers, lo: int, hi: int) -> Numbers:
    # Sorting the chunk by number makes every output file ordered by (phone, ts).
    keys = numbers.keys[lo:hi]
    order = np.argsort(keys)
    return Numbers(keys[order], numbers.country[lo:hi][order], numbers.region[lo:hi][order])


class _ChunkWriter:
    """Turns one chunk's numpy columns into Arrow tables of the §3 schemas."""

    def __init__(
        self, phone_text: pa.StringArray, params: SynthParams, regions: RegionTable
    ) -> None:
        self.phone_text = phone_text
        self.regions = regions
        self.products = pa.array(product_names(params), pa.string())

    def event_tables(
        self,
        events: ChunkEvents,
        tenures: Tenures,
        accounts: Accounts,
        bound: BoundAccounts,
        first_chunk: bool,
    ) -> dict[str, pa.Table]:
        codes, sms = events.code_entries, events.sms_deliveries
        reg, changes = events.registrations, events.number_changes
        tables = {}
        order = _by_phone_and_time(codes.phone, codes.ts)
        tables["code_entries"] = self._table(
            "code_entries",
            codes.phone[order],
            codes.ts[order],
            {
                "product": self._product(codes.product[order]),
                "account_id": _ids(codes.key[order], codes.key_missing[order]),
            },
        )
        order = _by_phone_and_time(sms.phone, sms.ts)
        error = sms.error[order]
        tables["sms_deliveries"] = self._table(
            "sms_deliveries",
            sms.phone[order],
            sms.ts[order],
            {
                "product": self._product(sms.product[order]),
                "status": _pick(("delivered", "failed"), (error >= 0).astype(np.int8)),
                "error": _pick(SMS_ERRORS, error, error < 0),
            },
        )
        order = _by_phone_and_time(reg.phone, reg.ts)
        tables["registrations"] = self._table(
            "registrations",
            reg.phone[order],
            reg.ts[order],
            {
                "product": self._product(reg.product[order]),
                "account_id": _ids(reg.key[order]),
                "name_key": _hex(reg.name_key[order], reg.name_missing[order]),
                "birth_date": pa.array(
                    reg.birth_day[order].astype(np.int32), pa.int32(), mask=reg.birth_missing[order]
                ).cast(pa.date32()),
                "gender": _pick(
                    ("f", "m"), reg.male[order].astype(np.int8), reg.gender_missing[order]
                ),
                "region": pc.take(
                    self.regions.codes, pa.array(reg.region[order], mask=reg.region_missing[order])
                ),
            },
        )
        order = _by_phone_and_time(changes.phone, changes.ts)
        tables["number_changes"] = self._table(
            "number_changes",
            changes.phone[order],
            changes.ts[order],
            {
                "product": self._product(changes.product[order]),
                "account_id": _ids(changes.key[order]),
                "kind": _pick(("unbound", "reported"), changes.reported[order].astype(np.int8)),
            },
        )
        # Written later by the notify path; one empty file keeps the kind's schema known.
        if first_chunk:
            tables["verifications"] = SCHEMAS["verifications"].empty_table()
        tables["accounts"] = self._accounts(tenures, accounts, bound)
        return tables

    def truth_tables(
        self,
        tenures: Tenures,
        accounts: Accounts,
        bound: BoundAccounts,
        labels: Labels,
        first_holder_id: int,
    ) -> dict[str, pa.Table]:
        held_until = pa.array(tenures.held_until * 1_000_000, TS, mask=tenures.current)
        holders = pa.Table.from_arrays(
            [
                pc.take(self.phone_text, pa.array(tenures.phone)),
                pa.array(np.arange(tenures.size, dtype=np.int64) + first_holder_id),
                _ts(tenures.held_from),
                held_until,
            ],
            schema=SCHEMAS["truth/holders"],
        )
        row, phone, _ = _bound_by_phone(tenures, accounts, bound)
        owners = pa.Table.from_arrays(
            [
                self._product(accounts.product[row]),
                _ids(accounts.key[row]),
                pc.take(self.phone_text, pa.array(phone)),
                pa.array(accounts.holder[row] + first_holder_id),
            ],
            schema=SCHEMAS["truth/accounts"],
        )
        has_current = labels.current >= 0
        since = tenures.held_from[np.where(has_current, labels.current, 0)]
        labels_table = pa.Table.from_arrays(
            [
                self.phone_text,
                pa.array(labels.owner_changed),
                pa.array(labels.evidence & labels.owner_changed),
                pa.array(since * 1_000_000, TS, mask=~has_current),
            ],
            schema=SCHEMAS["truth/labels"],
        )
        return {"truth/holders": holders, "truth/accounts": owners, "truth/labels": labels_table}

    def _accounts(self, tenures: Tenures, accounts: Accounts, bound: BoundAccounts) -> pa.Table:
        row, phone, order = _bound_by_phone(tenures, accounts, bound)
        columns = {
            "network": self._product(accounts.product[row]),
            "account_id": _ids(accounts.key[row]),
            "phone": pc.take(self.phone_text, pa.array(phone)),
            "last_seen_at": _ts(bound.last_seen[order]),
            "mobile_app": pa.array(bound.mobile_app[order]),
        }
        schema = SCHEMAS["accounts"]
        return pa.Table.from_arrays([columns[name] for name in schema.names], schema=schema)

    def _table(
        self, kind: str, phone: np.ndarray, ts: np.ndarray, columns: dict[str, pa.Array]
    ) -> pa.Table:
        arrays = {"phone": pc.take(self.phone_text, pa.array(phone)), "ts": _ts(ts), **columns}
        schema = SCHEMAS[kind]
        return pa.Table.from_arrays([arrays[name] for name in schema.names], schema=schema)

    def _product(self, index: np.ndarray) -> pa.Array:
        return pc.take(self.products, pa.array(index))


def _bound_by_phone(
    tenures: Tenures, accounts: Accounts, bound: BoundAccounts
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bound accounts ordered by phone, then network: their Accounts rows, their phones, and the
    order to apply to the per-bound-account columns."""
    phone = tenures.phone[accounts.holder[bound.row]]
    order = np.lexsort((accounts.product[bound.row], phone))
    return bound.row[order], phone[order], order


def _by_phone_and_time(phone: np.ndarray, ts: np.ndarray) -> np.ndarray:
    # One int64 key sorts several times faster than a lexsort; ts spans far less than 2**34 s.
    if not ts.size:
        return np.arange(0)
    return np.argsort((phone << 34) + (ts - ts.min()))


def _ts(seconds: np.ndarray) -> pa.Array:
    return pa.array(seconds.astype(np.int64) * 1_000_000, TS)


def _ids(key: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    return pc.cast(pa.array(key, pa.int64(), mask=missing), pa.string())


def _pick(
    values: tuple[str, ...], index: np.ndarray, missing: np.ndarray | None = None
) -> pa.Array:
    return pc.take(pa.array(values, pa.string()), pa.array(index, mask=missing))


def _hex(value: np.ndarray, missing: np.ndarray) -> pa.Array:
    """uint32 → 8 lowercase hex digits, built as one buffer (no Python loop)."""
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    shifts = np.arange(28, -1, -4, dtype=np.uint32)
    text = digits[(value[:, None] >> shifts) & 0xF].astype(np.uint8)
    offsets = np.arange(0, 8 * value.size + 1, 8, dtype=np.int32)
    validity = pa.array(~missing).buffers()[1] if missing.any() else None
    return pa.StringArray.from_buffers(
        value.size,
        pa.py_buffer(offsets),
        pa.py_buffer(text.tobytes()),
        validity,
        int(missing.sum()),
    )
