"""Running the API: `ownership serve` and the app factory its uvicorn workers import."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_network
from pathlib import Path

from fastapi import FastAPI

from api.app import create_app
from api.http_protocol import ServerHttpProtocol
from api.observability import mask_phone_numbers_in_logs
from api.workers import Workers, reuse_port_supported
from delivery.runtime import LOCK_LOST_EXIT
from pipelines.logs import server_log_config
from pipelines.settings import Settings, load_settings

# set in a server running the jobs (`serve --jobs`, one worker) once they stopped for a lost
# simulators lock: the server then stops, and `serve` answers LOCK_LOST_EXIT
_jobs_lost = threading.Event()


def app_from_environment() -> FastAPI:
    """The app on the environment's settings: what each uvicorn worker builds."""
    mask_phone_numbers_in_logs()
    return create_app(load_settings(), on_jobs_lost=_stop_serving_for_lost_jobs)


def _stop_serving_for_lost_jobs() -> None:
    """The jobs stopped, and another process may run them now: the server stops as on Ctrl-C
    (what is in flight ends), and the process ends in failure, for a supervisor to start it
    again."""
    _jobs_lost.set()
    os.kill(os.getpid(), signal.SIGINT)


# the name of a multi-worker server's metrics folder, before its process id
METRICS_PREFIX = "ownership-metrics-"


def _forget_dead_servers_metrics() -> None:
    """Remove the metrics folders of servers that were killed before they could."""
    for folder in Path(tempfile.gettempdir()).glob(f"{METRICS_PREFIX}*-*"):
        pid = folder.name.removeprefix(METRICS_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def trusted_proxies(setting: str) -> str:
    """`OWNERSHIP_FORWARDED_ALLOW_IPS` as uvicorn takes it, each IPv4 network also in its
    IPv4-mapped IPv6 form: a dual-stack socket (`--host ::`) sees an IPv4 balancer as
    `::ffff:a.b.c.d`, which uvicorn does not match against an IPv4 network."""
    entries = [entry for entry in setting.split(",") if entry]
    for entry in list(entries):
        network = None if entry == "*" else ip_network(entry)
        if isinstance(network, IPv4Network):
            mapped = IPv6Address(f"::ffff:{network.network_address}")
            entries.append(str(IPv6Network((mapped, 96 + network.prefixlen))))
    return ",".join(entries)


def serve(settings: Settings, host: str, port: int, workers: int) -> int:
    """Serve until interrupted; the exit code. Workers map one snapshot file and share their
    metrics; with several, each listens on a socket of its own (api.workers).

    Raises PortInUseError when the port is taken."""
    import uvicorn

    from store.database import upgrade

    upgrade(settings.database_url)  # once, before the workers start
    config = {
        "app": "api.main:app_from_environment",
        "factory": True,
        "http": ServerHttpProtocol,
        "log_level": "info",
        "log_config": server_log_config(),  # the service's own lines too (the jobs' outcomes)
        "access_log": False,
        # only the balancers the operator names are believed about the caller (settings)
        "proxy_headers": bool(settings.forwarded_allow_ips),
        "forwarded_allow_ips": trusted_proxies(settings.forwarded_allow_ips) or None,
    }
    if workers == 1:
        uvicorn.run(host=host, port=port, workers=workers, **config)  # type: ignore[arg-type]
        return LOCK_LOST_EXIT if _jobs_lost.is_set() else 0
    # prometheus_client reads this in every worker: a folder of this server's own, so that
    # another server started beside it neither clears nor mixes with its metrics
    _forget_dead_servers_metrics()
    metrics_dir = tempfile.mkdtemp(prefix=f"{METRICS_PREFIX}{os.getpid()}-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        if reuse_port_supported() and port != 0:
            return Workers(workers, host, port, config).run()
        uvicorn.run(host=host, port=port, workers=workers, **config)  # type: ignore[arg-type]
        return 0
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
