"""An HTTP client whose deadline bounds each exchange as a whole, for the code that sends.

httpx's timeouts bound each step (connect, every read) but not the exchange, so a peer that
answers a byte at a time holds a call for as long as it likes, and with it the lease or claim
that was sized for "longer than any call lasts". Here the connections are made by a network
backend (httpcore's, wrapped) that looks the name up, connects to each address in turn, reads
and writes in no more time than is left of the calling thread's deadline, and fails once the
deadline has passed. Calls through an HTTP proxy (HTTP_PROXY, HTTPS_PROXY, as httpx reads
them with NO_PROXY) go on httpx's own transports, which know proxies, and each step keeps its
own timeout instead. The client stays synchronous: httpx's async client, run on a loop of its
own, sent half as many webhooks a second on this machine.

A client made `public_only` connects to public addresses only, judged on the addresses it
connects to: a name that resolves into a private network is refused however it is spelt, and no
second lookup can answer otherwise. Used by the webhook sender (`delivery/webhooks/dispatcher.py`)
and the channel gateways (`delivery/channels/http.py`).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FuturesTimeout
from types import TracebackType
from typing import Any, Self, TypeVar

import httpcore
import httpx

# httpx's own reading of the proxy variables, so that this module routes as httpx would
from httpx._utils import URLPattern, get_environment_proxies

T = TypeVar("T")
log = logging.getLogger(__name__)

# the calling thread's deadline (time.monotonic()), while `DeadlineClient.run` runs
_deadline = threading.local()


class NotConnectedError(TimeoutError):
    """The deadline passed before a connection was made: nothing of the request was sent."""


class DeadlineClient:
    """An `httpx.Client` whose `run` bounds an exchange whole.

    Redirects are not followed: a peer moves its endpoint by telling us, not by redirecting
    what we send (signed bodies, bearer tokens) elsewhere. A `transport` given (a test's mock)
    replaces the network, and with it the deadline.
    """

    def __init__(
        self,
        seconds: float,
        *,
        base_url: str = "",
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        public_only: bool = False,
    ) -> None:
        self.seconds = seconds
        mounts: dict[str, httpx.BaseTransport | None] = {}
        if transport is None:
            transport = _DeadlineTransport(public_only)
            mounts = _proxy_mounts(transport)
        self.http = httpx.Client(
            base_url=base_url,
            headers=headers,
            timeout=seconds,
            transport=transport,
            mounts=mounts,
            follow_redirects=False,
        )

    def run(self, exchange: Callable[[httpx.Client], T]) -> T:
        """`exchange(client)`'s result; `TimeoutError` if it has not ended within the deadline
        (its connection is closed then; `NotConnectedError` if none was made), or whatever else
        it raises."""
        ends = time.monotonic() + self.seconds
        _deadline.at = ends
        try:
            return exchange(self.http)
        except httpx.TimeoutException as error:
            if time.monotonic() < ends:
                raise
            if isinstance(error, httpx.ConnectTimeout):
                raise NotConnectedError(f"no connection within {self.seconds:g} s") from None
            raise TimeoutError(f"no complete answer within {self.seconds:g} s") from None
        finally:
            _deadline.at = None

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


class ProxySettingsError(ValueError):
    """The proxy variables name a proxy that cannot be used; the message says which."""


def _proxy_mounts(direct: httpx.BaseTransport) -> dict[str, httpx.BaseTransport | None]:
    """An egress proxy (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY) as httpx reads it, NO_PROXY
    included: the calls it carries are bounded step by step, and the proxy bounds the rest and
    must keep them out of private networks. Every other call goes `direct`, whole and checked.
    With no proxy set, NO_PROXY is not read: there is nothing to bypass."""
    proxies = urllib.request.getproxies()
    if not any(proxies.get(scheme) for scheme in ("http", "https", "all")):
        return {}
    try:
        mounts: dict[str, httpx.BaseTransport | None] = {
            pattern: httpx.HTTPTransport(proxy=proxy) if proxy else direct
            for pattern, proxy in get_environment_proxies().items()
        }
        for pattern in mounts:
            URLPattern(pattern)  # what httpx.Client does with them, raising on one it cannot read
    except (httpx.InvalidURL, ValueError, ImportError) as error:
        raise ProxySettingsError(
            f"the proxy variables (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY) cannot be "
            f"used: {error}"
        ) from error
    log.warning(
        "an HTTP proxy is set: the calls it carries are bounded step by step, and the proxy "
        "must keep them out of private networks"
    )
    return mounts


def check_proxy_settings() -> None:
    """Raise `ProxySettingsError` now if the proxy variables cannot be used."""
    _proxy_mounts(httpx.BaseTransport())


def read_at_most(response: httpx.Response, size: int) -> bytes:
    """Up to `size` bytes of a streamed answer (a few more when a chunk ends past it), without
    reading an answer of any length whole."""
    read = b""
    for chunk in response.iter_bytes():
        read += chunk
        if len(read) >= size:
            break
    return read


def _left(timeout: float | None, expired: type[Exception]) -> float | None:
    """The step's timeout cut to what is left of the thread's deadline; `expired` once none."""
    ends: float | None = getattr(_deadline, "at", None)
    if ends is None:
        return timeout
    left = ends - time.monotonic()
    if left <= 0:
        raise expired("the deadline for the whole exchange has passed")
    return left if timeout is None else min(timeout, left)


# IPv6 prefixes whose last 32 bits are an IPv4 address the packet goes to: NAT64's well-known
# prefix (a DNS64 resolver answers private IPv4 names with it), IPv4-compatible and
# IPv4-translated addresses
IPV4_IN_LAST_32_BITS = tuple(
    ipaddress.IPv6Network(prefix) for prefix in ("64:ff9b::/96", "::/96", "::ffff:0:0:0/96")
)
# NAT64 prefixes a network picks for itself (RFC 8215): their IPv4 address may be anywhere
LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")
# Ranges IANA's special-purpose registries list as not globally reachable that this Python's
# tables call global (3.11's, at least): IETF protocol assignments (RFC 6890; its two anycast
# services are no webhook hosts), site-local (RFC 3879, deprecated, still routed inside some
# networks), IPv6 documentation (RFC 9637) and SRv6 segment identifiers (RFC 9602).
NOT_GLOBAL = tuple(
    ipaddress.ip_network(prefix)
    for prefix in ("192.0.0.0/24", "fec0::/10", "3fff::/20", "5f00::/16")
)


def is_public(address: str) -> bool:
    """Whether an IP address is one of the public internet's; loopback, private, link-local,
    shared and reserved ranges are not. An IPv4 address carried in IPv6 (mapped, 6to4,
    Teredo, NAT64, compatible, translated) is judged as itself. A multicast group is no host
    (Python calls most of them global)."""
    found = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 scope (`%eth0`) aside
    if any(found in prefix for prefix in NOT_GLOBAL):
        return False
    if isinstance(found, ipaddress.IPv6Address):
        if found in LOCAL_NAT64:
            return False
        teredo = found.teredo
        carried = found.ipv4_mapped or found.sixtofour or (teredo[1] if teredo else None)
        if carried is None and any(found in prefix for prefix in IPV4_IN_LAST_32_BITS):
            carried = ipaddress.IPv4Address(int(found) & 0xFFFFFFFF)
        if carried is not None:
            return is_public(str(carried))
    return found.is_global and not found.is_multicast


# name lookups one client may have under way at once: each holds a thread until the system
# resolver answers, which for a domain whose DNS never answers is long after the deadline
MOST_LOOKUPS_UNDER_WAY = 64


class NameLookups:
    """Name lookups for one client, each waited for no longer than the deadline allows.

    getaddrinfo takes no timeout, so a lookup runs on a thread of its own and one given up on
    ends in the background. A shared pool of such threads is what a domain whose DNS never
    answers fills, and every other host's lookup then waits behind it: here a lookup starts
    at once on a thread of its own, callers asking for a host already being looked up wait
    for that lookup rather than start another, and a host whose lookup a caller gave up on is
    not looked up again until it ends: asking for it fails at once, a failure like a refused
    connection (a webhook is retried on its schedule). Past `most_under_way` hosts being
    looked up, a new lookup fails at once too, bounding the threads that many dead domains
    can hold. Each `DeadlineClient` has its own, so the gateways' calls never wait on the
    webhooks' lookups.
    """

    def __init__(self, most_under_way: int = MOST_LOOKUPS_UNDER_WAY) -> None:
        self._most_under_way = most_under_way
        self._lock = threading.Lock()
        self._under_way: dict[str, _Lookup] = {}

    def addresses(self, host: str, port: int, timeout: float | None) -> list[str]:
        """The addresses of `host`, in the order the system prefers them."""
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            return [host]
        key = host.lower()
        with self._lock:
            lookup = self._under_way.get(key)
            if lookup is not None and lookup.given_up:
                raise httpcore.ConnectError(
                    f"{host} is still being looked up since an earlier attempt gave up on it"
                )
            if lookup is None:
                if len(self._under_way) >= self._most_under_way:
                    raise httpcore.ConnectError(
                        f"cannot look up {host}: {len(self._under_way)} name lookups under way"
                    )
                lookup = self._under_way[key] = _Lookup()
                threading.Thread(
                    target=self._look_up,
                    args=(key, host, port, lookup),
                    name=f"resolve {host}",
                    daemon=True,  # one the system resolver never answers holds no exit back
                ).start()
        try:
            found = lookup.answer.result(timeout)
        except FuturesTimeout:
            lookup.given_up = True
            raise httpcore.ConnectTimeout(f"looking up {host} took past the deadline") from None
        except (OSError, UnicodeError) as error:  # a label too long for IDNA is a UnicodeError
            raise httpcore.ConnectError(f"cannot look up {host}: {error}") from error
        return list(dict.fromkeys(str(address[4][0]) for address in found))

    def _look_up(self, key: str, host: str, port: int, lookup: _Lookup) -> None:
        try:
            lookup.answer.set_result(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except BaseException as error:  # handed to the callers waiting, whatever it is
            lookup.answer.set_exception(error)
        finally:
            with self._lock:
                self._under_way.pop(key, None)


class _Lookup:
    """One host's lookup under way: its answer to come, and whether a caller gave up on it."""

    def __init__(self) -> None:
        self.answer: Future[list[Any]] = Future()
        self.given_up = False


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        timeout = _left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's own network, each connection's steps held to the thread's deadline, and,
    `public_only`, made to public addresses only."""

    def __init__(self, public_only: bool = False) -> None:
        self._network = httpcore.SyncBackend()
        self._public_only = public_only
        self._lookups = NameLookups()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        """The name looked up within the deadline, then each of its addresses tried in turn
        with what is left of it: a host whose IPv6 address drops packets takes one deadline,
        not one an address."""
        failed: Exception | None = None
        addresses = self._lookups.addresses(host, port, _left(timeout, httpcore.ConnectTimeout))
        if self._public_only:
            refused = [address for address in addresses if not is_public(address)]
            addresses = [address for address in addresses if address not in refused]
            if not addresses:
                raise httpcore.ConnectError(
                    f"{host} is not a public address ({', '.join(refused)}): refused"
                )
        for address in addresses:
            left = _left(timeout, httpcore.ConnectTimeout)
            try:
                stream = self._network.connect_tcp(
                    address, port, left, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failed = error
                continue
            return _DeadlineStream(stream)
        raise failed or httpcore.ConnectError(f"{host} has no address")

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        timeout = _left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._network.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._network.sleep(seconds)


class _DeadlineTransport(httpx.HTTPTransport):
    """httpx's transport on `_DeadlineBackend`. httpx takes no network backend of its own, so
    its connection pool is made again with one, as httpx makes it otherwise."""

    def __init__(self, public_only: bool = False) -> None:
        super().__init__()
        limits = httpx.Limits()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend(public_only),
        )
