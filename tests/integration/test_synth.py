"""The synthetic history generator: layout, determinism, realism and a truth that holds up."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import phonenumbers
import pyarrow.parquet as pq
import pytest

from pipelines.synth import KINDS, SCHEMAS, SynthParams, SynthSummary, generate

pytestmark = pytest.mark.integration

PHONES = 20_000
SEED = 11
# Three chunks, so that chunk boundaries and the per-chunk files are exercised.
PARAMS = SynthParams(chunk_phones=8_000)
EVENT_KINDS = ("code_entries", "sms_deliveries", "registrations", "number_changes")


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SynthSummary]:
    out = tmp_path_factory.mktemp("history")
    return out, generate(out, PHONES, SEED, PARAMS)


@pytest.fixture(scope="module")
def db(history: tuple[Path, SynthSummary]) -> duckdb.DuckDBPyConnection:
    out, _ = history
    con = duckdb.connect()
    for kind in KINDS:
        con.execute(f"create view {kind} as select * from read_parquet('{out}/{kind}/*.parquet')")
    for name in ("holders", "accounts", "labels"):
        con.execute(
            f"create view truth_{name} as select * from read_parquet('{out}/truth/{name}.parquet')"
        )
    return con


def scalar(db: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = db.execute(sql).fetchone()
    assert row is not None
    return row[0]


def tree_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.*"))}


def test_the_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    params = SynthParams(chunk_phones=1_000)
    generate(tmp_path / "a", 2_500, 5, params)
    generate(tmp_path / "b", 2_500, 5, params)
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")


def test_another_seed_gives_another_history(tmp_path: Path) -> None:
    generate(tmp_path / "a", 2_000, 5)
    generate(tmp_path / "b", 2_000, 6)
    a = pq.read_table(tmp_path / "a" / "truth" / "labels.parquet").column("phone").to_pylist()
    b = pq.read_table(tmp_path / "b" / "truth" / "labels.parquet").column("phone").to_pylist()
    assert a != b


def test_a_rerun_replaces_the_earlier_files(tmp_path: Path) -> None:
    generate(tmp_path, 3_000, 5, SynthParams(chunk_phones=1_000))
    generate(tmp_path, 1_000, 5, SynthParams(chunk_phones=1_000))
    assert [p.name for p in (tmp_path / "code_entries").iterdir()] == ["part-00000.parquet"]


def test_every_kind_is_a_folder_of_parts_with_the_layout_schema(
    history: tuple[Path, SynthSummary],
) -> None:
    out, _ = history
    for kind in KINDS:
        parts = sorted((out / kind).glob("*.parquet"))
        expected = (
            ["part-00000.parquet"]
            if kind == "verifications"
            else [f"part-{i:05d}.parquet" for i in range(3)]
        )
        assert [p.name for p in parts] == expected, kind
        for part in parts:
            assert pq.read_schema(part).equals(SCHEMAS[kind]), part
    for name in ("holders", "accounts", "labels"):
        schema = pq.read_schema(out / "truth" / f"{name}.parquet")
        assert schema.equals(SCHEMAS[f"truth/{name}"]), name


def test_every_event_kind_has_rows_and_verifications_has_none(
    history: tuple[Path, SynthSummary], db: duckdb.DuckDBPyConnection
) -> None:
    _, summary = history
    for kind in KINDS:
        rows = scalar(db, f"select count(*) from {kind}")
        assert rows == summary.rows[kind]
        assert (rows == 0) == (kind == "verifications"), kind


def test_events_per_phone_are_near_the_density(history: tuple[Path, SynthSummary]) -> None:
    _, summary = history
    assert summary.events / PHONES == pytest.approx(PARAMS.events_per_phone, rel=0.05)


def test_density_is_a_knob(tmp_path: Path) -> None:
    summary = generate(tmp_path, 2_000, 5, replace(PARAMS, events_per_phone=30.0))
    assert summary.events / 2_000 == pytest.approx(30.0, rel=0.05)


def test_event_times_fall_within_the_history(db: duckdb.DuckDBPyConnection) -> None:
    for kind in EVENT_KINDS:
        low, high = db.execute(f"select min(ts), max(ts) from {kind}").fetchone() or ()
        assert PARAMS.start <= low and high <= PARAMS.end, kind
    assert scalar(db, "select max(last_seen_at) from accounts") <= PARAMS.end


def test_phones_are_unique_valid_mobile_numbers(db: duckdb.DuckDBPyConnection) -> None:
    phones = [row[0] for row in db.execute("select phone from truth_labels").fetchall()]
    assert len(phones) == len(set(phones)) == PHONES
    assert all(re.fullmatch(r"\+[1-9]\d{9,13}", phone) for phone in phones)
    mobile = {
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    }
    countries: Counter[str] = Counter()
    for phone in phones[::5]:
        parsed = phonenumbers.parse(phone)
        assert phonenumbers.is_valid_number(parsed), phone
        assert phonenumbers.number_type(parsed) in mobile, phone
        countries[phonenumbers.region_code_for_number(parsed) or "?"] += 1
    # Mostly Russia, and every country of the audience table.
    assert 0.6 < countries["RU"] / countries.total() < 0.8
    assert set(countries) == {
        "RU",
        "UA",
        "KZ",
        "BY",
        "US",
        "TR",
        "AZ",
        "UZ",
        "DE",
        "MD",
        "KG",
        "AM",
    }


def test_each_event_stream_keeps_its_contract(db: duckdb.DuckDBPyConnection) -> None:
    assert (
        scalar(
            db,
            "select count(*) from sms_deliveries where (status = 'delivered') <> (error is null)",
        )
        == 0
    )
    assert scalar(db, "select count(*) from code_entries where product <> lower(product)") == 0
    assert {
        row[0]
        for row in db.execute(
            "select distinct gender from registrations where gender is not null"
        ).fetchall()
    } == {"m", "f"}
    absent = scalar(
        db, "select avg(coalesce(error = 'absent_subscriber', false)::int) from sms_deliveries"
    )
    assert 0.005 < float(absent) < 0.04


def test_every_registration_comes_with_its_code_entry(db: duckdb.DuckDBPyConnection) -> None:
    unmatched = scalar(
        db,
        """
        select count(*) from registrations r anti join code_entries c
        on c.phone = r.phone and c.ts = r.ts and c.product = r.product
        and c.account_id = r.account_id""",
    )
    assert unmatched == 0


def test_every_code_entry_follows_a_delivered_sms(db: duckdb.DuckDBPyConnection) -> None:
    unmatched = scalar(
        db,
        """
        select count(*) from code_entries c anti join sms_deliveries s
        on s.phone = c.phone and s.product = c.product and s.status = 'delivered'
        and s.ts <= c.ts and s.ts >= c.ts - interval 90 second""",
    )
    assert unmatched == 0


def test_a_number_has_at_most_one_account_per_network(db: duckdb.DuckDBPyConnection) -> None:
    assert (
        scalar(
            db,
            "select count(*) from (select phone, network from accounts "
            "group by all having count(*) > 1)",
        )
        == 0
    )
    assert (
        scalar(
            db,
            "select count(*) from accounts a anti join truth_accounts t "
            "using (network, account_id, phone)",
        )
        == 0
    )
    assert scalar(db, "select count(*) from accounts") == scalar(
        db, "select count(*) from truth_accounts"
    )


def test_holders_of_a_number_never_overlap(db: duckdb.DuckDBPyConnection) -> None:
    overlaps = scalar(
        db,
        """
        select count(*) from (
            select held_until, lead(held_from) over (partition by phone order by held_from) nxt
            from truth_holders) where nxt is not null and (held_until is null or nxt < held_until)
    """,
    )
    assert overlaps == 0
    assert scalar(db, "select count(*) from truth_holders where held_until < held_from") == 0


def test_every_phone_has_one_label(db: duckdb.DuckDBPyConnection) -> None:
    assert scalar(db, "select count(distinct phone) from truth_labels") == PHONES
    assert (
        scalar(
            db,
            "select count(*) from truth_labels l anti join "
            "(select distinct phone from truth_holders) h using (phone)",
        )
        == 0
    )


def test_owner_changes_exist_and_some_left_no_evidence(
    history: tuple[Path, SynthSummary], db: duckdb.DuckDBPyConnection
) -> None:
    _, summary = history
    changed = scalar(db, "select count(*) from truth_labels where owner_changed")
    silent = scalar(db, "select count(*) from truth_labels where owner_changed and not evidence")
    assert changed == summary.owner_changed_phones
    assert 0.02 * PHONES < changed < 0.25 * PHONES
    assert 0 < silent < changed
    assert scalar(db, "select count(*) from truth_labels where evidence and not owner_changed") == 0
    assert summary.ownership_changes > 0
    assert scalar(db, "select count(*) from truth_holders where held_until is null") < PHONES


def test_the_label_of_a_number_with_bound_accounts_follows_their_holders(
    db: duckdb.DuckDBPyConnection,
) -> None:
    disagreeing = scalar(
        db,
        """
        with current_holder as (
            select phone, holder_id from truth_holders where held_until is null
        ), stale as (
            select a.phone, bool_or(c.holder_id is distinct from a.holder_id) as stale
            from truth_accounts a left join current_holder c using (phone) group by a.phone
        )
        select count(*) from stale join truth_labels l using (phone)
        where l.owner_changed <> stale.stale""",
    )
    assert disagreeing == 0


def test_current_holder_since_is_the_current_tenure_start(db: duckdb.DuckDBPyConnection) -> None:
    assert (
        scalar(
            db,
            """
        select count(*) from truth_labels l left join
            (select phone, held_from from truth_holders where held_until is null) h using (phone)
        where l.current_holder_since is distinct from h.held_from""",
        )
        == 0
    )


def test_unknown_subscriber_failures_only_hit_numbers_out_of_service(
    db: duckdb.DuckDBPyConnection,
) -> None:
    failures = scalar(db, "select count(*) from sms_deliveries where error = 'unknown_subscriber'")
    in_service = scalar(
        db,
        f"""
        select count(*) from sms_deliveries s join truth_holders h
        on h.phone = s.phone and s.ts >= h.held_from
        and s.ts < coalesce(h.held_until, timestamp '{PARAMS.end}')
        where s.error = 'unknown_subscriber'""",
    )
    assert failures > 0
    assert in_service == 0


def test_meta_records_the_run(history: tuple[Path, SynthSummary]) -> None:
    out, summary = history
    meta = json.loads((out / "truth" / "meta.json").read_text())
    assert (meta["seed"], meta["phones"]) == (SEED, PHONES)
    assert meta["start"] == "2023-11-01T00:00:00" and meta["end"] == "2026-11-01T00:00:00"
    assert meta["params"]["chunk_phones"] == 8_000
    assert (summary.start, summary.end) == (PARAMS.start, PARAMS.end)


def test_progress_is_reported_after_each_chunk(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    generate(
        tmp_path,
        2_500,
        5,
        SynthParams(chunk_phones=1_000),
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(1_000, 2_500), (2_000, 2_500), (2_500, 2_500)]


def test_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="start must precede end"):
        SynthParams(start=PARAMS.end, end=PARAMS.start)
    with pytest.raises(ValueError, match="reporter_share"):
        SynthParams(reporter_share=1.5)
