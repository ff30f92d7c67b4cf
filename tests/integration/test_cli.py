"""The command line: clear messages instead of tracebacks, and a working round trip."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cryptography.fernet import Fernet

from delivery import records
from pipelines import entry
from pipelines.cli import main
from store.database import make_engine, upgrade
from tests.factories import ANNA, AS_OF, RU_MOBILE, History, days_ago
from tests.unit.test_evaluate import KEPT_QUIET, RECYCLED_CAUGHT, write_scores, write_truth


@pytest.fixture(autouse=True)
def own_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test's own store (none until a command makes one), never the working copy's."""
    url = f"sqlite:///{tmp_path / 'var' / 'ownership.db'}"
    monkeypatch.setenv("OWNERSHIP_DATABASE_URL", url)
    return url


def test_a_missing_history_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["score", "--events", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")])

    assert code == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_bad_as_of_is_refused_by_the_parser(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["score", "--events", str(tmp_path), "--out", str(tmp_path), "--as-of", "soon"])


def test_score_then_check_answers_from_the_snapshot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = History().register(RU_MOBILE, days_ago(300), ANNA).account(RU_MOBILE)
    events = history.write(tmp_path / "events")
    out = tmp_path / "out"

    assert main(["score", "--events", str(events), "--out", str(out), "--as-of", "2026-06-01"]) == 0
    capsys.readouterr()
    assert main(["check", RU_MOBILE, "--scores", str(out), "--since", "2025-01-01"]) == 0

    answer = json.loads(capsys.readouterr().out)
    assert answer["phone_masked"] == "+792* *** ** 23"
    assert answer["status"] == "suspicious"
    assert [r["code"] for r in answer["reasons"]] == ["ONLY_REGISTRATION_CODE", "NO_RECENT_CODE"]
    assert answer["changed_since"] is None  # 2025-01-01 precedes the history
    assert main(["check", "garbage", "--scores", str(out)]) == 2
    capsys.readouterr()
    assert main(["check", RU_MOBILE, "--scores", str(out), "--since", "2999-01-01"]) == 2
    assert "since 2999-01-01 is in the future" in capsys.readouterr().err
    assert main(["check", "+79161234567", "--scores", str(out), "--sensitive"]) == 0
    unseen = json.loads(capsys.readouterr().out)
    assert (unseen["status"], unseen["action"]) == ("unknown", "sms")
    assert unseen["reasons"] == [{"code": "NO_HISTORY", "at": None}]


def test_check_answers_with_a_no_given_since_the_batch(
    tmp_path: Path, own_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    history = History().register(RU_MOBILE, days_ago(300), ANNA).account(RU_MOBILE)
    out = tmp_path / "out"
    events = history.write(tmp_path / "events")
    assert main(["score", "--events", str(events), "--out", str(out), "--as-of", "2026-06-01"]) == 0
    upgrade(own_store)
    engine = make_engine(own_store)
    denied = (AS_OF + timedelta(hours=5)).replace(tzinfo=UTC)
    with engine.begin() as connection:
        records.record_verification(connection, RU_MOBILE, denied, "prompt", "denied", None, None)
    engine.dispose()
    capsys.readouterr()

    assert main(["check", RU_MOBILE, "--scores", str(out)]) == 0

    answer = json.loads(capsys.readouterr().out)
    assert (answer["status"], answer["action"]) == ("owner_changed", "sms")
    assert answer["reasons"] == [{"code": "OWNER_DENIED", "at": "2026-06-01T05:00:00Z"}]


def test_the_demo_generates_scores_and_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--phones", "400", "--dir", str(tmp_path), "--no-serve"]) == 0

    captured = capsys.readouterr()
    assert "precision of owner_changed" in captured.out
    assert "ownership check +" in captured.err
    # a number whose re-verification the simulators' script can be seen to decide
    assert "# suspicious, its account active: a sensitive notification asks" in captured.err
    assert (tmp_path / "scores" / "snapshot.bin").exists()


@pytest.mark.parametrize(
    "meta",
    [{"end": "yesterday"}, {"end": "2026-11-01", "rows": {"code_entries": "x"}}],
    ids=["end-not-a-date", "rows-not-counts"],
)
def test_evaluate_against_a_damaged_meta_json_is_a_one_line_error(
    tmp_path: Path, meta: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    scores = write_scores(tmp_path / "scores", [(RECYCLED_CAUGHT, "owner_changed", 900)])
    (scores / "manifest.json").write_text(json.dumps({"inputs": {"code_entries": {"rows": 3}}}))
    truth = write_truth(
        tmp_path / "truth", [(RECYCLED_CAUGHT, True, True), (KEPT_QUIET, False, False)]
    )
    (truth / "meta.json").write_text(json.dumps(meta))

    code = main(["evaluate", "--scores", str(scores), "--truth", str(truth)])

    message = capsys.readouterr().err
    assert code == 2
    assert message.startswith("error: ") and "meta.json" in message
    assert "Traceback" not in message


def test_billing_of_a_month_without_deliveries_totals_to_the_ledgers_four_places(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OWNERSHIP_SECRET_KEY", Fernet.generate_key().decode())
    assert main(["clients", "add", "bank", "--allow-ip", "203.0.113.0/24"]) == 0
    capsys.readouterr()

    assert main(["billing", "--client", "bank", "--month", "2026-11"]) == 0

    assert json.loads(capsys.readouterr().out)["total"] == "0.0000"


@pytest.mark.parametrize(
    "month", ["٢٠٢٦-11", "２０２６-11", "२०२६-11"], ids=["arabic-indic", "fullwidth", "devanagari"]
)
def test_billing_takes_a_month_in_ascii_digits_only(
    month: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OWNERSHIP_SECRET_KEY", Fernet.generate_key().decode())
    assert main(["clients", "add", "bank", "--allow-ip", "203.0.113.0/24"]) == 0
    assert main(["billing", "--client", "bank", "--month", "2026-11"]) == 0
    capsys.readouterr()

    code = main(["billing", "--client", "bank", "--month", month])

    assert code == 2
    assert f"--month must be YYYY-MM, not {month!r}" in capsys.readouterr().err


def test_score_names_the_columns_it_does_not_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = History().register(RU_MOBILE, days_ago(300), ANNA).write(tmp_path / "events")
    codes = events / "code_entries" / "part-0.parquet"
    table = pq.read_table(codes)
    pq.write_table(table.append_column("utm_source", pa.array(["ad"] * len(table))), codes)

    assert main(["score", "--events", str(events), "--out", str(tmp_path / "out")]) == 0

    said = " ".join(capsys.readouterr().err.split())  # as the terminal's width wraps it
    assert "not read, as no contract names them: code_entries: utm_source" in said


def test_score_warns_of_an_account_listed_on_two_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = History().register(RU_MOBILE, days_ago(300), ANNA).account(RU_MOBILE, "vk-1")
    events = history.account("+79234567824", "vk-1").write(tmp_path / "events")

    assert main(["score", "--events", str(events), "--out", str(tmp_path / "out")]) == 0

    said = " ".join(capsys.readouterr().err.split())
    assert "the accounts input binds 1 account to more than one number" in said


def test_check_judges_a_since_on_the_services_clock_as_the_api_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    events = History().register(RU_MOBILE, days_ago(300), ANNA).account(RU_MOBILE)
    out = tmp_path / "out"
    written = str(events.write(tmp_path / "events"))
    assert main(["score", "--events", written, "--out", str(out), "--as-of", "2026-06-01"]) == 0
    capsys.readouterr()
    # the demo's clock: its history's end now, whatever the wall clock says
    monkeypatch.setenv("OWNERSHIP_CLOCK_ANCHOR", datetime.now(UTC).isoformat())
    monkeypatch.setenv("OWNERSHIP_CLOCK_START", "2026-06-01T00:00:00Z")
    check = ["check", RU_MOBILE, "--scores", str(out)]

    assert main([*check, "--since", "2026-06-01"]) == 0
    assert main([*check, "--since", "2026-06-02"]) == 2
    assert "since 2026-06-02 is in the future" in capsys.readouterr().err


def test_a_finished_command_is_not_stopped_by_a_ctrl_c_while_python_shuts_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["ownership", "check", "garbage", "--scores", str(tmp_path)])
    handled_before = signal.getsignal(signal.SIGINT)
    try:
        assert entry.main() == 2
        # a console script's process ends now: its teardown ignores a late Ctrl-C
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, handled_before)


@pytest.mark.parametrize(
    "ctrl_c_ignored", [False, True], ids=["a terminal's", "a background job's"]
)
def test_sigterm_stops_a_command_as_ctrl_c_does_leaving_no_half_written_history(
    tmp_path: Path, ctrl_c_ignored: bool
) -> None:
    out = tmp_path / "history"
    partial = tmp_path / ".history.partial"
    command = "import sys; from pipelines.entry import main; sys.exit(main())"

    def as_a_shell_starts_it() -> None:
        # `cmd &` in a script: the job ignores Ctrl-C (as a test runner's worker may, too)
        signal.signal(signal.SIGINT, signal.SIG_IGN if ctrl_c_ignored else signal.SIG_DFL)

    generating = subprocess.Popen(
        # some 20 s of work on a quiet machine, stopped as soon as it has begun writing
        [sys.executable, "-c", command, "synth", "--phones", "300000", "--out", str(out)],
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=as_a_shell_starts_it,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},
    )
    while not partial.exists() and generating.poll() is None:
        time.sleep(0.05)

    generating.send_signal(signal.SIGTERM)  # what `systemctl stop` and `timeout` send

    try:
        _, err = generating.communicate(timeout=120)
    except subprocess.TimeoutExpired:  # where each thread waits, for the report
        generating.send_signal(signal.SIGABRT)
        _, err = generating.communicate(timeout=30)
        raise AssertionError(f"SIGTERM did not stop the command:\n{err}") from None
    assert generating.returncode == 143
    assert err.strip().splitlines()[-1] == "terminated"
    assert not out.exists() and not partial.exists()
