"""Every kind's rejects file keeps its column contract (data/schemas/rejects.yaml), and each
rejected row says where it was read: its file, and its row in it or, for a CSV line the reader
could not split, its line and byte offset."""

from __future__ import annotations

import gzip
import re
from datetime import datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.contracts import INPUT_KINDS, Column, rejects_contract
from pipelines.scoring import ScoreRequest, score
from tests.factories import ANNA, AS_OF, History, days_ago

RU_MOBILE = "+79234567823"
NOT_A_PHONE = "not a phone"
NO_OPERATOR_ISSUES = "+70000000000"  # well-formed, in no operator's range
NATIONAL_PREFIX_WRITTEN_IN = "+490301234567"  # read as +49301234567
READ_AS = "+49301234567"
AFTER_THE_RUN = datetime(2100, 1, 1)
E164 = re.compile(r"\+[1-9][0-9]{6,14}")

PLAIN_TYPES = {
    "string": pa.string(),
    "int64": pa.int64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
}


def _expected_type(column: Column) -> pa.DataType:
    if column.type == "timestamp":
        return pa.timestamp("us", tz=column.timezone)
    return PLAIN_TYPES[column.type]


def _healthy(history: History, numbers: int = 30) -> History:
    for index in range(numbers):
        phone = f"+7923{index:07d}"
        history.register(phone, days_ago(300), ANNA, account=f"vk-{index}")
        history.account(phone, f"vk-{index}").sms(phone, days_ago(20))
        history.number_change(phone, days_ago(30), account=f"vk-{index}")
        history.verification(phone, days_ago(10), "confirmed")
    return history


def _rejects_of_every_sort() -> History:
    """A history with, in every kind, a bad phone, a number no operator issues, a renumbered
    number that is rejected for another reason, and the kind's own faults."""
    history = _healthy(History())
    for phone in (NOT_A_PHONE, NO_OPERATOR_ISSUES):
        history.code(phone, days_ago(5)).sms(phone, days_ago(5))
        history.register(phone, days_ago(5), ANNA, account="vk-9").account(phone, "vk-9")
        history.number_change(phone, days_ago(5)).verification(phone, days_ago(5), "confirmed")
    renumbered = NATIONAL_PREFIX_WRITTEN_IN
    history.code(renumbered, days_ago(5), product="No Such Product!")
    history.sms(renumbered, days_ago(5), status="bounced")  # an unknown enum
    history.register(renumbered, days_ago(5), ANNA, account=None)  # type: ignore[arg-type]
    history.number_change(renumbered, days_ago(5), kind="stolen")
    history.verification(renumbered, days_ago(5), "maybe")
    history.account(renumbered, "tg-1")  # an unknown network
    history.code(RU_MOBILE, AFTER_THE_RUN).sms(RU_MOBILE, AFTER_THE_RUN)
    history.number_change(RU_MOBILE, AFTER_THE_RUN).verification(RU_MOBILE, None, "confirmed")  # type: ignore[arg-type]
    history.code(RU_MOBILE, None)  # type: ignore[arg-type]
    return history


def _as_csv(events: Path, kind: str, name: str = "part-0.csv") -> Path:
    parquet = events / kind / "part-0.parquet"
    target = events / kind / name
    pl.read_parquet(parquet).write_csv(target)
    parquet.unlink()
    return target


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A history with rejects of every sort, sms_deliveries as CSV with an unreadable line."""
    root = tmp_path_factory.mktemp("rejects")
    events = _rejects_of_every_sort().write(root / "events")
    csv = _as_csv(events, "sms_deliveries")
    with csv.open("a", encoding="utf-8") as file:
        file.write(f"{RU_MOBILE},2026-05-20T10:00:00Z,bank_x,delivered,,EXTRA\n")
    score(ScoreRequest(events, root / "out", as_of=AS_OF, max_reject_share=0.9))
    return events, root / "out"


@pytest.mark.parametrize("kind", INPUT_KINDS)
def test_every_kinds_rejects_file_has_the_contracts_columns_types_and_zones(
    kind: str, scored: tuple[Path, Path]
) -> None:
    _, out = scored
    contract = rejects_contract(kind)

    written = pq.read_schema(out / "rejects" / f"{kind}.parquet")

    assert written.names == list(contract.column_names)
    for column in contract.columns:
        assert written.field(column.name).type == _expected_type(column), column.name


@pytest.mark.parametrize("kind", INPUT_KINDS)
def test_every_rejected_row_keeps_the_contracts_nulls_and_values(
    kind: str, scored: tuple[Path, Path]
) -> None:
    _, out = scored
    contract = rejects_contract(kind)

    rejects = pl.read_parquet(out / "rejects" / f"{kind}.parquet")

    assert len(rejects) >= 3
    for column in contract.columns:
        if not column.nullable:
            assert rejects[column.name].null_count() == 0, column.name
        if column.allowed:
            assert set(rejects[column.name].drop_nulls()) <= set(column.allowed), column.name
    assert all(E164.fullmatch(phone) for phone in rejects["phone"].drop_nulls())


@pytest.mark.parametrize("kind", INPUT_KINDS)
def test_a_rejected_rows_phone_is_e164_and_empty_where_it_is_no_valid_number(
    kind: str, scored: tuple[Path, Path]
) -> None:
    _, out = scored

    rejects = pl.read_parquet(out / "rejects" / f"{kind}.parquet")

    phones = dict(zip(rejects["phone_text"], rejects["phone"], strict=True))
    assert phones[NOT_A_PHONE] is None
    assert phones[NO_OPERATOR_ISSUES] is None
    assert phones[NATIONAL_PREFIX_WRITTEN_IN] == READ_AS  # the number it was counted under


@pytest.mark.parametrize("kind", INPUT_KINDS)
def test_every_rejected_row_names_its_file_and_where_in_it(
    kind: str, scored: tuple[Path, Path]
) -> None:
    events, out = scored

    rejects = pl.read_parquet(out / "rejects" / f"{kind}.parquet")

    (read,) = [path for path in (events / kind).iterdir()]
    assert set(rejects["file"]) == {str(read)}
    content = rejects.filter(pl.col("line").is_null())
    assert content["row"].null_count() == 0
    if read.suffix == ".parquet":
        rows = pq.read_table(read).to_pylist()
        for row, phone_text in zip(content["row"], content["phone_text"], strict=True):
            assert rows[row - 1]["phone"] == phone_text
    else:
        (unreadable,) = rejects.filter(pl.col("line").is_not_null()).iter_rows(named=True)
        assert unreadable["row"] is None
        assert unreadable["line_text"].endswith(",EXTRA")


def test_a_csv_rows_place_is_counted_within_its_own_file_among_the_rows_read(
    tmp_path: Path,
) -> None:
    events = _healthy(History()).write(tmp_path / "events")
    folder = events / "sms_deliveries"
    (folder / "part-0.parquet").unlink()
    header = "phone,ts,product,status,error\n"
    at = "2026-05-20T10:00:00Z"
    first = folder / "a.csv"
    first.write_text(
        header
        + "".join(f"+7923{index:07d},{at},bank_x,delivered,\n" for index in range(30))
        + f'+79230000001,{at},"bank\nx",delivered,\n'  # row 31, over two lines
        + f"+79230000002,{at},bank_x,bounced,\n"  # row 32
    )
    second = folder / "b.csv.gz"
    second.write_bytes(
        gzip.compress(
            (
                header
                + f"+79230000003,{at},bank_x,delivered,\n"  # row 1
                + f"+79230000004,{at},bank_x,delivered,,EXTRA\n"  # line 3, not read as a row
                + f"+79230000005,{at},bank_x,bounced,\n"  # row 2 of the rows read
            ).encode()
        )
    )

    score(ScoreRequest(events, tmp_path / "out", as_of=AS_OF, max_reject_share=0.9))

    rejects = pl.read_parquet(tmp_path / "out" / "rejects" / "sms_deliveries.parquet")
    located = rejects.select("file", "row", "line", "phone_text").rows()
    assert located == [
        (str(first), 31, None, "+79230000001"),
        (str(first), 32, None, "+79230000002"),
        (str(second), 2, None, "+79230000005"),
        (str(second), None, 3, None),
    ]


@pytest.mark.parametrize(
    "own_columns",
    [("filename", "file_row_number"), ("source_file", "source_row")],
    ids=["the readers", "the rejects files"],
)
def test_a_parquet_files_own_columns_named_as_a_location_do_not_move_a_rejected_row(
    tmp_path: Path, own_columns: tuple[str, str]
) -> None:
    # columns the contract does not name are not read, whatever their names
    events = _healthy(History()).write(tmp_path / "events")
    folder = events / "code_entries"
    schema = pq.read_schema(folder / "part-0.parquet")
    entries = {
        "phone": [f"+7923{index:07d}" for index in range(5)],
        "ts": [datetime(2026, 5, 20, 10)] * 5,
        "product": ["vk", "vk", "No Such Product!", "vk", "vk"],  # row 3 is rejected
        "account_id": [f"vk-{index}" for index in range(5)],
    }
    plain, holding = folder / "a.parquet", folder / "b.parquet"
    pq.write_table(pa.table(entries).cast(schema), plain)
    pq.write_table(pa.table({**entries, **dict.fromkeys(own_columns, ["x"] * 5)}), holding)

    score(ScoreRequest(events, tmp_path / "out", as_of=AS_OF, max_reject_share=0.9))

    rejects = pl.read_parquet(tmp_path / "out" / "rejects" / "code_entries.parquet")
    located = rejects.filter(pl.col("product") == "no such product!")
    assert sorted(located.select("file", "row").rows()) == [(str(plain), 3), (str(holding), 3)]
