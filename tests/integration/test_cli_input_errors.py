"""The command line refuses what it cannot do in one line that says why, with a non-zero exit,
never a traceback: bad flags, bad settings, paths that are not what they should be."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.cli import main
from tests.factories import ANNA, RU_MOBILE, History, days_ago
from tests.integration.cli_calls import refused_by_the_parser

STORE_HINT = "postgresql+psycopg://"


@pytest.fixture(autouse=True)
def own_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test's own store (none until a command makes one), never the working copy's."""
    url = f"sqlite:///{tmp_path / 'var' / 'ownership.db'}"
    monkeypatch.setenv("OWNERSHIP_DATABASE_URL", url)
    return url


def failed(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The one-line error of a command that ran and refused."""
    assert main(argv) == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith("error:") and "\n" not in message and "Traceback" not in message
    return message


# --- the engine --------------------------------------------------------------------------------


def test_spark_with_a_java_home_holding_no_java_is_refused_before_the_input_is_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("pyspark")
    monkeypatch.setenv("JAVA_HOME", "/nonexistent")
    events = History().register(RU_MOBILE, days_ago(300), ANNA).write(tmp_path / "events")

    message = failed(
        ["score", "--events", str(events), "--out", str(tmp_path / "out"), "--engine", "spark"],
        capsys,
    )

    assert message.startswith("error: JAVA_HOME (/nonexistent) holds no bin/java")
    assert not (tmp_path / "out" / ".work").exists()


def test_the_engine_setting_is_the_scores_default_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("pyspark")
    monkeypatch.setenv("JAVA_HOME", "/nonexistent")
    monkeypatch.setenv("OWNERSHIP_SCORE_ENGINE", "spark")
    events = History().register(RU_MOBILE, days_ago(300), ANNA).write(tmp_path / "events")

    message = failed(["score", "--events", str(events), "--out", str(tmp_path / "out")], capsys)

    assert "JAVA_HOME (/nonexistent)" in message


# --- the memory limit -----------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["garbage", "0"])
def test_a_memory_limit_that_is_no_size_is_refused_with_an_example(
    limit: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["score", "--events", str(tmp_path), "--out", str(tmp_path / "out")]

    message = refused_by_the_parser([*argv, "--memory-limit", limit], capsys)

    assert "--memory-limit" in message and "is not a memory size" in message
    assert "8GB" in message


def test_a_memory_limit_setting_that_is_no_size_is_a_bad_setting_named_by_its_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OWNERSHIP_MEMORY_LIMIT", "lots")

    message = failed(["score", "--events", str(tmp_path), "--out", str(tmp_path / "o")], capsys)

    assert (
        "bad setting: OWNERSHIP_MEMORY_LIMIT: memory limit 'lots' is not a memory size" in message
    )


def test_the_memory_limit_help_names_its_default_setting(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["score", "--help"])

    assert "OWNERSHIP_MEMORY_LIMIT" in capsys.readouterr().out


def test_the_score_help_names_the_reject_bound_its_default_and_where_rejects_go(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["score", "--help"])

    told = " ".join(capsys.readouterr().out.split())  # as one line, however it is wrapped
    assert "OWNERSHIP_MAX_REJECT_SHARE (default 0.01, 1%)" in told
    assert "OUT/rejects/" in told and "--allow-empty-kind" in told


@pytest.mark.parametrize(
    ("limit", "warned"), [("100TB", True), ("900TB", True), ("80%", False), ("256MB", False)]
)
def test_a_memory_limit_past_the_machines_memory_is_warned_of_and_the_run_goes_on(
    limit: str, warned: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = History().register(RU_MOBILE, days_ago(30), ANNA).write(tmp_path / "events")
    argv = ["score", "--events", str(events), "--out", str(tmp_path / "out")]

    assert main([*argv, "--memory-limit", limit]) == 0

    said = capsys.readouterr().err
    assert ("more than the" in said and "this machine has" in said) is warned
    assert (tmp_path / "out" / "scores.parquet").exists()


# --- the default region ---------------------------------------------------------------------


def test_a_default_region_phonenumbers_does_not_know_is_refused_with_examples(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["score", "--events", str(tmp_path), "--out", str(tmp_path / "out")]

    message = refused_by_the_parser([*argv, "--default-region", "XX"], capsys)

    assert "--default-region" in message and "'XX' is not a region phonenumbers knows" in message
    assert "RU, KZ or BY" in message


def test_a_default_region_setting_phonenumbers_does_not_know_is_a_bad_setting_named_by_its_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OWNERSHIP_DEFAULT_REGION", "RUS")

    message = failed(["score", "--events", str(tmp_path), "--out", str(tmp_path / "o")], capsys)

    assert "bad setting: OWNERSHIP_DEFAULT_REGION: default region 'RUS' is not a region" in message


@pytest.mark.parametrize(
    ("setting", "flag", "region"),
    [(None, None, None), ("kz", None, "KZ"), (None, "ru", "RU"), ("kz", "ru", "RU")],
)
def test_the_default_region_is_the_flags_else_the_settings_and_the_manifest_names_it(
    setting: str | None,
    flag: str | None,
    region: str | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if setting is None:
        monkeypatch.delenv("OWNERSHIP_DEFAULT_REGION", raising=False)
    else:
        monkeypatch.setenv("OWNERSHIP_DEFAULT_REGION", setting)
    events = History().register(RU_MOBILE, days_ago(30), ANNA).write(tmp_path / "events")
    argv = ["score", "--events", str(events), "--out", str(tmp_path / "out")]

    assert main([*argv, *(["--default-region", flag] if flag else [])]) == 0

    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["settings"]["default_region"] == region


def test_a_misspelt_setting_is_warned_of_and_the_command_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OWNERSHIP_MEMORY_LIMT", "8GB")
    events = History().register(RU_MOBILE, days_ago(30), ANNA).write(tmp_path / "events")

    assert main(["score", "--events", str(events), "--out", str(tmp_path / "out")]) == 0

    said = " ".join(capsys.readouterr().err.split())
    assert (
        "warning: OWNERSHIP_MEMORY_LIMT is no setting, and is ignored; "
        "did you mean OWNERSHIP_MEMORY_LIMIT?"
    ) in said


# --- the snapshot and the store -------------------------------------------------------------


def test_check_refuses_a_snapshot_that_is_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "snapshot.bin").mkdir()

    message = failed(["check", RU_MOBILE, "--scores", str(tmp_path)], capsys)

    assert "snapshot.bin is not a file" in message


@pytest.mark.parametrize(
    "argv",
    [
        ["check", RU_MOBILE, "--scores", "."],
        ["export-verifications", "--history", "."],
        ["billing", "--client", "bank", "--month", "2026-11"],
    ],
    ids=["check", "export-verifications", "billing"],
)
@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("garbage", "the database URL is not a URL"),
        ("mysql://bank:hunter2@127.0.0.1:1/db", "mysql:// databases are not supported"),
    ],
    ids=["garbage", "mysql"],
)
def test_a_database_url_the_store_cannot_use_is_a_bad_setting_with_an_example(
    argv: list[str],
    url: str,
    says: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OWNERSHIP_DATABASE_URL", url)

    message = failed(argv, capsys)

    assert f"bad setting: OWNERSHIP_DATABASE_URL: {says}" in message
    assert STORE_HINT in message and "hunter2" not in message


def test_simulate_day_refuses_a_store_url_that_is_no_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["simulate-day", "--history", str(tmp_path), "--scores", str(tmp_path)]

    message = refused_by_the_parser([*argv, "--store", "garbage"], capsys)

    assert "argument --store: the database URL is not a URL" in message and STORE_HINT in message


def test_simulate_day_says_a_history_folder_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["simulate-day", "--history", str(tmp_path / "nowhere"), "--scores", str(tmp_path)]
    store = f"sqlite:///{tmp_path / 'day.db'}"

    message = failed([*argv, "--store", store, "--notifications", "5"], capsys)

    assert f"history folder {tmp_path / 'nowhere'} does not exist" in message


# --- the generator's flags ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--phones", "0"], "argument --phones: 0 is below 1"),
        (["--phones", "-5"], "argument --phones: -5 is below 1"),
        # whole numbers in ASCII digits, as written in a script: no padding, no other digits
        (["--phones", " 100"], "argument --phones: ' 100' is not a whole number"),
        (["--phones", "١٠٠"], "argument --phones: '١٠٠' is not a whole number"),
        (["--phones", "100000001"], "100000001 is above 100,000,000, the most the generator"),
        (["--phones", "10", "--seed", "-1"], "argument --seed: -1 is below 0"),
        (["--phones", "10", "--events-per-phone", "-3"], "-3 is not a number from 0 to 10,000"),
        (["--phones", "10", "--events-per-phone", "inf"], "inf is not a number from 0 to 10,000"),
        (["--phones", "10", "--events-per-phone", "nan"], "nan is not a number from 0 to 10,000"),
        # a chunk of the generator's would want terabytes
        (["--phones", "10", "--events-per-phone", "1e12"], "1e12 is not a number from 0 to"),
    ],
)
def test_synth_refuses_counts_seeds_and_densities_it_cannot_generate(
    flags: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = refused_by_the_parser(["synth", *flags, "--out", str(tmp_path / "h")], capsys)

    assert says in message
    assert not (tmp_path / "h").exists()


def test_synth_refuses_an_out_that_is_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "history").touch()

    message = failed(["synth", "--phones", "10", "--out", str(tmp_path / "history")], capsys)

    assert "is a file; give a folder" in message


def test_synth_refuses_a_folder_holding_files_it_did_not_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("mine")

    message = failed(["synth", "--phones", "10", "--out", str(tmp_path)], capsys)

    assert "is not empty and holds no finished history" in message
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_synth_says_when_it_cannot_make_a_history_as_sparse_as_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["synth", "--phones", "300", "--events-per-phone", "1", "--out", str(tmp_path / "h")]

    assert main(argv) == 0

    warning = capsys.readouterr().err
    assert "warning: asked for 1 events a number, made" in warning
    assert "no other code entry or SMS was drawn" in warning


def test_the_demo_refuses_zero_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["demo", "--phones", "0", "--no-serve", "--dir", str(tmp_path)]

    assert "argument --phones: 0 is below 1" in refused_by_the_parser(argv, capsys)


def test_the_demo_help_shows_its_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--help"])

    shown = capsys.readouterr().out
    assert "(default 50,000)" in shown and "(default var/demo)" in shown


# --- export-verifications -----------------------------------------------------------------


def test_export_verifications_refuses_a_history_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere"

    message = failed(["export-verifications", "--history", str(missing)], capsys)

    assert f"history folder {missing} does not exist" in message
    assert not missing.exists()
    assert not (tmp_path / "var").exists()  # nor was a store made for nothing


def test_export_verifications_refuses_a_folder_that_is_no_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scores = tmp_path / "scores"  # the scores' folder, given by mistake
    scores.mkdir()
    (scores / "scores.parquet").touch()

    message = failed(["export-verifications", "--history", str(scores)], capsys)

    assert f"{scores} is not a history (DESIGN §3): it has no code_entries, " in message
    assert sorted(path.name for path in scores.iterdir()) == ["scores.parquet"]


@pytest.mark.parametrize(
    "argv",
    [
        ["export-verifications", "--history", "HISTORY"],
        ["billing", "--client", "bank", "--month", "2026-05"],
        ["notifications", "forget", "--dry-run"],
    ],
    ids=["export-verifications", "billing", "notifications forget"],
)
def test_a_command_that_reads_a_store_makes_none_of_a_mistyped_path(
    argv: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    history = History().register(RU_MOBILE, days_ago(300), ANNA).write(tmp_path / "history")
    mistyped = tmp_path / "ownersip.db"
    monkeypatch.setenv("OWNERSHIP_DATABASE_URL", f"sqlite:///{mistyped}")
    before = sorted(history.rglob("*"))

    message = failed([str(history) if arg == "HISTORY" else arg for arg in argv], capsys)

    assert f"no store at {mistyped}" in message and "OWNERSHIP_DATABASE_URL" in message
    assert not mistyped.exists()
    assert sorted(history.rglob("*")) == before  # no empty export of a store never made


# --- small things ----------------------------------------------------------------------------


@pytest.mark.parametrize("since", ["01.01.2025", "20250101"])
def test_check_since_says_the_date_format(
    since: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["check", RU_MOBILE, "--scores", str(tmp_path), "--since", since]

    assert f"'{since}' is not a date (use YYYY-MM-DD)" in refused_by_the_parser(argv, capsys)


def test_score_refuses_an_events_path_that_is_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "events.csv").touch()
    argv = ["score", "--events", str(tmp_path / "events.csv"), "--out", str(tmp_path / "out")]

    assert "events.csv is a file; give the history's folder" in failed(argv, capsys)


def test_score_refuses_an_output_folder_it_cannot_write_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    read_only = Path("/sys/fs")  # no one writes there, not even root
    try:
        (read_only / "ownership-probe").mkdir()
    except OSError:
        pass
    else:
        (read_only / "ownership-probe").rmdir()
        pytest.skip("this machine lets us write to /sys/fs")
    events = History().register(RU_MOBILE, days_ago(300), ANNA).account(RU_MOBILE)
    argv = ["score", "--events", str(events.write(tmp_path / "events")), "--out", str(read_only)]

    assert "cannot write to output folder /sys/fs" in failed(argv, capsys)


def test_as_of_takes_a_lowercase_z_for_utc(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = History().register(RU_MOBILE, days_ago(300), ANNA).account(RU_MOBILE)
    argv = ["score", "--events", str(events.write(tmp_path / "events"))]

    assert main([*argv, "--out", str(tmp_path / "out"), "--as-of", "2026-06-01t00:00:00z"]) == 0
    assert "as of 2026-06-01T00:00:00Z" in capsys.readouterr().err


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-05:00"])
def test_an_as_of_that_leaves_the_calendar_in_utc_is_refused(
    moment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["score", "--events", str(tmp_path), "--out", str(tmp_path / "out"), "--as-of", moment]

    assert f"{moment!r} is out of range in UTC" in refused_by_the_parser(argv, capsys)


def test_a_reader_that_stops_early_ends_the_command_without_a_traceback(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "pipelines.cli", "synth", "--phones", "5"]
    with subprocess.Popen(
        [*command, "--out", str(tmp_path / "h")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()  # as `| head -c1` does once it has read enough
        errors = process.stderr.read().decode()

    assert process.returncode == 1
    assert "Traceback" not in errors and "BrokenPipeError" not in errors


@pytest.mark.parametrize("name", ["data[bold]", "run[/]x"])
def test_a_path_with_brackets_is_named_as_it_is_written(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the terminal's markup must not eat, or choke on, what looks like its tags
    missing = tmp_path / name / "events"

    message = failed(["score", "--events", str(missing), "--out", str(tmp_path / "out")], capsys)

    assert str(missing) in message


# --- a history with nothing to score ----------------------------------------------------------


def test_a_history_whose_files_hold_headers_only_publishes_nothing_and_the_scores_stay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a feed that wrote empty files: scored, every number served would become `unknown`
    out = tmp_path / "out"
    events = History().register(RU_MOBILE, days_ago(300), ANNA).write(tmp_path / "events")
    assert main(["score", "--events", str(events), "--out", str(out), "--as-of", "2026-06-01"]) == 0
    served = (out / "snapshot.bin").read_bytes()
    capsys.readouterr()
    empty = History().write(tmp_path / "empty")

    message = failed(["score", "--events", str(empty), "--out", str(out)], capsys)

    assert "no event to score on or before" in message
    assert "hold 0 rows" in message and "nothing was published" in message
    assert (out / "snapshot.bin").read_bytes() == served


def test_a_history_whose_events_all_come_after_as_of_publishes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = History().register(RU_MOBILE, days_ago(300), ANNA).write(tmp_path / "events")
    argv = ["score", "--events", str(events), "--out", str(tmp_path / "out")]

    message = failed([*argv, "--as-of", "2020-01-01"], capsys)

    assert "no event to score on or before 2020-01-01T00:00:00Z" in message
    assert "of them later" in message
    assert not (tmp_path / "out" / "snapshot.bin").exists()


def test_an_as_of_to_a_fraction_of_a_second_is_refused_not_cut(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # cut to the second, a row at .4 s would have counted as later than an as_of at .9 s
    events = History().register(RU_MOBILE, days_ago(300), ANNA).write(tmp_path / "events")
    argv = ["score", "--events", str(events), "--out", str(tmp_path / "out")]

    message = failed([*argv, "--as-of", "2026-06-01T00:00:00.9Z"], capsys)

    assert "as_of 2026-06-01T00:00:00.900000 has a fraction of a second" in message


# --- permissions -------------------------------------------------------------------------------


def test_a_folder_this_user_may_not_enter_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # as a folder shared through a group the operator is not in answers (root enters any)
    history = tmp_path / "history"
    history.mkdir()
    original = Path.iterdir

    def iterdir(path: Path):  # type: ignore[no-untyped-def]
        if path == history:
            raise PermissionError(13, "Permission denied", str(history))
        return original(path)

    monkeypatch.setattr(Path, "iterdir", iterdir)

    message = failed(["score", "--events", str(history), "--out", str(tmp_path / "out")], capsys)

    assert message.startswith(f"error: Permission denied: {history} (this user must be able")
