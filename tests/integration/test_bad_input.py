"""Bad input is rejected with a clear error, and nothing is dropped silently (DESIGN §3)."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.ingest import InputError
from pipelines.scoring import RejectedShareTooHighError, ScoreRequest, score
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
    history.sms(RU_MOBILE, datetime(1, 1, 1))  # a "no date" sentinel, not a time
    history.sms(RU_MOBILE, days_ago(-3))  # after as_of: left out, not rejected
    events = history.write(tmp_path / "events")

    manifest = run(events, tmp_path / "out", max_reject_share=0.5)

    counts = manifest["inputs"]["sms_deliveries"]
    assert counts["rejected"] == 6
    assert counts["after_as_of"] == 1
    assert counts["rows"] == counts["accepted"] + counts["rejected"] + counts["after_as_of"]
    assert counts["reject_reasons"] == {
        "phone is not a valid number": 2,
        "status is not one of the allowed values": 1,
        "error is not one of the allowed values": 1,
        "a delivered SMS has no error": 1,
        "ts is not after 1970-01-01": 1,
    }
    rejects = pl.read_parquet(tmp_path / "out" / "rejects" / "sms_deliveries.parquet")
    assert sorted(rejects["phone_text"].to_list()) == sorted(
        ["not a phone", "+00123", *[RU_MOBILE] * 4]
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


def test_csv_input_is_checked_row_by_row(tmp_path: Path) -> None:
    events = healthy_history().write(tmp_path / "events")
    (events / "code_entries" / "part-0.parquet").unlink()
    (events / "code_entries" / "codes.csv").write_text(
        "phone,ts,product,account_id\n"
        f"{RU_MOBILE},2026-05-20T10:00:00Z,vk,vk-1\n"
        f"{RU_MOBILE},yesterday,vk,vk-1\n"
        f"{RU_MOBILE},,VK,vk-1\n"
        f"{RU_MOBILE},2030-01-01T00:00:00Z,vk,vk-1\n",
        encoding="utf-8",
    )

    manifest = run(events, tmp_path / "out", max_reject_share=0.5)

    assert manifest["inputs"]["code_entries"]["reject_reasons"] == {
        "ts is not a time": 1,
        "missing ts": 1,
        "ts is later than the run": 1,
    }
    assert manifest["inputs"]["code_entries"]["accepted"] == 1


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
