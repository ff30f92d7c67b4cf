"""The synthetic history generator: layout, determinism, realism and a truth that holds up."""

from __future__ import annotations

import fcntl
import json
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import phonenumbers
import pyarrow.parquet as pq
import pytest

from pipelines.synth import KINDS, SCHEMAS, SynthParams, SynthSummary, generate
from pipelines.synth_events import Registrations
from pipelines.synth_folder import SynthFolderError
from pipelines.synth_truth import _stranger_registered

pytestmark = pytest.mark.integration

PHONES = 6_000
SEED = 11
# The realistic default density, in three chunks so that chunk boundaries and the per-chunk
# files are exercised.
PARAMS = SynthParams(chunk_phones=2_500)
# docs/synth.md, "Density": the realistic defaults give about 126 events per number.
REALISTIC_EVENTS_PER_PHONE = 126.0
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
        con.read_parquet(str(out / kind / "*.parquet")).create_view(kind)
    for name in ("holders", "accounts", "labels"):
        con.read_parquet(str(out / "truth" / f"{name}.parquet")).create_view(f"truth_{name}")
    return con


def scalar(db: duckdb.DuckDBPyConnection, sql: str, **params: object) -> Any:
    return db.execute(sql, params or None).fetchall()[0][0]


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


class Interrupted(Exception):
    """Stands for Ctrl-C or a full disk part of the way through."""


def interrupt_after_the_first_chunk(done: int, total: int) -> None:
    raise Interrupted


def test_a_run_that_fails_midway_leaves_the_earlier_history_whole(tmp_path: Path) -> None:
    out = tmp_path / "history"
    generate(out, 1_000, 5, SynthParams(chunk_phones=500))
    before = tree_bytes(out)

    with pytest.raises(Interrupted):
        generate(out, 2_000, 6, SynthParams(chunk_phones=500), interrupt_after_the_first_chunk)

    assert tree_bytes(out) == before
    assert not (tmp_path / ".history.partial").exists()  # no half-written one left


def test_a_first_run_that_fails_leaves_no_history_to_score_by_mistake(tmp_path: Path) -> None:
    with pytest.raises(Interrupted):
        generate(
            tmp_path / "h", 2_000, 6, SynthParams(chunk_phones=500), interrupt_after_the_first_chunk
        )

    assert not (tmp_path / "h").exists()
    assert not (tmp_path / ".h.partial").exists()


def test_a_folder_holding_files_the_generator_did_not_write_is_refused_and_kept(
    tmp_path: Path,
) -> None:
    generate(tmp_path, 500, 5)
    exported = tmp_path / "verifications" / "notify-20261101T000000000000.parquet"
    exported.write_bytes(b"PAR1")
    before = tree_bytes(tmp_path)

    with pytest.raises(SynthFolderError, match=r"verifications/notify-.* the generator did not"):
        generate(tmp_path, 500, 6)

    assert tree_bytes(tmp_path) == before


def test_a_folder_with_other_contents_and_no_finished_history_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")

    with pytest.raises(SynthFolderError, match="holds no finished history"):
        generate(tmp_path, 500, 5)

    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_folder_its_caller_owns_is_replaced_whole(tmp_path: Path) -> None:
    generate(tmp_path, 500, 5)
    (tmp_path / "verifications" / "notify-20261101T000000000000.parquet").write_bytes(b"PAR1")
    (tmp_path / ".lock").touch()

    generate(tmp_path, 500, 5, replace_others=True)

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*KINDS, "truth"])
    assert [p.name for p in (tmp_path / "verifications").iterdir()] == ["part-00000.parquet"]


def test_a_run_stopped_while_moving_its_history_in_leaves_the_earlier_one_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "history"
    generate(out, 500, 5)
    before = tree_bytes(out)
    rename, renames = Path.rename, Counter[str]()

    def interrupted_at_the_ninth(path: Path, target: Path) -> Path:
        renames["made"] += 1
        if renames["made"] == 9:  # the seven old entries out, then one of the new ones in
            raise KeyboardInterrupt
        return rename(path, target)

    monkeypatch.setattr(Path, "rename", interrupted_at_the_ninth)
    with pytest.raises(KeyboardInterrupt):
        generate(out, 500, 6)
    monkeypatch.undo()

    assert tree_bytes(out) == before


def test_a_second_run_into_a_folder_being_written_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "history"
    with (tmp_path / ".history.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a run under way holds it

        with pytest.raises(SynthFolderError, match="another run of the generator is writing"):
            generate(out, 500, 5)

    assert not out.exists()


def test_a_file_put_in_the_folder_while_the_history_is_drawn_is_kept_and_the_run_refused(
    tmp_path: Path,
) -> None:
    out = tmp_path / "history"
    generate(out, 500, 5)
    before = tree_bytes(out)

    def someone_exports_into_it(done: int, total: int) -> None:
        (out / "verifications" / "notify-20261101T000000000000.parquet").write_bytes(b"PAR1")

    with pytest.raises(SynthFolderError, match="the generator did not write"):
        generate(out, 500, 6, progress=someone_exports_into_it)

    after = tree_bytes(out)
    assert after.pop("verifications/notify-20261101T000000000000.parquet") == b"PAR1"
    assert after == before


def test_more_numbers_than_one_history_holds_are_refused_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="from 1 to 100,000,000"):
        generate(tmp_path / "h", 10**10, 5)
    assert not (tmp_path / "h").exists()


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
        rows = db.table(kind).aggregate("count(*)").fetchall()[0][0]
        assert rows == summary.rows[kind]
        assert (rows == 0) == (kind == "verifications"), kind


def test_the_default_density_is_realistic(history: tuple[Path, SynthSummary]) -> None:
    _, summary = history
    assert PARAMS.events_per_phone is None
    assert summary.events / PHONES == pytest.approx(REALISTIC_EVENTS_PER_PHONE, rel=0.06)
    # Each code entry has its SMS; the rest is the background stream of a few SMS a month.
    background = summary.rows["sms_deliveries"] - summary.rows["code_entries"]
    months = (PARAMS.end - PARAMS.start).days / 365.25 * 12
    assert background / PHONES == pytest.approx(PARAMS.background_sms_per_month * months, rel=0.06)


def test_code_entries_per_person_run_from_weekly_to_yearly(db: duckdb.DuckDBPyConnection) -> None:
    # Numbers held by one person throughout the history, who entered at least one code.
    quantiles = db.execute(
        """
        with whole as (
            select phone from truth_holders
            where held_from < $start and held_until is null
        ), per_year as (
            select count(*) / 2.0 as rate from code_entries join whole using (phone) group by phone
        )
        select quantile_cont(rate, 0.05), median(rate), quantile_cont(rate, 0.95) from per_year""",
        {"start": PARAMS.start},
    ).fetchall()[0]
    low, median, high = quantiles
    assert low < 2.5
    assert 5 < median < 10
    assert 35 < high < 75


def test_a_sparse_density_is_a_knob(tmp_path: Path) -> None:
    for density in (10.0, 30.0):
        summary = generate(tmp_path, 2_000, 5, replace(PARAMS, events_per_phone=density))
        assert summary.events / 2_000 == pytest.approx(density, rel=0.05)


def test_a_dense_history_is_drawn_in_chunks_of_fewer_numbers_and_as_dense_as_asked(
    tmp_path: Path,
) -> None:
    dense = SynthParams.of_density(5_000.0)  # 50,000 numbers of 5,000 events: 250 M a chunk

    summary = generate(tmp_path, 3, 5, dense)

    assert dense.chunk_phones * 5_000 <= SynthParams.of_density(None).chunk_phones * 126
    assert SynthParams.of_density(10.0) == SynthParams(events_per_phone=10.0)  # as it was
    assert summary.events / 3 == pytest.approx(5_000, rel=0.05)


def test_only_registrations_predate_the_history(db: duckdb.DuckDBPyConnection) -> None:
    for kind in EVENT_KINDS:
        low, high = db.table(kind).aggregate("min(ts), max(ts)").fetchall()[0]
        assert high <= PARAMS.end, kind
        if kind == "registrations":
            assert low < PARAMS.start, kind
        else:
            assert PARAMS.start <= low, kind
    assert scalar(db, "select max(last_seen_at) from accounts") <= PARAMS.end


def test_every_registration_lies_in_its_holders_tenure(db: duckdb.DuckDBPyConnection) -> None:
    outside = scalar(
        db,
        """
        select count(*) from registrations r anti join truth_holders h
        on h.phone = r.phone and r.ts >= h.held_from
        and r.ts < coalesce(h.held_until, $end)""",
        end=PARAMS.end,
    )
    assert outside == 0
    assert scalar(db, "select min(ts) from registrations") >= PARAMS.accounts_since


def test_every_account_bound_at_the_end_has_its_registration(
    db: duckdb.DuckDBPyConnection,
) -> None:
    unregistered = scalar(
        db,
        """
        select count(*) from accounts a anti join registrations r
        on r.phone = a.phone and r.product = a.network and r.account_id = a.account_id""",
    )
    assert unregistered == 0


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


def test_a_registration_comes_with_its_code_entry_only_inside_the_history(
    db: duckdb.DuckDBPyConnection,
) -> None:
    unmatched = scalar(
        db,
        """
        select count(*) from registrations r anti join code_entries c
        on c.phone = r.phone and c.ts = r.ts and c.product = r.product
        and c.account_id = r.account_id
        where r.ts >= $start""",
        start=PARAMS.start,
    )
    assert unmatched == 0
    before = "select count(*) from registrations where ts < $start"
    assert scalar(db, before, start=PARAMS.start) > 0


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
        """
        select count(*) from sms_deliveries s join truth_holders h
        on h.phone = s.phone and s.ts >= h.held_from
        and s.ts < coalesce(h.held_until, $end)
        where s.error = 'unknown_subscriber'""",
        end=PARAMS.end,
    )
    assert failures > 0
    assert in_service == 0


def test_labels_are_what_the_events_show_after_each_subjects_last_proof(
    db: duckdb.DuckDBPyConnection,
) -> None:
    """The truth's labels and evidence flags, recomputed from the files alone (docs/synth.md)."""
    disagreeing = scalar(
        db,
        """
        with holders as (
            select *, coalesce(held_until, $end) as until from truth_holders
        ), current_holder as (
            select phone, holder_id from truth_holders where held_until is null
        ), first_event as (
            select phone, min(ts) as ts from (
                select phone, ts from registrations union all
                select phone, ts from code_entries union all
                select phone, ts from sms_deliveries union all
                select phone, ts from number_changes
            ) group by phone
        ), candidates as (
            -- the holder at the number's first event, or the last one before it
            select f.phone, arg_max(h.holder_id, h.held_from) as holder_id,
                max(h.held_from) as held_from
            from first_event f join truth_holders h on h.phone = f.phone and h.held_from <= f.ts
            group by f.phone
            union all
            -- the first holder whose tenure reaches into the history
            select phone, arg_min(holder_id, held_from), min(held_from) from truth_holders
            where held_until is null or held_until > $start
            group by phone
        ), reference as (
            select phone, arg_min(holder_id, held_from) as holder_id from candidates group by phone
        ), stale as (
            select a.phone, a.holder_id from truth_accounts a
            left join current_holder c using (phone)
            where c.holder_id is distinct from a.holder_id
        ), unbound_change as (
            select r.phone, r.holder_id from reference r left join current_holder c using (phone)
            where c.holder_id is distinct from r.holder_id
            and r.phone not in (select phone from truth_accounts)
        ), subjects as (
            select distinct phone, holder_id, held_from, until
            from (select * from stale union all select * from unbound_change)
            join holders using (phone, holder_id)
        ), own as (
            select s.phone, s.holder_id, r.ts, r.name_key, r.birth_date, r.gender
            from subjects s join registrations r
            on r.phone = s.phone and r.ts >= s.held_from and r.ts < s.until
        ), codes as (
            select s.phone, s.holder_id, max(c.ts) as ts from subjects s join code_entries c
            on c.phone = s.phone and c.ts >= s.held_from and c.ts < s.until group by all
        ), proofs as (
            select s.phone, s.holder_id, greatest(
                s.held_from,
                coalesce(c.ts, s.held_from),
                coalesce((select max(o.ts) from own o
                          where o.phone = s.phone and o.holder_id = s.holder_id), s.held_from)
            ) as proof
            from subjects s left join codes c using (phone, holder_id)
        ), traces as (
            select phone, ts from number_changes
            union all
            select phone, ts from sms_deliveries where error = 'unknown_subscriber'
        ), evident as (
            select p.phone from proofs p join traces t on t.phone = p.phone and t.ts > p.proof
            union
            -- after the last proof, so not the subject's: someone else's registration
            select p.phone from proofs p
            join registrations r on r.phone = p.phone and r.ts > p.proof
            join own o on o.phone = p.phone and o.holder_id = p.holder_id
            where coalesce((r.name_key <> o.name_key)::int, 0)
                + coalesce((r.birth_date <> o.birth_date)::int, 0)
                + coalesce((r.gender <> o.gender)::int, 0) >= 2
        )
        select count(*) from truth_labels
        where evidence <> (phone in (select phone from evident))
        -- a number without bound accounts changed when its holder is not the reference one
        or owner_changed <> (phone in (select phone from stale union
                                       select phone from unbound_change))""",
        start=PARAMS.start,
        end=PARAMS.end,
    )
    assert disagreeing == 0


def registrations(*rows: tuple[int, int, int | None, int | None, bool | None]) -> Registrations:
    """Registrations on number 0 as (ts, holder, name_key, birth_day, male); None is missing."""
    ts, holder, name, birth, male = (np.array(column) for column in zip(*rows, strict=True))
    return Registrations(
        phone=np.zeros(len(rows), dtype=np.int64),
        ts=ts.astype(np.int64),
        product=np.zeros(len(rows), dtype=np.int16),
        key=np.arange(len(rows), dtype=np.int64),
        holder=holder.astype(np.int64),
        name_key=np.array([v or 0 for v in name], dtype=np.uint32),
        birth_day=np.array([v or 0 for v in birth], dtype=np.int32),
        male=np.array([bool(v) for v in male]),
        region=np.zeros(len(rows), dtype=np.int32),
        name_missing=np.array([v is None for v in name]),
        birth_missing=np.array([v is None for v in birth]),
        gender_missing=np.array([v is None for v in male]),
        region_missing=np.ones(len(rows), dtype=bool),
    )


SUBJECT, STRANGER = 0, 1
LAST_PROOF = 100


@pytest.mark.parametrize(
    ("stranger", "evident"),
    [
        ((200, STRANGER, 2, 2_000, True), True),  # name and birth date differ
        ((200, STRANGER, 2, 2_000, None), True),  # two differ, gender unknown
        ((200, STRANGER, 2, None, None), False),  # only the name can be compared
        ((200, STRANGER, 1, 2_000, True), False),  # one field off: could be the same person
        ((200, STRANGER, None, 1_000, False), False),  # one field differs, one agrees
        ((50, STRANGER, 2, 2_000, False), False),  # before the subject's last proof
        ((200, SUBJECT, 2, 2_000, False), False),  # the subject's own re-registration
    ],
)
def test_a_registration_is_evidence_when_two_compared_fields_differ(
    stranger: tuple[int, int, int | None, int | None, bool | None], evident: bool
) -> None:
    registered = registrations((10, SUBJECT, 1, 1_000, True), stranger)
    found = _stranger_registered(
        np.array([SUBJECT]), np.array([0]), np.array([LAST_PROOF]), registered
    )
    assert found.tolist() == [evident]


def test_meta_records_the_run(history: tuple[Path, SynthSummary]) -> None:
    out, summary = history
    meta = json.loads((out / "truth" / "meta.json").read_text())
    assert (meta["seed"], meta["phones"]) == (SEED, PHONES)
    assert meta["start"] == "2024-11-01T00:00:00" and meta["end"] == "2026-11-01T00:00:00"
    assert meta["params"]["chunk_phones"] == 2_500
    assert meta["params"]["events_per_phone"] is None
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
    with pytest.raises(ValueError, match="quarantine_days_min must not be negative"):
        SynthParams(quarantine_days_min=-10)
