"""The published scores keep their column contract (data/schemas/scores.yaml): its columns, in
order, with the types and the time zone it names, as every reader of the file sees them."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.contracts import Column, load_contract
from pipelines.scoring import ScoreRequest, score
from tests.factories import ANNA, AS_OF, History, days_ago

RU_MOBILE = "+79234567823"
RU_MOBILE_RECYCLED = "+79234567824"

PLAIN_TYPES = {"string": pa.string(), "int16": pa.int16(), "list<string>": pa.list_(pa.string())}


def _history() -> History:
    return (
        History()
        .register(RU_MOBILE, days_ago(300), ANNA, account="vk-1")
        .code(RU_MOBILE, days_ago(10), account="vk-1")
        .account(RU_MOBILE, "vk-1")
        .sms(RU_MOBILE_RECYCLED, days_ago(200))
        .sms(RU_MOBILE_RECYCLED, days_ago(5), status="failed", error="unknown_subscriber")
    )


def _expected_type(column: Column) -> pa.DataType:
    if column.type == "timestamp":
        return pa.timestamp("us", tz=column.timezone)
    if column.type == "list<timestamp>":
        return pa.list_(pa.timestamp("us", tz=column.timezone))
    return PLAIN_TYPES[column.type]


def test_the_scores_file_has_the_contracts_columns_types_and_zones(tmp_path: Path) -> None:
    events = _history().write(tmp_path / "events")

    score(ScoreRequest(events, tmp_path / "out", as_of=AS_OF))

    contract = load_contract("scores")
    written = pq.read_schema(tmp_path / "out" / "scores.parquet")
    assert written.names == list(contract.column_names)
    for column in contract.columns:
        assert written.field(column.name).type == _expected_type(column), column.name


def test_every_time_in_the_scores_contract_is_counted_in_utc() -> None:
    times = [column for column in load_contract("scores").columns if "timestamp" in column.type]

    assert len(times) == 6
    assert {column.timezone for column in times} == {"UTC"}


def test_rejected_rows_carry_their_times_in_utc(tmp_path: Path) -> None:
    history = _history()
    history.sms(RU_MOBILE, days_ago(3), status="bounced").sms("not a phone", days_ago(3))
    events = history.write(tmp_path / "events")

    score(ScoreRequest(events, tmp_path / "out", as_of=AS_OF, max_reject_share=0.5))

    rejects = pq.read_schema(tmp_path / "out" / "rejects" / "sms_deliveries.parquet")
    assert rejects.field("ts").type == pa.timestamp("us", tz="UTC")
