"""`ownership serve` believes X-Forwarded-For and X-Forwarded-Proto only from the balancers
`OWNERSHIP_FORWARDED_ALLOW_IPS` names: otherwise any process on the machine could claim an
address on a client's allow-list."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from pydantic import ValidationError
from requests_oauthlib import OAuth1
from uvicorn.middleware.proxy_headers import _TrustedHosts

from api.main import trusted_proxies
from pipelines.settings import load_settings
from tests.integration.test_crash_recovery import OWNERSHIP, free_port
from tests.integration.test_serve_workers import wait_until

BRANCH_NETWORK = "10.0.0.0/8"
BRANCH_CALLER = "10.1.2.3"


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "OWNERSHIP_SCORES_DIR": str(tmp_path / "scores"),
        "OWNERSHIP_DATABASE_URL": f"sqlite:///{tmp_path / 'ownership.db'}",
        "OWNERSHIP_SECRET_KEY_FILE": str(tmp_path / "secret.key"),
    }


@pytest.fixture
def branch(environment: dict[str, str]) -> OAuth1:
    """A client allowed only from the branch network, which this machine is not on."""
    added = subprocess.run(
        [OWNERSHIP, "clients", "add", "branch", "--allow-ip", BRANCH_NETWORK],
        env=environment,
        capture_output=True,
        check=True,
    )
    credentials = json.loads(added.stdout)
    return OAuth1(credentials["key"], credentials["secret"], signature_method="HMAC-SHA256")


@contextmanager
def serving(environment: dict[str, str], tmp_path: Path) -> Iterator[int]:
    port = free_port()
    server = subprocess.Popen(
        [OWNERSHIP, "serve", "--port", str(port)],
        env=environment,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until(lambda: requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok)
        yield port
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def ping_through_a_balancer(port: int, auth: OAuth1) -> requests.Response:
    """A call the client signed for the balancer's https URL, passed on over plain http."""
    request = requests.Request("POST", f"https://127.0.0.1:{port}/v1/ping", auth=auth).prepare()
    request.url = f"http://127.0.0.1:{port}/v1/ping"
    request.headers["X-Forwarded-For"] = BRANCH_CALLER
    request.headers["X-Forwarded-Proto"] = "https"
    return requests.Session().send(request, timeout=10)


def test_without_a_named_balancer_no_caller_can_claim_an_allowed_address(
    environment: dict[str, str], branch: OAuth1, tmp_path: Path
) -> None:
    with serving(environment, tmp_path) as port:
        response = requests.post(
            f"http://127.0.0.1:{port}/v1/ping",
            auth=branch,
            headers={"X-Forwarded-For": BRANCH_CALLER},
            timeout=10,
        )

        assert response.status_code == 403, response.text
        assert response.json()["code"] == "PERMISSION_DENIED"


def test_a_named_balancer_tells_the_callers_address_and_the_scheme_it_signed(
    environment: dict[str, str], branch: OAuth1, tmp_path: Path
) -> None:
    environment["OWNERSHIP_FORWARDED_ALLOW_IPS"] = "127.0.0.1"

    with serving(environment, tmp_path) as port:
        response = ping_through_a_balancer(port, branch)

        assert response.status_code == 200, response.text
        assert response.json() == {"pong": True}


def test_an_ipv4_balancer_is_believed_on_a_dual_stack_socket_too() -> None:
    trusted = trusted_proxies("127.0.0.1,10.0.0.0/8")

    assert "::ffff:127.0.0.1" in _TrustedHosts(trusted)
    assert "::ffff:10.9.8.7" in _TrustedHosts(trusted)
    assert "::ffff:11.0.0.1" not in _TrustedHosts(trusted)


def test_a_balancer_network_with_host_bits_set_is_refused_as_the_typo_it_is() -> None:
    with pytest.raises(ValidationError, match="host bits set"):
        load_settings(forwarded_allow_ips="127.0.0.1/8")
