"""The simulators' script file: what each line makes the simulated person do, and every line it
cannot mean refused in one line naming the file and the line."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from delivery.channels.simulator_script import (
    MAX_BYTES,
    ScriptedNumber,
    SimulatorScriptError,
    read_script,
)
from delivery.events import ReverificationAnswer

HEADER = "phone,answer,after_seconds,delivered_after_seconds,read_after_seconds"
RECYCLED_2024 = "+79031112233"
STEADY_OWNER = "+79234567823"
SLOW_READER = "+79161112244"


def script_file(folder: Path, *lines: str) -> Path:
    path = folder / "script.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_each_line_scripts_its_number_answer_and_delivery(tmp_path: Path) -> None:
    path = script_file(
        tmp_path,
        HEADER,
        f"{RECYCLED_2024},no,60",
        f"{STEADY_OWNER},YES,5.5,10,30",
        f"{SLOW_READER},never,,never",
    )

    numbers = read_script(path).numbers

    assert numbers == {
        RECYCLED_2024: ScriptedNumber(
            RECYCLED_2024, (ReverificationAnswer.DENIED, timedelta(seconds=60))
        ),
        STEADY_OWNER: ScriptedNumber(
            STEADY_OWNER,
            (ReverificationAnswer.CONFIRMED, timedelta(seconds=5.5)),
            (timedelta(seconds=10), timedelta(seconds=30)),
        ),
        SLOW_READER: ScriptedNumber(SLOW_READER, (None, timedelta(0)), (None, None)),
    }


def test_a_delivered_message_without_a_read_time_is_never_read(tmp_path: Path) -> None:
    path = script_file(tmp_path, HEADER, f"{STEADY_OWNER},,,20,")

    assert read_script(path).numbers[STEADY_OWNER] == ScriptedNumber(
        STEADY_OWNER, None, (timedelta(seconds=20), None)
    )


def test_comments_blank_lines_a_byte_order_mark_and_spaces_are_allowed(tmp_path: Path) -> None:
    path = tmp_path / "script.csv"
    path.write_text(
        "\ufeffphone, answer, after_seconds\n\n# the recycled number: a No\n"
        f" {RECYCLED_2024} , No , 60 \n",
        encoding="utf-8",
    )

    assert read_script(path).numbers[RECYCLED_2024].answer == (
        ReverificationAnswer.DENIED,
        timedelta(seconds=60),
    )


def test_a_number_is_kept_in_e164_however_it_is_spaced(tmp_path: Path) -> None:
    path = script_file(tmp_path, "phone,answer,after_seconds", "+7 903 111-22-33,no,1")

    assert list(read_script(path).numbers) == [RECYCLED_2024]


def test_a_bare_header_scripts_nothing(tmp_path: Path) -> None:
    assert read_script(script_file(tmp_path, HEADER)).numbers == {}


def test_an_empty_file_is_refused_as_half_saved_or_no_script(tmp_path: Path) -> None:
    path = tmp_path / "script.csv"
    path.write_bytes(b"")

    with pytest.raises(SimulatorScriptError, match=r"script\.csv: has no header line"):
        read_script(path)


def test_a_spreadsheets_padding_commas_are_read_as_blank_cells(tmp_path: Path) -> None:
    path = script_file(tmp_path, "phone,answer,after_seconds,,", f"{RECYCLED_2024},no,60,,")

    assert read_script(path).numbers[RECYCLED_2024].answer == (
        ReverificationAnswer.DENIED,
        timedelta(minutes=1),
    )


def test_a_spreadsheets_blank_rows_and_quoted_comments_are_skipped(tmp_path: Path) -> None:
    path = script_file(
        tmp_path, HEADER, ",,,,", '"# a note, with a comma",,,,', f"{RECYCLED_2024},no,60", " , ,"
    )

    assert list(read_script(path).numbers) == [RECYCLED_2024]


def test_a_pipe_is_refused_not_waited_on(tmp_path: Path) -> None:
    path = tmp_path / "script.csv"
    os.mkfifo(path)

    with pytest.raises(SimulatorScriptError, match=r"script\.csv: is not a file$"):
        read_script(path)


def test_a_symbolic_link_is_refused_so_that_no_other_file_is_quoted_in_the_log(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "secret.key"
    secret.write_text("59rqBNeToDqv1wzFSo9oMC6JboQDHMZ9qG1eVNhYKIE=\n")
    path = tmp_path / "script.csv"
    path.symlink_to(secret)

    with pytest.raises(SimulatorScriptError) as refused:
        read_script(path)

    assert str(refused.value) == f"{path}: is a symbolic link; name the script's file itself"


def test_a_script_others_may_write_is_refused(tmp_path: Path) -> None:
    path = script_file(tmp_path, HEADER, f"{RECYCLED_2024},no,60")
    path.chmod(0o664)

    with pytest.raises(SimulatorScriptError, match=r"may be written by others \(mode 0664\)"):
        read_script(path)


def test_a_file_larger_than_any_script_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "script.csv"
    path.write_text(HEADER + "\n" + "#" * MAX_BYTES + "\n", encoding="utf-8")

    with pytest.raises(SimulatorScriptError, match=r"script\.csv: is larger than 1,048,576 bytes"):
        read_script(path)


@pytest.mark.parametrize(
    ("lines", "line", "complaint"),
    [
        ([HEADER, f"{RECYCLED_2024},maybe,60"], 2, "answer 'maybe' is none of yes, no, never"),
        ([HEADER, "not-a-phone,no,60"], 2, "phone 'not-a-phone' is not written in E.164"),
        ([HEADER, "89031112233,no,60"], 2, "phone '89031112233' is not written in E.164"),
        ([HEADER, "+7000,no,60"], 2, "'+7000' is not a valid phone number"),
        ([HEADER, f"{RECYCLED_2024},no,-5"], 2, "after_seconds '-5' is negative"),
        ([HEADER, f"{RECYCLED_2024},,,-1"], 2, "delivered_after_seconds '-1' is negative"),
        ([HEADER, f"{RECYCLED_2024},no,soon"], 2, "after_seconds 'soon' is not a number"),
        ([HEADER, f"{RECYCLED_2024},no,nan"], 2, "after_seconds 'nan' is not a number"),
        ([HEADER, f"{RECYCLED_2024},no,inf"], 2, "after_seconds 'inf' is not a number"),
        ([HEADER, f"{RECYCLED_2024},no,1e9"], 2, "after_seconds '1e9' is past a week"),
        ([HEADER, f"{RECYCLED_2024},yes,"], 2, "answer yes needs after_seconds"),
        ([HEADER, f"{RECYCLED_2024},,60"], 2, "after_seconds is given without an answer"),
        ([HEADER, f"{RECYCLED_2024},no"], 2, "answer no needs after_seconds"),
        ([HEADER, f"{RECYCLED_2024},no,60,,,,5"], 2, "has 7 fields, the header 5"),
        ([HEADER, f"{RECYCLED_2024},never,30"], 2, "after_seconds is given with answer never"),
        ([HEADER, f"{RECYCLED_2024},no,60,never"], 2, "answers no to prompts never delivered"),
        ([HEADER, f"{RECYCLED_2024},yes,60,10"], 2, "answers yes to prompts never read"),
        ([HEADER, f"{RECYCLED_2024},{'x' * 200_000},60"], 2, "field larger than field limit"),
        (["answer,after_seconds", "no,60"], 1, "the header has no phone column"),
        (["phone,answr,after_seconds"], 1, "the header names 'answr', no column of a script"),
        (["phone,answer,answer"], 1, "the header names answer twice"),
        (["phone,read_after_seconds"], 1, "neither answer nor delivered_after_seconds"),
        ([HEADER, f"{RECYCLED_2024},,,60,10"], 2, "read_after_seconds (10) is before"),
        ([HEADER, f"{RECYCLED_2024},,,,10"], 2, "read_after_seconds is given without delivered"),
        ([HEADER, f"{RECYCLED_2024},,,never,10"], 2, "a message never delivered is never read"),
        ([HEADER, f"{RECYCLED_2024},,,,"], 2, f"scripts nothing for {RECYCLED_2024}"),
        (
            [HEADER, f"{RECYCLED_2024},no,60", "", f"{RECYCLED_2024},yes,60"],
            4,
            f"{RECYCLED_2024} is scripted on line 2 too",
        ),
    ],
    ids=[
        "unknown answer",
        "garbage phone",
        "national phone",
        "invalid phone",
        "negative answer time",
        "negative delivery time",
        "time not a number",
        "nan",
        "infinity",
        "past a week",
        "yes without a time",
        "time without an answer",
        "missing time column",
        "extra columns",
        "never with a time",
        "an answer to prompts never delivered",
        "an answer to prompts never read",
        "a field past the csv limit",
        "no phone column",
        "misspelt column",
        "repeated column",
        "nothing scriptable",
        "read before delivered",
        "read without delivery",
        "read though never delivered",
        "row scripting nothing",
        "number twice",
    ],
)
def test_a_line_the_script_cannot_mean_is_refused_naming_file_and_line(
    tmp_path: Path, lines: list[str], line: int, complaint: str
) -> None:
    path = script_file(tmp_path, *lines)

    with pytest.raises(SimulatorScriptError) as refused:
        read_script(path)

    message = str(refused.value)
    assert message.startswith(f"{path}, line {line}: ")
    assert complaint in message
    assert "\n" not in message


def test_a_missing_file_is_refused_by_its_name(tmp_path: Path) -> None:
    with pytest.raises(SimulatorScriptError, match=r"script\.csv: does not exist$"):
        read_script(tmp_path / "script.csv")


def test_a_file_that_is_not_text_is_refused_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "script.csv"
    path.write_bytes(f"{HEADER}\n{RECYCLED_2024},no,60\n\xff\xfe,no,1\n".encode("latin-1"))

    with pytest.raises(SimulatorScriptError, match=r"script\.csv, line 3: is not UTF-8 text$"):
        read_script(path)


def test_a_comment_longer_than_any_csv_field_is_skipped(tmp_path: Path) -> None:
    path = script_file(tmp_path, "# " + "x" * 200_000, HEADER, f"{RECYCLED_2024},no,60")

    assert list(read_script(path).numbers) == [RECYCLED_2024]
