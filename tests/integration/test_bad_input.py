"""Bad input is rejected with a clear error, and nothing is dropped silently (DESIGN §3)."""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import phonenumbers
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines import scoring
from pipelines.input_files import InputError
from pipelines.scoring import RejectedShareTooHighError, ScoreRequest, ScoreRequestError, score
from tests.factories import ANNA, AS_OF, History, days_ago

RU_MOBILE = "+79234567823"


def healthy_history(numbers: int = 40) -> History:
    history = History()
    for index in range(numbers):
        phone = f"+7923{index:07d}"
        history.register(phone, days_ago(300), ANNA, account=f"vk-{index}").account(
            phone, f"vk-{index}"
        )
        for day in range(290, 0, -30):
            history.sms(phone, days_ago(day))
    return history


def run(events: Path, out: Path, **kwargs: object) -> dict:  # type: ignore[type-arg]
    return score(ScoreRequest(events, out, as_of=AS_OF, **kwargs)).manifest  # type: ignore[arg-type]


def test_bad_rows_go_to_the_rejects_file_with_a_reason(tmp_path: Path) -> None:
    history = healthy_history()
    history.sms("not a phone", days_ago(3))
    history.sms("+00123", days_ago(3))
    history.sms(RU_MOBILE, days_ago(3), status="bounced")
    history.sms(RU_MOBILE, days_ago(3), status="failed", error="lost_in_space")
    history.sms(RU_MOBILE, days_ago(3), status="delivered", error="unknown_subscriber")
    history.sms(RU_MOBILE, days_ago(3), status="delivered", error="bogus")  # unknown, said so
    history.sms(RU_MOBILE, datetime(1, 1, 1))  # a "no date" sentinel, not a time
    history.sms(RU_MOBILE, days_ago(-3))  # after as_of: left out, not rejected
    events = history.write(tmp_path / "events")

    manifest = run(events, tmp_path / "out", max_reject_share=0.5)

    counts = manifest["inputs"]["sms_deliveries"]
    assert counts["rejected"] == 7
    assert counts["after_as_of"] == 1
    assert counts["rows"] == counts["accepted"] + counts["rejected"] + counts["after_as_of"]
    assert counts["reject_reasons"] == {
        "phone is not a valid number": 2,
        "status is not one of the allowed values": 1,
        "error is not one of the allowed values": 2,
        "a delivered SMS has no error": 1,
        "ts is not after 1970-01-01": 1,
    }
    rejects = pl.read_parquet(tmp_path / "out" / "rejects" / "sms_deliveries.parquet")
    assert sorted(rejects["phone_text"].to_list()) == sorted(
        ["not a phone", "+00123", *[RU_MOBILE] * 5]
    )
    assert rejects["reject_reason"].null_count() == 0
    # the raw texts of a rejected row come with it, though the checked rows do not keep them
    assert set(rejects["product_text"].to_list()) == {"bank_x"}


def test_messy_but_valid_phones_are_mended_not_rejected(tmp_path: Path) -> None:
    history = healthy_history()
    history.sms("+7 (923) 456-78-23", days_ago(2))
    history.sms("+7 923 456 78 23", days_ago(2), status="bounced")  # mended, then rejected
    events = history.write(tmp_path / "events")

    manifest = run(events, tmp_path / "out", max_reject_share=0.5)

    counts = manifest["inputs"]["sms_deliveries"]
    assert counts["reject_reasons"] == {"status is not one of the allowed values": 1}
    assert counts["rows"] == counts["accepted"] + counts["rejected"] + counts["after_as_of"]
    assert counts["rows"] == len(history.rows["sms_deliveries"])
    assert manifest["phone_texts_mended"] == 2
    scores = pl.read_parquet(tmp_path / "out" / "scores.parquet")
    assert RU_MOBILE in scores["phone"].to_list()


def test_a_phone_wrapped_in_direction_marks_as_a_contacts_app_copies_it_is_mended(
    tmp_path: Path,
) -> None:
    history = healthy_history()
    history.sms("\u202a+7 923 456 78 23\u202c", days_ago(2))
    events = history.write(tmp_path / "events")

    manifest = run(events, tmp_path / "out")

    assert manifest["inputs"]["sms_deliveries"]["rejected"] == 0
    assert manifest["phone_texts_mended"] == 1


def test_accounts_listed_on_several_numbers_are_counted_and_both_numbers_kept(
    tmp_path: Path,
) -> None:
    history = healthy_history()  # vk-0 … vk-39, each on its own number
    history.account(RU_MOBILE, "vk-0").account("+7 (923) 000-00-01", "vk-1")
    history.account("+79230000002", "vk-2", last_seen=days_ago(3))  # the same number again
    events = history.write(tmp_path / "events")

    manifest = run(events, tmp_path / "out")

    assert manifest["accounts_on_several_numbers"] == 1  # vk-0; vk-1's texts are one number
    assert manifest["inputs"]["accounts"]["rejected"] == 0
    scores = pl.read_parquet(tmp_path / "out" / "scores.parquet")
    assert {RU_MOBILE, "+79230000000"} <= set(scores["phone"].to_list())


# RU_MOBILE as a Russian bank's feeds write it, without its country code
RU_MOBILE_NATIONAL_FORMS = ("8 (923) 456-78-23", "89234567823", "79234567823", "9234567823")
DE_LANDLINE = "+49301234567"


def _code_entries_written_as(events: Path, *phones: str) -> None:
    """Rewrite the history's code entries as CSV, with one more entry for each phone text."""
    csv = _as_csv(events, "code_entries")
    with csv.open("a", encoding="utf-8") as file:
        file.writelines(f"{phone},2026-05-20T10:00:00Z,vk,vk-1\n" for phone in phones)


@pytest.mark.parametrize("written", RU_MOBILE_NATIONAL_FORMS)
def test_a_phone_without_its_country_code_is_read_in_the_default_region(
    written: str, tmp_path: Path
) -> None:
    events = healthy_history().write(tmp_path / "events")
    _code_entries_written_as(events, written)

    manifest = run(events, tmp_path / "out", default_region="RU")

    assert manifest["inputs"]["code_entries"]["rejected"] == 0
    assert manifest["phone_texts_mended"] == 1
    assert manifest["settings"]["default_region"] == "RU"
    scores = pl.read_parquet(tmp_path / "out" / "scores.parquet")
    assert RU_MOBILE in scores["phone"].to_list()


def test_without_a_default_region_a_phone_without_its_country_code_is_rejected(
    tmp_path: Path,
) -> None:
    events = healthy_history().write(tmp_path / "events")
    _code_entries_written_as(events, *RU_MOBILE_NATIONAL_FORMS)

    manifest = run(events, tmp_path / "out", max_reject_share=0.5)

    assert manifest["inputs"]["code_entries"]["reject_reasons"] == {
        "phone is not a valid number": len(RU_MOBILE_NATIONAL_FORMS)
    }
    assert manifest["settings"]["default_region"] is None
    rejects = pl.read_parquet(tmp_path / "out" / "rejects" / "code_entries.parquet")
    assert sorted(rejects["phone_text"].to_list()) == sorted(RU_MOBILE_NATIONAL_FORMS)
    scores = pl.read_parquet(tmp_path / "out" / "scores.parquet")
    assert RU_MOBILE not in scores["phone"].to_list()


def test_a_phone_with_its_country_code_keeps_its_country_whatever_the_default_region(
    tmp_path: Path,
) -> None:
    events = healthy_history().write(tmp_path / "events")
    _code_entries_written_as(events, "+49 30 1234567")

    manifest = run(events, tmp_path / "out", default_region="RU")

    assert manifest["inputs"]["code_entries"]["rejected"] == 0
    scores = pl.read_parquet(tmp_path / "out" / "scores.parquet")["phone"].to_list()
    assert DE_LANDLINE in scores


def _in_every_kind(history: History, phone: str) -> History:
    account = f"vk-{phone}"
    return (
        history.register(phone, days_ago(60), ANNA, account=account)  # and its code entry
        .account(phone, account)
        .sms(phone, days_ago(3))
        .number_change(phone, days_ago(20), account=account)
        .verification(phone, days_ago(10), "confirmed")
    )


def test_numbers_phonenumbers_finds_invalid_are_rejected_in_every_kind(tmp_path: Path) -> None:
    history = healthy_history()
    invalid = ("+70000000000", "+3758100000000")  # the second: 'ask', phonenumbers says no
    valid_toll_free = "+375800123456"  # Belarus: an 'ask' range, and phonenumbers says yes
    for phone in (*invalid, valid_toll_free):
        _in_every_kind(history, phone)
    history.sms(invalid[0], days_ago(-3))  # after as_of too: an invalid phone is no later row
    events = history.write(tmp_path / "events")

    # two of the three number changes and verifications are invalid: only the bound off
    # publishes them
    manifest = run(events, tmp_path / "out", max_reject_share=1.0)

    assert manifest["invalid_numbers"] == 2
    for kind, rows in history.rows.items():
        counts = manifest["inputs"][kind]
        rejected = sum(1 for row in rows if row["phone"] in invalid)
        assert counts["reject_reasons"] == {"phone is not a valid number": rejected}, kind
        assert counts["rows"] == counts["accepted"] + counts["rejected"] + counts["after_as_of"]
        rejects = pl.read_parquet(tmp_path / "out" / "rejects" / f"{kind}.parquet")
        assert set(rejects["phone_text"].to_list()) == set(invalid), kind
        assert set(rejects["reject_reason"].to_list()) == {"phone is not a valid number"}
        assert rejects["phone"].null_count() == len(rejects)  # as for any phone not valid
    scored = pl.read_parquet(tmp_path / "out" / "scores.parquet")["phone"].to_list()
    assert valid_toll_free in scored
    assert not set(invalid) & set(scored)
    assert len(scored) == 41


def test_a_national_prefix_written_into_e164_is_read_as_phonenumbers_reads_it(
    tmp_path: Path,
) -> None:
    history = healthy_history(numbers=3)
    _in_every_kind(history, "+490301234567")  # +49 0 30 …: the 0 is dialled at home only
    history.sms("+49 0301234567", days_ago(2))  # the same number, written messily
    history.sms("+490301234567", days_ago(2), status="bounced")
    events = history.write(tmp_path / "events")

    manifest = run(events, tmp_path / "out", max_reject_share=0.5)

    assert manifest["phone_texts_mended"] == 2
    assert manifest["inputs"]["sms_deliveries"]["reject_reasons"] == {
        "status is not one of the allowed values": 1
    }
    rejected = pl.read_parquet(tmp_path / "out" / "rejects" / "sms_deliveries.parquet")
    assert rejected["phone"].to_list() == ["+49301234567"]  # the number it was counted under
    scores = pl.read_parquet(tmp_path / "out" / "scores.parquet")
    assert "+49301234567" in scores["phone"].to_list()
    assert "+490301234567" not in scores["phone"].to_list()


def test_a_phonenumbers_the_number_ranges_were_not_made_from_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = healthy_history(numbers=3).write(tmp_path / "events")
    monkeypatch.setattr(phonenumbers, "__version__", "0.0.1")

    with pytest.raises(ScoreRequestError, match="ownership-number-ranges"):
        run(events, tmp_path / "out")

    assert not (tmp_path / "out").exists()


def test_number_ranges_that_name_no_phonenumbers_release_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = healthy_history(numbers=3).write(tmp_path / "events")
    monkeypatch.setattr(scoring, "file_version", lambda: "")

    with pytest.raises(ScoreRequestError) as refused:
        run(events, tmp_path / "out")

    assert "a release it does not name" in str(refused.value)
    assert "phonenumbers==" not in str(refused.value)


def test_too_many_rejects_publish_nothing_and_say_why(tmp_path: Path) -> None:
    history = healthy_history(numbers=3)
    for _ in range(10):
        history.sms("garbage", days_ago(1))
    events = history.write(tmp_path / "events")

    with pytest.raises(RejectedShareTooHighError, match=r"nothing was published.*sms_deliveries"):
        run(events, tmp_path / "out")

    assert not (tmp_path / "out" / "scores.parquet").exists()
    assert not (tmp_path / "out" / "manifest.json").exists()
    assert (tmp_path / "out" / "rejects" / "sms_deliveries.parquet").exists()


def test_a_refusal_gives_a_small_bound_as_it_was_set(tmp_path: Path) -> None:
    history = healthy_history(numbers=3)
    history.sms("garbage", days_ago(1))
    events = history.write(tmp_path / "events")

    with pytest.raises(RejectedShareTooHighError, match=r"more than the bound of 0\.001%;"):
        run(events, tmp_path / "out", max_reject_share=0.00001)


def test_the_rejects_of_a_refused_run_say_so_beside_the_last_good_runs_files(
    tmp_path: Path,
) -> None:
    history = healthy_history(numbers=3)
    history.sms("garbage", days_ago(1))
    events = history.write(tmp_path / "events")
    out = tmp_path / "out"
    good = run(events, out, max_reject_share=0.5)
    for _ in range(10):
        history.sms("garbage", days_ago(1))
    history.write(events)

    with pytest.raises(RejectedShareTooHighError):
        run(events, out)

    summary = json.loads((out / "rejects" / "summary.json").read_text())
    assert summary["published"] is False
    assert summary["inputs"]["sms_deliveries"]["reject_reasons"] == {
        "phone is not a valid number": 11
    }
    assert summary["max_reject_share"] == 0.01
    # the manifest beside them is still the last good run's, with its own count
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["run_at"] == good["run_at"]
    assert manifest["inputs"]["sms_deliveries"]["rejected"] == 1


def test_the_rejects_of_a_published_run_say_so(tmp_path: Path) -> None:
    history = healthy_history(numbers=3)
    history.sms("garbage", days_ago(1))
    events = history.write(tmp_path / "events")

    manifest = run(events, tmp_path / "out", max_reject_share=0.5)

    summary = json.loads((tmp_path / "out" / "rejects" / "summary.json").read_text())
    assert summary["published"] is True
    assert summary["inputs"] == manifest["inputs"]
    assert (summary["as_of"], summary["run_at"]) == (manifest["as_of"], manifest["run_at"])


def test_a_missing_column_stops_the_run(tmp_path: Path) -> None:
    events = healthy_history().write(tmp_path / "events")
    table = pq.read_table(events / "sms_deliveries" / "part-0.parquet").drop_columns(["status"])
    pq.write_table(table, events / "sms_deliveries" / "part-0.parquet")

    with pytest.raises(InputError, match=r"'sms_deliveries': missing column\(s\) status"):
        run(events, tmp_path / "out")


def test_a_column_of_the_wrong_type_stops_the_run(tmp_path: Path) -> None:
    events = healthy_history().write(tmp_path / "events")
    path = events / "code_entries" / "part-0.parquet"
    table = pq.read_table(path)
    seconds = pa.array([1_700_000_000] * len(table), pa.int64())
    pq.write_table(table.set_column(1, "ts", seconds), path)

    with pytest.raises(InputError, match=r"column ts has type BIGINT, expected timestamp"):
        run(events, tmp_path / "out")


def _as_zoned_nanoseconds(path: Path, column: str) -> None:
    """Rewrite a Parquet column as pandas 2.x writes tz-aware times: timestamp[ns, tz=UTC]."""
    table = pq.read_table(path)
    index = table.schema.get_field_index(column)
    zoned = table.column(index).cast(pa.timestamp("ns", tz="UTC"))
    pq.write_table(table.set_column(index, column, zoned), path)


def test_times_and_dates_written_as_zoned_nanoseconds_are_read_as_utc(tmp_path: Path) -> None:
    history = healthy_history()
    history.code(RU_MOBILE, datetime(2026, 5, 20, 23, 30), account="vk-1")
    events = history.write(tmp_path / "events")
    _as_zoned_nanoseconds(events / "code_entries" / "part-0.parquet", "ts")
    _as_zoned_nanoseconds(events / "accounts" / "part-0.parquet", "last_seen_at")
    _as_zoned_nanoseconds(events / "registrations" / "part-0.parquet", "birth_date")

    manifest = run(events, tmp_path / "out")

    for kind in ("code_entries", "accounts", "registrations"):
        assert manifest["inputs"][kind]["rejected"] == 0
        assert manifest["inputs"][kind]["accepted"] == len(history.rows[kind])
    scores = pl.read_parquet(tmp_path / "out" / "scores.parquet")
    last_code = scores.filter(pl.col("phone") == RU_MOBILE)["last_code_at"].item()
    assert last_code == datetime(2026, 5, 20, 23, 30, tzinfo=UTC)


def test_an_empty_folder_stops_the_run(tmp_path: Path) -> None:
    (tmp_path / "events").mkdir()

    with pytest.raises(InputError, match="is empty"):
        run(tmp_path / "events", tmp_path / "out")


def test_a_missing_kind_stops_the_run(tmp_path: Path) -> None:
    events = healthy_history().write(tmp_path / "events")
    shutil.rmtree(events / "registrations")

    with pytest.raises(InputError, match="missing kind 'registrations'"):
        run(events, tmp_path / "out")


def test_a_kind_without_files_stops_the_run(tmp_path: Path) -> None:
    events = healthy_history().write(tmp_path / "events")
    (events / "accounts" / "part-0.parquet").unlink()

    with pytest.raises(InputError, match=r"'accounts'.*has no \*\.parquet or \*\.csv files"):
        run(events, tmp_path / "out")


def test_birth_dates_no_person_registering_can_have_are_rejected(tmp_path: Path) -> None:
    events = healthy_history().write(tmp_path / "events")
    for old in (events / "registrations").iterdir():
        old.unlink()
    lines = [
        f"{RU_MOBILE},2026-05-20T10:00:00Z,vk,vk-{number},anna,{birth_date},f,"
        for number, birth_date in enumerate(
            ["1985-03-02", "infinity", "-infinity", "9999-12-31", "1850-01-01", "2026-05-21"]
        )
    ]
    (events / "registrations" / "registrations.csv").write_text(
        "phone,ts,product,account_id,name_key,birth_date,gender,region\n" + "\n".join(lines),
        encoding="utf-8",
    )

    manifest = run(events, tmp_path / "out", max_reject_share=0.9)

    assert manifest["inputs"]["registrations"]["reject_reasons"] == {
        "birth_date is not a plausible birth date": 5
    }
    assert manifest["inputs"]["registrations"]["accepted"] == 1


def test_csv_input_is_checked_row_by_row(tmp_path: Path) -> None:
    history = healthy_history()
    events = history.write(tmp_path / "events")
    # the kind's good rows stay: three bad rows of four would pass any kind's bound
    with _as_csv(events, "code_entries").open("a", encoding="utf-8") as codes:
        codes.write(
            f"{RU_MOBILE},2026-05-20T10:00:00Z,vk,vk-1\n"
            f"{RU_MOBILE},yesterday,vk,vk-1\n"
            f"{RU_MOBILE},,VK,vk-1\n"
            f"{RU_MOBILE},2030-01-01T00:00:00Z,vk,vk-1\n"
        )

    manifest = run(events, tmp_path / "out", max_reject_share=0.5)

    assert manifest["inputs"]["code_entries"]["reject_reasons"] == {
        "ts is not a time": 1,
        "missing ts": 1,
        "ts is later than the run": 1,
    }
    assert manifest["inputs"]["code_entries"]["accepted"] == len(history.rows["code_entries"]) + 1


def with_one_code_entry_at(written: str, tmp_path: Path) -> Path:
    """A healthy history whose code entries are one CSV row, at the time as `written`."""
    events = healthy_history().write(tmp_path / "events")
    (events / "code_entries" / "part-0.parquet").unlink()
    (events / "code_entries" / "codes.csv").write_text(
        f"phone,ts,product,account_id\n{RU_MOBILE},{written},vk,vk-1\n", encoding="utf-8"
    )
    return events


@pytest.mark.parametrize(
    "written",
    [
        "2026-05-20T10:00:00Z",
        "2026-05-20t10:00:00z",
        "2026-05-20 13:00:00+03:00",
        "2026-05-20T10:00:00",
    ],
)
def test_a_time_written_as_rfc_3339_allows_is_read_at_its_moment(
    written: str, tmp_path: Path
) -> None:
    events = with_one_code_entry_at(written, tmp_path)

    manifest = run(events, tmp_path / "out")

    assert manifest["inputs"]["code_entries"]["accepted"] == 1
    scores = pl.read_parquet(tmp_path / "out" / "scores.parquet").filter(phone=RU_MOBILE)
    assert scores["last_code_at"].to_list() == [datetime(2026, 5, 20, 10, tzinfo=UTC)]


def test_a_date_alone_is_read_as_its_midnight_in_utc_in_csv_and_parquet(tmp_path: Path) -> None:
    in_csv = with_one_code_entry_at("2026-05-20", tmp_path / "csv")
    in_parquet = healthy_history().write(tmp_path / "parquet" / "events")
    codes = in_parquet / "code_entries" / "part-0.parquet"
    table = pq.read_table(codes)
    days = pa.array([datetime(2026, 5, 20).date()] * len(table), pa.date32())
    pq.write_table(table.set_column(1, "ts", days), codes)

    for events in (in_csv, in_parquet):
        run(events, events.parent / "out")

        scores = pl.read_parquet(events.parent / "out" / "scores.parquet")
        last_codes = set(scores.filter(pl.col("last_code_at").is_not_null())["last_code_at"])
        assert last_codes == {datetime(2026, 5, 20, tzinfo=UTC)}, events


@pytest.mark.parametrize(
    "written",
    ["2026-05-20 10:00:00 eſt", "2026-05-20 10:00:00 ıst", "2026-05-20 10:00:00 xst"],
    ids=["long-s", "dotless-i", "no-zone"],
)
def test_a_zone_only_a_unicode_capital_would_make_a_name_of_is_not_a_time(
    written: str, tmp_path: Path
) -> None:
    events = with_one_code_entry_at(written, tmp_path)

    # the kind's one row rejected is all of it: published only with the bound off
    manifest = run(events, tmp_path / "out", max_reject_share=1.0)

    assert manifest["inputs"]["code_entries"]["reject_reasons"] == {"ts is not a time": 1}


def test_every_number_of_the_input_is_scored(tmp_path: Path) -> None:
    events = healthy_history(numbers=25).write(tmp_path / "events")

    manifest = run(events, tmp_path / "out")

    scores = pl.read_parquet(tmp_path / "out" / "scores.parquet")
    assert scores.height == manifest["numbers"] == 25
    assert scores["phone"].is_unique().all()


def test_scores_come_in_phone_order(tmp_path: Path) -> None:
    events = healthy_history(numbers=30).write(tmp_path / "events")

    run(events, tmp_path / "out")

    phones = pl.read_parquet(tmp_path / "out" / "scores.parquet")["phone"].to_list()
    assert phones == sorted(phones, key=lambda phone: int(phone[1:]))


def _as_csv(events: Path, kind: str) -> Path:
    """Rewrite a kind's Parquet file as CSV with a header; returns the CSV file."""
    parquet = events / kind / "part-0.parquet"
    target = events / kind / "part-0.csv"
    pl.read_parquet(parquet).write_csv(target)
    parquet.unlink()
    return target


def test_csv_lines_the_reader_cannot_split_are_rejected_with_their_text(tmp_path: Path) -> None:
    events = healthy_history().write(tmp_path / "events")
    csv = _as_csv(events, "sms_deliveries")
    good = len(csv.read_text(encoding="utf-8").splitlines()) - 1
    with csv.open("ab") as file:
        file.write(f"{RU_MOBILE},2026-05-20T10:00:00Z,bank_x,delivered,,EXTRA\n".encode())
        file.write(f"{RU_MOBILE},2026-05-20T10:00:00Z,caf\xe9 bank,delivered,\n".encode("latin-1"))
        file.write(f"{RU_MOBILE},2026-05-20T10:00:00Z\n".encode())

    manifest = run(events, tmp_path / "out", max_reject_share=0.5)

    counts = manifest["inputs"]["sms_deliveries"]
    assert counts["reject_reasons"] == {
        "unreadable CSV line: too many columns": 1,
        "unreadable CSV line: invalid encoding": 1,
        "unreadable CSV line: missing columns": 1,
    }
    assert counts["rows"] == good + 3
    assert counts["accepted"] == good
    rejects = pl.read_parquet(tmp_path / "out" / "rejects" / "sms_deliveries.parquet")
    assert sorted(rejects["line"].to_list()) == [good + 2, good + 3, good + 4]
    assert rejects.filter(pl.col("line") == good + 2)["line_text"].item().endswith(",EXTRA")
    # a byte that is not UTF-8 is shown as an escape, and nothing around it is lost
    latin = rejects.filter(pl.col("line") == good + 3)["line_text"].item()
    assert latin == f"{RU_MOBILE},2026-05-20T10:00:00Z,caf\\xe9 bank,delivered,"
    assert set(rejects["file"].to_list()) == {str(csv)}


@pytest.mark.parametrize("ending", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_a_gzip_record_that_is_not_utf8_keeps_its_text_across_a_quoted_line_break(
    ending: str, tmp_path: Path
) -> None:
    events = healthy_history().write(tmp_path / "events")
    csv = _as_csv(events, "sms_deliveries")
    lines = csv.read_text(encoding="utf-8").splitlines()
    # a product name with a line break in its quotes, and a Latin-1 byte after it
    bad = f'{RU_MOBILE},2026-05-20T10:00:00Z,"bank{ending}caf\xe9 ""x""",delivered,'
    written = ending.join([*lines[:2], bad, *lines[2:], ""]).encode("latin-1")
    with gzip.open(csv.with_suffix(".csv.gz"), "wb") as file:
        file.write(written)
    csv.unlink()

    run(events, tmp_path / "out", max_reject_share=0.5)

    rejects = pl.read_parquet(tmp_path / "out" / "rejects" / "sms_deliveries.parquet")
    assert rejects["reject_reason"].to_list() == ["unreadable CSV line: invalid encoding"]
    assert rejects["line_text"].item() == bad.replace("\xe9", "\\xe9")


def test_a_trailing_comma_adds_no_field_and_the_row_is_read(tmp_path: Path) -> None:
    # as many exports write a line: the empty fields past the header's hold nothing
    events = healthy_history().write(tmp_path / "events")
    csv = _as_csv(events, "sms_deliveries")
    lines = csv.read_text(encoding="utf-8").splitlines()
    row = f"{RU_MOBILE},2026-05-20T10:00:00Z,bank_x,delivered,"
    extra = [row + ",", row + ",,"]
    csv.write_text("\n".join([*lines, *extra, ""]), encoding="utf-8")

    manifest = run(events, tmp_path / "out")

    assert manifest["inputs"]["sms_deliveries"]["accepted"] == len(lines) - 1 + 2
    assert not (tmp_path / "out" / "rejects" / "sms_deliveries.parquet").exists()


@pytest.mark.parametrize(
    "field",
    [
        pytest.param('caf\xe9 ab"c', id="a quote inside an unquoted field opens nothing"),
        pytest.param(' "caf\xe9\nx"', id="a quote after one space opens a field"),
        pytest.param('  "caf\xe9', id="after two spaces it opens nothing"),
        pytest.param('\t"caf\xe9', id="nor after a tab"),
        pytest.param('"caf\xe9" "x\ny"', id="a quote after a closing one opens it again"),
        pytest.param('"" " caf\xe9," ', id="and closes again"),
    ],
)
def test_a_records_text_is_the_record_the_reader_took(field: str, tmp_path: Path) -> None:
    # a line that is not UTF-8 read again from its file: where its record ends is where the
    # reader ended it, the line break inside a quoted field included
    events = healthy_history().write(tmp_path / "events")
    csv = _as_csv(events, "sms_deliveries")
    lines = csv.read_text(encoding="utf-8").splitlines()
    bad = f"{RU_MOBILE},2026-05-20T10:00:00Z,{field},delivered,"
    csv.write_bytes("\n".join([*lines[:2], bad, *lines[2:], ""]).encode("latin-1"))

    manifest = run(events, tmp_path / "out", max_reject_share=0.5)

    rejects = pl.read_parquet(tmp_path / "out" / "rejects" / "sms_deliveries.parquet")
    assert rejects["line_text"].to_list() == [bad.replace("\xe9", "\\xe9")]
    assert manifest["inputs"]["sms_deliveries"]["accepted"] == len(lines) - 1


@pytest.mark.parametrize("ending", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_an_unreadable_lines_byte_offset_is_where_the_line_starts(
    ending: str, tmp_path: Path
) -> None:
    events = healthy_history().write(tmp_path / "events")
    csv = _as_csv(events, "sms_deliveries")
    lines = csv.read_text(encoding="utf-8").splitlines()
    bad = f"{RU_MOBILE},2026-05-20T10:00:00Z,bank_x,delivered,,EXTRA"
    csv.write_bytes(ending.join([*lines[:2], bad, *lines[2:], ""]).encode())

    run(events, tmp_path / "out", max_reject_share=0.5)

    rejects = pl.read_parquet(tmp_path / "out" / "rejects" / "sms_deliveries.parquet")
    with csv.open("rb") as file:
        file.seek(rejects["byte_offset"].item())
        assert file.readline().decode().rstrip(ending) == bad


def test_csv_files_of_a_kind_are_matched_by_column_name(tmp_path: Path) -> None:
    events = healthy_history().write(tmp_path / "events")
    _as_csv(events, "code_entries")
    (events / "code_entries" / "part-1.csv").write_text(
        f"phone,ts,account_id,product\n{RU_MOBILE},2026-05-20T10:00:00Z,vk-7,vk\n",
        encoding="utf-8",
    )

    run(events, tmp_path / "out")

    scores = pl.read_parquet(tmp_path / "out" / "scores.parquet")
    assert scores.filter(pl.col("phone") == RU_MOBILE)["last_code_at"].item() == datetime(
        2026, 5, 20, 10, tzinfo=UTC
    )


def test_a_csv_file_in_utf_16_stops_the_run_saying_its_encoding(tmp_path: Path) -> None:
    events = healthy_history().write(tmp_path / "events")
    _as_csv(events, "code_entries")
    (events / "code_entries" / "part-1.csv").write_text(
        f"phone,ts,product,account_id\r\n{RU_MOBILE},2026-05-20T10:00:00Z,vk,vk-7\r\n",
        encoding="utf-16",
    )

    with pytest.raises(InputError) as stopped:
        run(events, tmp_path / "out")

    assert "part-1.csv: its header holds NUL bytes" in str(stopped.value)
    assert "(UTF-16, say)" in str(stopped.value) and "\x00" not in str(stopped.value)


def test_a_file_of_a_kind_without_a_column_stops_the_run_naming_the_file(
    tmp_path: Path,
) -> None:
    events = healthy_history().write(tmp_path / "events")
    table = pq.read_table(events / "code_entries" / "part-0.parquet")
    pq.write_table(table.drop_columns(["account_id"]), events / "code_entries" / "part-1.parquet")

    with pytest.raises(
        InputError, match=r"'code_entries', file part-1.parquet: missing column\(s\) account_id"
    ):
        run(events, tmp_path / "out")


def test_a_damaged_parquet_file_stops_the_run_with_a_message(tmp_path: Path) -> None:
    events = healthy_history(numbers=400).write(tmp_path / "events")
    path = events / "sms_deliveries" / "part-0.parquet"
    data = bytearray(path.read_bytes())
    data[100:2000] = b"\xab" * 1900  # the pages, not the footer
    path.write_bytes(bytes(data))

    with pytest.raises(InputError, match=r"'sms_deliveries': cannot read its files"):
        run(events, tmp_path / "out")


def test_a_nullable_column_of_nulls_only_is_read(tmp_path: Path) -> None:
    history = healthy_history()  # every SMS delivered: the error column holds only nulls
    events = history.write(tmp_path / "events")
    path = events / "sms_deliveries" / "part-0.parquet"
    table = pq.read_table(path)
    nulls = pa.nulls(len(table), pa.null())
    pq.write_table(table.set_column(table.schema.get_field_index("error"), "error", nulls), path)

    manifest = run(events, tmp_path / "out")

    assert manifest["inputs"]["sms_deliveries"]["accepted"] == len(history.rows["sms_deliveries"])


def test_rejected_values_that_are_not_texts_show_as_written(tmp_path: Path) -> None:
    events = healthy_history().write(tmp_path / "events")
    csv = _as_csv(events, "accounts")
    with csv.open("a", encoding="utf-8") as file:
        file.write(f"vk,vk-x,{RU_MOBILE},yesterday-ish,true\n")
        file.write(f"vk,vk-y,{RU_MOBILE},2026-05-01T10:00:00Z,maybe\n")

    run(events, tmp_path / "out", max_reject_share=0.5)

    rejects = pl.read_parquet(tmp_path / "out" / "rejects" / "accounts.parquet")
    assert rejects["last_seen_at_text"].drop_nulls().to_list() == ["yesterday-ish"]
    assert rejects["mobile_app_text"].drop_nulls().to_list() == ["maybe"]


def test_csv_written_with_a_space_after_each_comma_is_read_in_every_column(
    tmp_path: Path,
) -> None:
    events = healthy_history().write(tmp_path / "events")
    (events / "accounts" / "part-0.parquet").unlink()
    (events / "accounts" / "accounts.csv").write_text(
        "network, account_id, phone, last_seen_at, mobile_app\n"
        f"vk, vk-1, {RU_MOBILE}, 2026-05-30T00:00:00Z, true\n"
        f"ok, ok-1, {RU_MOBILE}, 2026-05-30T00:00:00Z, false\n",
        encoding="utf-8",
    )

    manifest = run(events, tmp_path / "out", max_reject_share=0.5)

    assert manifest["inputs"]["accounts"]["reject_reasons"] == {}
    assert manifest["inputs"]["accounts"]["accepted"] == 2


def test_an_output_folder_inside_the_events_folder_is_refused(tmp_path: Path) -> None:
    events = healthy_history().write(tmp_path / "events")

    with pytest.raises(ScoreRequestError, match="inside the events folder"):
        run(events, events / "code_entries")

    assert sorted(path.name for path in (events / "code_entries").iterdir()) == ["part-0.parquet"]


def test_an_output_folder_that_is_a_file_is_refused(tmp_path: Path) -> None:
    events = healthy_history().write(tmp_path / "events")
    (tmp_path / "out").write_text("not a folder", encoding="utf-8")

    with pytest.raises(ScoreRequestError, match="is a file"):
        run(events, tmp_path / "out")


def test_a_memory_limit_too_small_to_spill_under_is_refused_with_a_message(
    tmp_path: Path,
) -> None:
    events = healthy_history().write(tmp_path / "events")

    with pytest.raises(ScoreRequestError, match="raise --memory-limit"):
        run(events, tmp_path / "out", memory_limit="1KB")


def test_csv_headers_match_the_contract_in_any_case(tmp_path: Path) -> None:
    events = healthy_history().write(tmp_path / "events")
    _as_csv(events, "code_entries").write_text(
        f"PHONE,Ts,Product,ACCOUNT_ID\n{RU_MOBILE},2026-05-20T10:00:00Z,vk,vk-7\n",
        encoding="utf-8",
    )

    manifest = run(events, tmp_path / "out")

    assert manifest["inputs"]["code_entries"]["accepted"] == 1


def test_rejected_rows_show_their_times_as_times(tmp_path: Path) -> None:
    history = healthy_history()
    history.sms(RU_MOBILE, datetime(2026, 5, 20, 10), status="bounced")
    events = history.write(tmp_path / "events")

    run(events, tmp_path / "out", max_reject_share=0.5)

    rejects = pl.read_parquet(tmp_path / "out" / "rejects" / "sms_deliveries.parquet")
    assert rejects["ts"].to_list() == [datetime(2026, 5, 20, 10, tzinfo=UTC)]


def test_an_as_of_no_event_can_precede_is_refused(tmp_path: Path) -> None:
    events = healthy_history().write(tmp_path / "events")

    with pytest.raises(ScoreRequestError, match="after 1970-01-01"):
        score(ScoreRequest(events, tmp_path / "out", as_of=datetime(1970, 1, 1)))


def test_the_manifest_counts_every_status_and_names_the_events_folder_in_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    healthy_history().write(tmp_path / "events")
    monkeypatch.chdir(tmp_path)

    manifest = run(Path("events"), Path("out"))

    assert manifest["statuses"] == {
        "owner_changed": 0,
        "suspicious": 40,  # SMS only, no code entered
        "unknown": 0,
        "verified": 0,
    }
    assert manifest["events_dir"] == str(tmp_path / "events")


def test_many_csv_files_of_a_kind_are_read_together(tmp_path: Path) -> None:
    history = healthy_history(numbers=3)
    events = history.write(tmp_path / "events")
    rows = pl.read_parquet(events / "sms_deliveries" / "part-0.parquet")
    (events / "sms_deliveries" / "part-0.parquet").unlink()
    for index in range(600):  # one expression per file would pass DuckDB's depth limit
        rows.slice(index % rows.height, 1).write_csv(events / "sms_deliveries" / f"{index}.csv")

    manifest = run(events, tmp_path / "out")

    assert manifest["inputs"]["sms_deliveries"]["accepted"] == 600


def test_csv_is_read_as_rfc_4180_whatever_its_first_lines_hold(tmp_path: Path) -> None:
    events = healthy_history().write(tmp_path / "events")
    csv = _as_csv(events, "registrations")
    lines = csv.read_text(encoding="utf-8").splitlines()
    lines[1:1] = [  # where a sniffer would guess from: a quoted comma, a quoted row too wide
        f'{RU_MOBILE},2026-05-20T10:00:00Z,vk,vk-9,nk,1990-01-01,f,"RU-MOW, Moscow"',
        f'"{RU_MOBILE}","2026-05-20T10:00:00Z","vk","vk-10",nk,1990-01-01,f,RU,extra',
    ]
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")

    manifest = run(events, tmp_path / "out", max_reject_share=0.5)

    counts = manifest["inputs"]["registrations"]
    assert counts["reject_reasons"] == {"unreadable CSV line: too many columns": 1}
    assert counts["rows"] == len(lines) - 1


def test_a_quote_left_open_stops_the_run_naming_the_line(tmp_path: Path) -> None:
    events = healthy_history().write(tmp_path / "events")
    csv = _as_csv(events, "code_entries")
    lines = csv.read_text(encoding="utf-8").splitlines()
    lines.insert(3, f'{RU_MOBILE},2026-05-20T10:00:00Z,vk,"vk-1')  # swallows what follows
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")

    with pytest.raises(InputError, match=r"'code_entries', file .*, line 4 \(byte \d+\): a quote"):
        run(events, tmp_path / "out")


def test_a_quote_left_open_stops_the_run_whatever_the_line_ends(tmp_path: Path) -> None:
    events = healthy_history().write(tmp_path / "events")
    csv = _as_csv(events, "code_entries")
    lines = csv.read_text(encoding="utf-8").splitlines()
    lines.insert(3, f'{RU_MOBILE},2026-05-20T10:00:00Z,vk,"vk-1')
    csv.write_bytes("\r".join(lines).encode())  # old Mac line ends: no line feed anywhere

    with pytest.raises(InputError, match=r"line 4 \(byte \d+\): a quote opened"):
        run(events, tmp_path / "out")


def test_a_line_ending_unlike_the_others_stops_the_run_naming_the_line(tmp_path: Path) -> None:
    events = healthy_history().write(tmp_path / "events")
    csv = _as_csv(events, "code_entries")
    lines = csv.read_text(encoding="utf-8").splitlines()
    appended = f"{RU_MOBILE},2026-05-20T10:00:00Z,vk,vk-1\n"  # by a tool that writes LF
    csv.write_bytes(("".join(f"{line}\r\n" for line in lines) + appended).encode())

    with pytest.raises(
        InputError,
        match=rf"'code_entries', file .*, line {len(lines) + 1}: the line ends with LF, while "
        "the lines before it end with CRLF",
    ):
        run(events, tmp_path / "out")


def test_a_closed_quoted_line_break_in_a_broken_line_only_rejects_that_line(
    tmp_path: Path,
) -> None:
    events = healthy_history().write(tmp_path / "events")
    csv = _as_csv(events, "code_entries")
    rows = len(csv.read_text(encoding="utf-8").splitlines()) - 1
    with csv.open("a", encoding="utf-8") as file:
        file.write(f'{RU_MOBILE},2026-05-20T10:00:00Z,vk,"vk\n1",extra\n')

    manifest = run(events, tmp_path / "out", max_reject_share=0.5)

    counts = manifest["inputs"]["code_entries"]
    assert counts["reject_reasons"] == {"unreadable CSV line: too many columns": 1}
    assert counts["accepted"] == rows


def test_a_line_too_long_to_read_is_rejected_with_its_reason(tmp_path: Path) -> None:
    events = healthy_history().write(tmp_path / "events")
    csv = _as_csv(events, "code_entries")
    with csv.open("a", encoding="utf-8") as file:
        file.write(f"{RU_MOBILE},2026-05-20T10:00:00Z,vk,{'x' * 2_100_000}\n")

    manifest = run(events, tmp_path / "out", max_reject_share=0.5)

    reasons = manifest["inputs"]["code_entries"]["reject_reasons"]
    assert reasons == {"unreadable CSV line: line size over maximum": 1}


def test_csv_columns_without_a_name_are_read_and_left_aside(tmp_path: Path) -> None:
    events = healthy_history().write(tmp_path / "events")
    _as_csv(events, "code_entries").write_text(  # a written index, and a trailing comma
        f",phone,ts,product,account_id,\n0,{RU_MOBILE},2026-05-20T10:00:00Z,vk,vk-7,\n",
        encoding="utf-8",
    )

    manifest = run(events, tmp_path / "out")

    assert manifest["inputs"]["code_entries"]["accepted"] == 1


def test_a_header_naming_a_column_twice_stops_the_run(tmp_path: Path) -> None:
    events = healthy_history().write(tmp_path / "events")
    _as_csv(events, "code_entries").write_text(
        f"phone,ts,product,account_id,Phone\n{RU_MOBILE},2026-05-20T10:00:00Z,vk,vk-7,x\n",
        encoding="utf-8",
    )

    with pytest.raises(InputError, match="the header names phone more than once"):
        run(events, tmp_path / "out")


def test_a_file_name_a_reader_would_take_for_a_pattern_stops_the_run(tmp_path: Path) -> None:
    events = healthy_history().write(tmp_path / "events")
    (events / "code_entries" / "part-0.parquet").rename(events / "code_entries" / "part[0].parquet")

    with pytest.raises(InputError, match=r"file name part\[0\]\.parquet .* rename the file"):
        run(events, tmp_path / "out")


def test_file_names_are_read_in_any_case_and_gzip_csv_files_too(tmp_path: Path) -> None:
    events = healthy_history().write(tmp_path / "events")
    (events / "accounts" / "part-0.parquet").rename(events / "accounts" / "part-0.PARQUET")
    csv = _as_csv(events, "code_entries")
    csv.rename(events / "code_entries" / "april.CSV")
    (events / "code_entries" / "may.csv.gz").write_bytes(
        gzip.compress(
            f"phone,ts,product,account_id\n{RU_MOBILE},2026-05-25T10:00:00Z,vk,\n".encode()
        )
    )

    manifest = run(events, tmp_path / "out")

    assert manifest["inputs"]["code_entries"]["accepted"] == 40 + 1
    assert manifest["inputs"]["accounts"]["accepted"] == 40


# what exporters write for an empty partition: files that hold no text, so not even a header
TEXTLESS_CSV_FILES = {
    "empty.csv": b"",
    "bom.csv": b"\xef\xbb\xbf",
    "newline.csv": b"\n",
    "crlf.csv": b"\r\n",
    "empty.csv.gz": gzip.compress(b""),
    "zero-bytes.csv.gz": b"",
}


@pytest.mark.parametrize(("name", "content"), TEXTLESS_CSV_FILES.items(), ids=TEXTLESS_CSV_FILES)
def test_a_csv_file_that_holds_no_text_beside_good_ones_is_read_as_no_rows(
    name: str, content: bytes, tmp_path: Path
) -> None:
    events = healthy_history().write(tmp_path / "events")
    _as_csv(events, "code_entries")
    (events / "code_entries" / name).write_bytes(content)

    manifest = run(events, tmp_path / "out")

    assert manifest["inputs"]["code_entries"]["accepted"] == 40
    assert manifest["inputs"]["code_entries"]["rejected"] == 0


def test_a_kind_whose_csv_files_all_hold_no_text_has_no_rows(tmp_path: Path) -> None:
    events = healthy_history().write(tmp_path / "events")  # no number change at all
    (events / "number_changes" / "part-0.parquet").unlink()
    for name, content in TEXTLESS_CSV_FILES.items():
        (events / "number_changes" / name).write_bytes(content)

    manifest = run(events, tmp_path / "out")

    assert manifest["inputs"]["number_changes"]["rows"] == 0


def test_a_parquet_file_of_no_bytes_is_damaged_and_stops_the_run(tmp_path: Path) -> None:
    events = healthy_history().write(tmp_path / "events")
    (events / "code_entries" / "empty.parquet").write_bytes(b"")

    with pytest.raises(InputError, match=r"'code_entries', file empty\.parquet: cannot read"):
        run(events, tmp_path / "out")


def test_a_csv_file_whose_header_is_below_a_blank_line_still_stops_the_run(
    tmp_path: Path,
) -> None:
    events = healthy_history().write(tmp_path / "events")
    csv = _as_csv(events, "code_entries")
    csv.write_text("\n" + csv.read_text(encoding="utf-8"), encoding="utf-8")

    with pytest.raises(InputError, match="the file has no columns"):
        run(events, tmp_path / "out")


def test_hidden_and_marker_files_in_a_kind_folder_are_not_data(tmp_path: Path) -> None:
    events = healthy_history().write(tmp_path / "events")
    folder = events / "code_entries"
    # what a macOS copy leaves: Finder's .DS_Store and an AppleDouble file beside each file
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (folder / "._part-0.parquet").write_bytes(b"\x00\x05\x16\x07\x00\x02Mac OS X" + b"\x00" * 60)
    # and what Spark (Hadoop) writes beside its files
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / ".part-0.parquet.crc").write_bytes(b"crc")

    manifest = run(events, tmp_path / "out")

    assert manifest["inputs"]["code_entries"]["accepted"] == 40


def test_a_kind_folder_holding_what_a_run_does_not_read_stops_the_run_naming_it(
    tmp_path: Path,
) -> None:
    events = healthy_history().write(tmp_path / "events")
    folder = events / "code_entries"
    (folder / "date=2026-05-25").mkdir()  # a Hive partition
    (folder / "date=2026-05-25" / "part-0.parquet").write_bytes(
        (folder / "part-0.parquet").read_bytes()
    )
    (folder / "may.csv.zst").write_bytes(b"(\xb5/\xfd")

    with pytest.raises(
        InputError, match=r"'code_entries': .* holds date=2026-05-25/, may\.csv\.zst, which a run"
    ):
        run(events, tmp_path / "out")


def test_csv_files_of_many_different_headers_are_read(tmp_path: Path) -> None:
    events = healthy_history(numbers=3).write(tmp_path / "events")
    (events / "code_entries" / "part-0.parquet").unlink()
    for index in range(600):  # an extra column of its own in each file
        (events / "code_entries" / f"{index}.csv").write_text(
            f"phone,ts,product,account_id,note_{index}\n{RU_MOBILE},2026-05-20T10:00:00Z,vk,vk,x\n",
            encoding="utf-8",
        )

    manifest = run(events, tmp_path / "out")

    assert manifest["inputs"]["code_entries"]["accepted"] == 600
    assert set(manifest["ignored_columns"]["code_entries"]) == {f"note_{n}" for n in range(600)}


def test_the_columns_no_contract_names_are_listed_as_not_read(tmp_path: Path) -> None:
    # an operator who adds a column to a feed learns that the rules do not read it
    events = healthy_history(numbers=3).write(tmp_path / "events")
    sms = events / "sms_deliveries" / "part-0.parquet"
    table = pq.read_table(sms)
    pq.write_table(table.append_column("Campaign", pa.array(["spring"] * len(table))), sms)
    (events / "code_entries" / "extra.csv").write_text(
        f"phone,ts,product,account_id,utm_source\n{RU_MOBILE},2026-05-20T10:00:00Z,vk,vk-1,ad\n",
        encoding="utf-8",
    )
    (events / "code_entries" / "part-0.parquet").unlink()  # a kind's files are of one format

    manifest = run(events, tmp_path / "out")

    assert manifest["ignored_columns"] == {
        "code_entries": ["utm_source"],
        "sms_deliveries": ["campaign"],
    }
    assert (
        run(healthy_history().write(tmp_path / "plain"), tmp_path / "o2")["ignored_columns"] == {}
    )


def test_too_many_column_layouts_in_one_kind_stop_the_run(tmp_path: Path) -> None:
    events = healthy_history(numbers=3).write(tmp_path / "events")
    (events / "code_entries" / "part-0.parquet").unlink()
    for extra in range(101):  # a different number of columns in each file
        notes = "".join(f",note_{index}" for index in range(extra))
        (events / "code_entries" / f"{extra}.csv").write_text(
            f"phone,ts,product,account_id{notes}\n", encoding="utf-8"
        )

    with pytest.raises(InputError, match="order their columns in 101 ways"):
        run(events, tmp_path / "out")


def test_an_event_within_the_second_after_as_of_is_left_out_as_after_it(tmp_path: Path) -> None:
    # times are kept in whole seconds, which alone would read 0.4 s after as_of as at it
    history = healthy_history()
    history.code(RU_MOBILE, AS_OF, account="vk-1")  # at as_of: in
    history.code(RU_MOBILE, AS_OF + timedelta(milliseconds=400), account="vk-1")  # after: out
    events = history.write(tmp_path / "events")

    counts = run(events, tmp_path / "out")["inputs"]["code_entries"]

    assert counts["after_as_of"] == 1
    assert counts["accepted"] == len(history.rows["code_entries"]) - 1


def test_a_blank_text_in_a_nullable_parquet_column_is_missing_as_in_csv(tmp_path: Path) -> None:
    # a CSV reader reads an empty field as null; a Parquet file keeps it as ''
    events = healthy_history().write(tmp_path / "events")
    _blank_texts(events / "registrations" / "part-0.parquet", "birth_date")
    _blank_texts(events / "accounts" / "part-0.parquet", "last_seen_at")

    manifest = run(events, tmp_path / "out")

    assert manifest["inputs"]["registrations"]["rejected"] == 0
    assert manifest["inputs"]["accounts"]["rejected"] == 0


def _blank_texts(path: Path, column: str) -> None:
    table = pq.read_table(path)
    blanks = pa.array([""] * table.num_rows, pa.string())
    pq.write_table(table.set_column(table.schema.get_field_index(column), column, blanks), path)
