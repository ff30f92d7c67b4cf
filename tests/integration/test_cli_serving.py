"""`serve` and `demo` refuse what they cannot do in one line, before doing any work: a taken
port, a port or worker count that cannot be, a store that cannot be reached, a demo already
running in the same folder. The demo's hints work when pasted from any folder."""

from __future__ import annotations

import ast
import fcntl
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import requests

from delivery import records
from pipelines.cli import main
from pipelines.serving_cli import check_hint, demo_store, sqlite_url
from store.database import make_engine, upgrade
from tests.integration.cli_calls import refused_by_the_parser
from tests.integration.test_crash_recovery import OWNERSHIP, free_port

UNREACHABLE_STORE = "postgresql+psycopg://scorer:hunter2@127.0.0.1:9/ownership"
STATUSES = {"verified", "suspicious", "owner_changed", "unknown"}


def wait_until_serving(port: int, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline, "the demo never answered"
        time.sleep(0.1)


@pytest.fixture(autouse=True)
def own_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OWNERSHIP_DATABASE_URL", f"sqlite:///{tmp_path / 'ownership.db'}")
    monkeypatch.setenv("OWNERSHIP_SCORES_DIR", str(tmp_path / "scores"))
    monkeypatch.setenv("OWNERSHIP_SECRET_KEY_FILE", str(tmp_path / "secret.key"))
    monkeypatch.delenv("OWNERSHIP_RUN_JOBS", raising=False)


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something else listens on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The command's one error line (a warning may come before it), and no traceback."""
    assert main(argv) == 2
    printed = capsys.readouterr().err.strip()
    assert "Traceback" not in printed
    *_, message = printed.splitlines()
    assert message.startswith("error:")
    return message


def test_serve_on_a_taken_port_says_so_in_one_line(
    taken_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    message = one_line_error(["serve", "--port", str(taken_port)], capsys)

    assert f"cannot listen on 127.0.0.1:{taken_port}" in message
    assert "is another server running there?" in message


def test_serve_on_a_host_that_is_no_address_says_so_without_blaming_another_server(
    capsys: pytest.CaptureFixture[str],
) -> None:
    message = one_line_error(["serve", "--host", "999.1.1.1", "--port", "8702"], capsys)

    assert "cannot listen on 999.1.1.1:8702" in message
    assert "another server" not in message


@pytest.mark.parametrize(
    ("flag", "value", "complaint"),
    [
        ("--port", "99999", "99999 is above 65535, the highest port"),
        ("--port", "-1", "-1 is below 0"),
        ("--workers", "0", "0 is below 1"),
        # each a Python with the app and a pool of store connections: a thousand would bury
        # the machine before one served a call
        ("--workers", "1000", "1000 is above 32 worker processes"),
    ],
)
def test_serve_refuses_ports_and_worker_counts_that_cannot_be(
    flag: str, value: str, complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert complaint in refused_by_the_parser(["serve", flag, value], capsys)


@pytest.mark.parametrize("jobs", ["--jobs", "OWNERSHIP_RUN_JOBS=true"])
def test_serve_runs_the_jobs_only_with_one_worker_however_they_are_asked_for(
    jobs: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # every worker would start the scheduler: the jobs would run once per worker
    argv = ["serve", "--port", "0", "--workers", "2"]
    if jobs == "--jobs":
        argv.append(jobs)
    else:
        monkeypatch.setenv("OWNERSHIP_RUN_JOBS", "true")

    message = one_line_error(argv, capsys)

    assert jobs.split("=")[0] in message and "use it with one worker" in message


def test_serve_with_a_store_it_cannot_reach_says_so_without_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OWNERSHIP_DATABASE_URL", UNREACHABLE_STORE)

    message = one_line_error(["serve", "--port", "0"], capsys)

    assert "cannot open the store at postgresql+psycopg://scorer:***@127.0.0.1:9/" in message
    assert "hunter2" not in message


@pytest.mark.parametrize(
    "proxies",
    [
        {"HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "localhost,[::1]"},
        {"ALL_PROXY": "socks5://127.0.0.1:9"},  # SOCKS needs a package not installed
    ],
    ids=["a no_proxy httpx cannot read", "a socks proxy"],
)
def test_serve_with_proxy_variables_it_cannot_use_says_so_in_one_line(
    proxies: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in proxies.items():
        monkeypatch.setenv(name, value)

    message = one_line_error(["serve", "--port", "0"], capsys)

    assert "the proxy variables (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY) cannot" in message


def test_the_demo_finds_its_port_taken_before_it_generates_anything(
    taken_port: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["demo", "--phones", "50", "--dir", str(tmp_path / "demo"), "--port", str(taken_port)]

    assert f"cannot listen on 127.0.0.1:{taken_port}" in one_line_error(argv, capsys)
    assert not (tmp_path / "demo" / "events").exists()


def test_a_second_demo_in_the_same_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "demo"
    folder.mkdir()
    with (folder / ".lock").open("w") as running:  # what the first demo holds while it runs
        fcntl.flock(running, fcntl.LOCK_EX | fcntl.LOCK_NB)

        message = one_line_error(["demo", "--phones", "50", "--dir", str(folder)], capsys)

    assert f"a demo is already running in {folder}" in message
    assert not (folder / "events").exists()


def test_the_demos_hints_name_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)

    assert main(["demo", "--phones", "200", "--dir", "demo", "--no-serve"]) == 0

    hints = [line for line in capsys.readouterr().err.splitlines() if " check +" in line]
    assert hints
    command, _check, _phone, _flag, scores, *_ = hints[0].split()
    assert Path(command).is_absolute() and Path(command).name == "ownership"
    assert Path(command).parent == Path(sys.executable).parent
    assert scores == str(tmp_path / "demo" / "scores")


def test_the_serving_demos_check_hint_reads_the_demos_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # pasted into a shell, through a terminal that reads `:smile:` and `[1]` as markup; and
    # `[1]` would be a pattern to the readers of the demo's files
    folder = tmp_path / "a demo's :smile: [1] 100%20 folder"
    assert main(["demo", "--phones", "200", "--dir", str(folder), "--no-serve"]) == 0
    scores = folder / "scores"
    printed = capsys.readouterr().err
    assert f"--scores {shlex.quote(str(scores))}" in printed
    manifest = json.loads((scores / "manifest.json").read_text())
    phone = pl.read_parquet(scores / "scores.parquet", glob=False)["phone"][0]
    store = demo_store(folder)  # what the serving demo creates, and a "No" given there
    url = sqlite_url(store)
    upgrade(url)
    assert store.is_file()  # `%20` stays in the file's name
    engine = make_engine(url)
    denied = datetime.fromisoformat(manifest["as_of"]) + timedelta(hours=1)
    with engine.begin() as connection:
        records.record_verification(connection, phone, denied, "prompt", "denied", None, None)
    engine.dispose()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.delenv("OWNERSHIP_DATABASE_URL")

    pasted = subprocess.run(
        ["bash", "-c", check_hint(phone, scores, store)],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    )

    assert json.loads(pasted.stdout)["status"] == "owner_changed"


def test_the_serving_demos_printed_calls_work_when_pasted_again_and_again(
    tmp_path: Path,
) -> None:
    port = free_port()
    demo = subprocess.Popen(
        [
            OWNERSHIP,
            "demo",
            "--phones",
            "300",
            "--dir",
            str(tmp_path / "demo"),
            "--port",
            str(port),
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert demo.stderr is not None
        printed: list[str] = []
        while not printed or printed[-1] != "stop with Ctrl-C":
            line = demo.stderr.readline()
            assert line, "the demo stopped before it served"
            printed.append(line.strip())
        after = {printed[i - 1]: line for i, line in enumerate(printed) if i}

        def paste(command: str) -> dict[str, Any]:
            pasted = subprocess.run(
                ["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=60
            )
            assert pasted.returncode == 0, pasted.stderr
            answer: dict[str, Any] = ast.literal_eval(pasted.stdout.strip())
            return answer

        wait_until_serving(port)
        assert paste(after["from another terminal, a check:"])["status"] in STATUSES
        first = paste(after["a notification:"])
        again = paste(after["a notification:"])  # later on the demo clock: another one
        shown = paste(
            after["and then that notification, the id it was given in place of <id>:"].replace(
                "<id>", first["id"]
            )
        )
        webhooks = subprocess.run(
            ["bash", "-c", after["the demo client's webhooks, judged on the demo's clock:"]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        sourced = after[
            "any other command on the demo's store and clock (templates approve, clients, "
            "notifications), in a shell that first ran:"
        ]
        # a command of the operator's own, with only what the demo said to source first
        own = f"{sourced} && {shlex.quote(OWNERSHIP)} clients webhooks demo && env"
        operators = subprocess.run(
            ["bash", "-c", own],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            # a shell with a key of its own, which would seal secrets the demo cannot open
            env={name: value for name, value in os.environ.items() if "OWNERSHIP_" not in name}
            | {"OWNERSHIP_SECRET_KEY": "a key of the operator's own"},
        )
    finally:
        os.killpg(demo.pid, signal.SIGINT)
        demo.wait(timeout=30)

    assert first["status"] == again["status"] == "accepted" and first["id"] != again["id"]
    assert shown["id"] == first["id"] and shown["history"][0]["status"] == "accepted"
    assert webhooks.returncode == 0 and webhooks.stderr == ""  # the demo's clock, not its own
    assert operators.returncode == 0 and operators.stderr == "", operators.stderr
    # on the demo's store and key, and on its clock, as the webhooks' command is
    hinted = after["the demo client's webhooks, judged on the demo's clock:"]
    clock = {word for word in shlex.split(hinted) if word.startswith("OWNERSHIP_CLOCK_")}
    assert len(clock) == 3 and clock <= set(operators.stdout.splitlines())
    assert "OWNERSHIP_SECRET_KEY=" in operators.stdout.splitlines()  # the demo's file instead
    judged = json.loads(webhooks.stdout)
    assert [client["name"] for client in judged["clients"]] == ["demo"]
