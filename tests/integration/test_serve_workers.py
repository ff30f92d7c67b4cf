"""`ownership serve --workers 2`: each worker listens on a socket of its own, so connections
spread over both; a worker that dies is replaced; a taken port is a clear error; SIGTERM stops
them all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests

from api.main import METRICS_PREFIX
from tests.integration.test_crash_recovery import OWNERSHIP, free_port

CONNECTIONS = 64


def workers_of(server: subprocess.Popen[bytes]) -> list[psutil.Process]:
    children = psutil.Process(server.pid).children()
    return [child for child in children if "spawn_main" in " ".join(child.cmdline())]


def listening(workers: list[psutil.Process], port: int) -> bool:
    """Every worker listens on the port on a socket of its own."""
    return len(workers) == 2 and all(
        any(
            connection.laddr.port == port and connection.status == "LISTEN"
            for connection in worker.net_connections(kind="tcp")
        )
        for worker in workers
    )


def wait_until(condition: object, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():  # type: ignore[operator]
                return
        except (requests.ConnectionError, psutil.NoSuchProcess):
            pass
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, dict[str, str]]]:
    port = free_port()
    env = {
        **os.environ,
        "OWNERSHIP_SCORES_DIR": str(tmp_path / "scores"),
        "OWNERSHIP_DATABASE_URL": f"sqlite:///{tmp_path / 'ownership.db'}",
        "OWNERSHIP_SECRET_KEY_FILE": str(tmp_path / "secret.key"),
    }
    server = subprocess.Popen(
        [OWNERSHIP, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/healthz"
    wait_until(lambda: requests.get(url, timeout=1).ok and listening(workers_of(server), port))
    yield server, port, env
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def test_connections_spread_over_both_workers(
    served: tuple[subprocess.Popen[bytes], int, dict[str, str]],
) -> None:
    server, port, _ = served
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(CONNECTIONS)]
    try:
        for client in clients:  # a request on each, so each is surely accepted
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
            assert client.recv(65536).startswith(b"HTTP/1.1 200")
        held = [
            sum(
                1
                for connection in worker.net_connections(kind="tcp")
                if connection.laddr.port == port and connection.status == "ESTABLISHED"
            )
            for worker in workers_of(server)
        ]
    finally:
        for client in clients:
            client.close()

    assert sum(held) == CONNECTIONS
    assert min(held) >= CONNECTIONS // 4  # one socket for all gave 50 of 64 to one worker


def test_a_dead_worker_is_replaced_and_sigterm_stops_them_all(
    served: tuple[subprocess.Popen[bytes], int, dict[str, str]],
) -> None:
    server, port, _ = served
    first, second = workers_of(server)

    first.kill()
    wait_until(
        lambda: (
            {w.pid for w in workers_of(server)} - {first.pid, second.pid}
            and listening(workers_of(server), port)
        )
    )
    assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).ok

    workers = workers_of(server)
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=40) == 0
    assert not any(worker.is_running() and worker.status() != "zombie" for worker in workers)


def test_workers_whose_supervisor_is_killed_stop_and_free_the_port(
    served: tuple[subprocess.Popen[bytes], int, dict[str, str]],
) -> None:
    server, port, _ = served
    workers = workers_of(server)

    server.kill()  # SIGKILL to the supervisor alone: no chance to stop its workers
    server.wait()

    wait_until(lambda: not any(w.is_running() and w.status() != "zombie" for w in workers))
    with socket.create_server(("127.0.0.1", port)):  # free for a server started again
        pass


def test_each_workers_process_metrics_are_shown_by_its_pid(
    served: tuple[subprocess.Popen[bytes], int, dict[str, str]],
) -> None:
    server, port, _ = served

    metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text

    shown = {
        line.split('pid="', 1)[1].split('"', 1)[0]
        for line in metrics.splitlines()
        if line.startswith("process_resident_memory_bytes{")
    }
    assert shown == {str(worker.pid) for worker in workers_of(server)}


def test_a_second_server_on_the_same_port_is_refused_clearly(
    served: tuple[subprocess.Popen[bytes], int, dict[str, str]],
) -> None:
    _, port, env = served

    second = subprocess.run(
        [OWNERSHIP, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert second.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in second.stderr


def healthz_counted(port: int) -> float:
    metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    counted = 'ownership_http_requests_total{method="GET",route="/healthz",status="200"} '
    return sum(float(line.split()[-1]) for line in metrics.splitlines() if line.startswith(counted))


def test_a_second_server_leaves_the_first_ones_metrics_alone_and_clears_a_dead_ones(
    served: tuple[subprocess.Popen[bytes], int, dict[str, str]], tmp_path: Path
) -> None:
    _, port, env = served
    for _ in range(5):
        requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    before = healthz_counted(port)
    # what a server killed outright left behind (no process has this id)
    killed = Path(tempfile.gettempdir()) / f"{METRICS_PREFIX}{2**22 + 1}-x"
    killed.mkdir(exist_ok=True)
    other_port = free_port()
    other = subprocess.Popen(
        [OWNERSHIP, "serve", "--port", str(other_port), "--workers", "2"],
        env={**env, "OWNERSHIP_DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}"},
        cwd=tmp_path,  # the same folder: metrics once lived in a folder relative to it
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until(lambda: requests.get(f"http://127.0.0.1:{other_port}/healthz", timeout=1).ok)
        assert before >= 5
        assert healthz_counted(port) >= before  # not cleared by the other's start
        assert not killed.exists()  # cleared by it
    finally:
        os.killpg(other.pid, signal.SIGKILL)
        other.wait()
