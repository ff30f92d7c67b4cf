"""OAuth 1.0a, two-legged, with each client's IP allow-list (DESIGN §6).

One call costs a dictionary look-up (client records are cached for `cache_seconds`), two
HMACs (step 4) and, once the signature holds, its share of a nonce insert: the nonces of
concurrent calls go in one statement (store.group_commit). The API takes steps 1 and 2
(`protocol_parameters`) before it asks for a byte of the body, then the rest on the event
loop (`authenticate_async`), holding no thread, before FastAPI reads the route's body
(api.deps.AuthenticatedFirst). The order of checks:

1. the protocol parameters are read: from the Authorization header (RFC 5849 §3.5.1) or from
   the query (§3.5.3), never from both (a call carrying them both ways is refused, as the RFC
   has it), and must be a two-legged call's (a printable ASCII consumer key, no
   `oauth_token`). A form body's (§3.5.2) are not taken: no route reads a form;
2. the signature method, the timestamp window (both ways, against the injected clock) and
   the nonce's form. Steps 1 and 2 read the URL and headers alone and depend on no key, so a
   call they refuse is refused before its body is waited for (no `100 Continue`, nothing
   buffered), and is told nothing of which keys exist;
3. the timestamp window again, once the body is in: nonces are kept only a while past the
   window, so a spent call whose body was held back until its nonce was forgotten would be a
   replay; then `oauth_body_hash`, for every body but a form
   (`application/x-www-form-urlencoded`, whose fields the signature covers), which oauthlib
   does not check;
4. the signature, by oauthlib's `SignatureOnlyEndpoint`, whose base string holds the query's
   parameters whichever way the protocol's come. A signature is verified against the client's
   secret and, during the overlap after a rotation (`ownership clients rotate-secret`),
   against the secret it replaced; outside an overlap, against a dummy secret in its place,
   whose match counts for nothing. An unknown or disabled key is verified against the dummy
   secret twice. So every call costs two verifications, whichever key it names and whether
   that client is rotating, and an unknown key is told what a bad signature is told;
5. the client's allow-list: a signed call from elsewhere gets 403. Checked after the signature,
   so that a caller without the secret learns nothing of which keys exist;
6. the nonce is recorded; a reused one is refused. Only signed calls reach the store, so
   forged ones cannot fill the nonce table. Nonces are kept per key, so a call signed with
   the previous secret cannot be replayed under the new one, nor the other way round.

Then the client's rate (api.rate_limit, taken by api.deps.OAuth1Signed): a call past it is
429, its nonce spent. Only a call that passed every step above counts against its client.

The query form is as safe as the header: the same nonce, window and body-hash rules hold, so
a signature read from a URL is spent already and covers one body only. A URL is still where a
signature is most often written down, so the service writes none: it keeps no access log
(api.main) and its own lines name a path, never a query.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from ipaddress import IPv6Address, ip_address
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit

from oauthlib.common import Request, safe_string_equals
from oauthlib.oauth1 import RequestValidator, SignatureOnlyEndpoint
from oauthlib.oauth1.rfc5849.signature import (
    base_string_uri,
    collect_parameters,
    normalize_parameters,
    sign_hmac_sha1_with_client,
    sign_hmac_sha256_with_client,
    signature_base_string,
)
from oauthlib.oauth1.rfc5849.utils import parse_authorization_header, unescape
from starlette.concurrency import run_in_threadpool

from api.error_codes import ErrorCode
from api.errors import ApiError, unavailable
from ownership.client_policy import PolicyFileError, client_policy
from ownership.policy import Policy
from pipelines.settings import Settings
from store.clients import Address, ClientRecord, SqlClientStore
from store.secrets import SecretKeyError, load_cipher

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger(__name__)

UNAUTHENTICATED = ErrorCode.UNAUTHENTICATED
PERMISSION_DENIED = ErrorCode.PERMISSION_DENIED

SIGNATURE_METHODS = ("HMAC-SHA256", "HMAC-SHA1")


@dataclass(frozen=True)
class _Secrets:
    """What oauthlib's HMAC signers read of a client; two-legged: no resource owner."""

    client_secret: str
    resource_owner_secret: str | None = None


_SIGNERS: dict[str, Callable[[str, _Secrets], str]] = {
    "HMAC-SHA256": sign_hmac_sha256_with_client,
    "HMAC-SHA1": sign_hmac_sha1_with_client,
}
# The body-hash draft defines SHA-1 for HMAC-SHA1 and leaves other methods open. oauthlib,
# and so requests-oauthlib, send SHA-1 whatever the method, so HMAC-SHA256 accepts SHA-256
# and SHA-1; the digest's length tells which. The hash is covered by the signature either way.
BODY_HASHES = {"HMAC-SHA1": ("sha1",), "HMAC-SHA256": ("sha256", "sha1")}
_HASH_BY_SIZE = {20: "sha1", 32: "sha256"}
FORM = "application/x-www-form-urlencoded"
KEY_MAX = 64  # the store's column widths
NONCE_MAX = 64
# far more than a signature's parameters take (about 400 characters): a longer header or query
# is refused before it is parsed, which takes a quarter of a second a megabyte
SIGNED_TEXT_MAX = 4096

# what a caller is told: enough to fix an honest mistake, nothing about which key exists
BAD_SIGNATURE = "The consumer key or the signature is invalid"
NOT_SIGNED = (
    "The request must be signed with OAuth 1.0a, its oauth_ parameters in the Authorization "
    "header or in the query"
)
MALFORMED = "The Authorization header is not a valid OAuth 1.0a header"
MALFORMED_QUERY = "The query's oauth_ parameters are not a valid OAuth 1.0a signature"
TWO_WAYS = (
    "The oauth_ parameters must come one way: in the Authorization header or in the query, not both"
)
BAD_METHOD = "The signature method must be HMAC-SHA256 or HMAC-SHA1"
STALE = "The request's oauth_timestamp is too far from the server's time"
NO_TIMESTAMP = "The request must carry oauth_timestamp, in seconds since 1970"
BAD_KEY = f"oauth_consumer_key must be 1 to {KEY_MAX} printable ASCII characters"
TOO_LONG = (
    f"The Authorization header or the query is longer than {SIGNED_TEXT_MAX} characters, more "
    "than an OAuth 1.0a signature takes"
)
FORM_TOO_LONG = (
    f"A form body is signed field by field, and one longer than {SIGNED_TEXT_MAX} characters "
    "is not read: no route takes a form; send JSON"
)
TOKEN_GIVEN = "Calls are signed two-legged: the consumer key and secret only, no oauth_token"
BAD_NONCE = f"oauth_nonce must be 1 to {NONCE_MAX} printable ASCII characters"
NO_BODY_HASH = "A request with a body must be signed with oauth_body_hash"
BODY_MISMATCH = "The body does not match its oauth_body_hash"
NONCE_REUSED = "The nonce was already used; sign every request afresh"
FOREIGN_ADDRESS = "This client may not call from this address"
UNVERIFIABLE = "The service cannot verify this client's calls now; the operator is told"
UNAPPLIABLE = "The service cannot apply this client's notify policy now; the operator is told"


class AuthError(ApiError):
    """The call is not authenticated (401) or not allowed from where it came (403)."""

    def __init__(self, status: int, code: ErrorCode, message: str) -> None:
        challenge = {"WWW-Authenticate": 'OAuth realm="ownership"'} if status == 401 else None
        super().__init__(status, code, message, challenge)


def _unauthenticated(message: str) -> AuthError:
    return AuthError(401, UNAUTHENTICATED, message)


@dataclass(frozen=True)
class AuthenticatedClient:
    name: str
    key: str
    # how old a user action its notifications may answer; None: the service's default
    max_action_age: timedelta | None = None
    # its own notify policy; None: the service's
    policy: Policy | None = None


@dataclass(frozen=True)
class ProtocolParameters:
    """A call's OAuth protocol parameters as its URL and headers give them, checked as far as
    they can be without its body or its client (steps 1 and 2): what
    `Authenticator.protocol_parameters` returns and `authenticate_async` takes on."""

    consumer_key: str
    signature_method: str
    timestamp: int
    nonce: str
    body_hash: str | None
    # the headers the signature is verified with, the first of each as the route reads it;
    # `authorization` is "" when the parameters came in the query
    content_type: str
    authorization: str

    @property
    def form(self) -> bool:
        """Whether the body is a form, whose fields the signature covers instead of a hash."""
        # the media type itself: a JSON body whose type merely mentions a form in a parameter
        # must still be covered by its hash, since the route reads it as JSON
        return self.content_type.split(";", 1)[0].strip().lower() == FORM


class ClientStore(Protocol):
    """The store as the authenticator needs it (`store.clients.SqlClientStore`)."""

    def find_client(self, key: str) -> ClientRecord | None: ...

    def remember_nonce(self, key: str, nonce: str, timestamp: int) -> bool: ...

    async def remember_nonce_async(self, key: str, nonce: str, timestamp: int) -> bool: ...


Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class _Validator(RequestValidator):
    """oauthlib's questions answered for one call whose client is already looked up."""

    def __init__(
        self, client: ClientRecord | None, previous_secret: str | None, dummy_secret: str
    ) -> None:
        super().__init__()
        self._client = client
        self._previous_secret = previous_secret
        self._dummy_secret = dummy_secret

    @property
    def allowed_signature_methods(self) -> tuple[str, ...]:
        return SIGNATURE_METHODS

    @property
    def enforce_ssl(self) -> bool:
        return False  # TLS ends at the balancer; the signed URL is the one the client used

    @property
    def timestamp_lifetime(self) -> int:
        # oauthlib compares with time.time(); the Authenticator checks the window against
        # its own clock before this runs, so oauthlib's check is made to always pass
        return 2**40

    @property
    def dummy_client(self) -> str:
        return "dummy"

    def check_client_key(self, client_key: str) -> bool:
        return True  # any key goes on to the signature check, so all unknown keys cost alike

    def check_nonce(self, nonce: str) -> bool:
        return True  # checked by the Authenticator, which stores it

    def validate_client_key(self, client_key: str, request: Any) -> bool:
        return self._client is not None

    def get_client_secret(self, client_key: str, request: Any) -> str:
        return self._client.secret if self._client is not None else self._dummy_secret

    def get_previous_client_secret(self) -> tuple[str, bool]:
        """The secret a rotation replaced, while it still verifies, and True; else the dummy
        secret and False: verified all the same, so that the call costs what one made during
        an overlap does, and its match ignored."""
        if self._client is not None and self._previous_secret is not None:
            return self._previous_secret, True
        return self._dummy_secret, False

    def validate_timestamp_and_nonce(self, *args: Any, **kwargs: Any) -> bool:
        return True  # the window is checked before the signature, the nonce after it


class _Endpoint(SignatureOnlyEndpoint):
    """oauthlib's endpoint, verifying the signature against the client's current secret and
    its previous one (`_Validator.get_previous_client_secret`), both always."""

    def __init__(self, validator: _Validator) -> None:
        super().__init__(validator)
        self._validator = validator

    def _check_signature(self, request: Request, is_token_request: bool = False) -> bool:
        # oauthlib's own check for an HMAC method, with two secrets: the base string once
        # (most of a verification's cost), then a signature with each. Both are signed and
        # compared whatever the first found, so no call's time tells which client is rotating,
        # nor whether the key is one
        sign = _SIGNERS.get(request.signature_method or "")
        if sign is None:  # refused before, by `protocol_parameters`
            return False
        params: Any = request.params  # the (name, value) pairs oauthlib collected
        base = signature_base_string(
            request.http_method, base_string_uri(request.uri), normalize_parameters(params)
        )
        claimed = request.signature or ""
        secret = self._validator.get_client_secret(request.client_key or "", request)
        current = safe_string_equals(sign(base, _Secrets(secret)), claimed)
        previous_secret, previous_verifies = self._validator.get_previous_client_secret()
        previous = safe_string_equals(sign(base, _Secrets(previous_secret)), claimed)
        return current or (previous and previous_verifies)


_Cached = TypeVar("_Cached")


class Authenticator:
    """Verifies a signed call and names the client that made it, or raises `AuthError`."""

    def __init__(
        self,
        store: ClientStore,
        *,
        clock: Clock = utc_now,
        timestamp_skew_seconds: int = 300,
        cache_seconds: float = 30.0,
        cache_size: int = 10_000,
        policy: Policy | None = None,
    ) -> None:
        """`policy`: the service's notify policy, which a client's own policy file changes."""
        self._store = store
        self._policy = policy or Policy()
        self._clock = clock
        self._skew = timestamp_skew_seconds
        self._cache_seconds = cache_seconds
        self._cache_size = cache_size
        # clients' records, until when each is taken as read
        self._clients: dict[str, tuple[float, ClientRecord]] = {}
        # keys no client has, cached too, so that probing keys costs what using one does; apart
        # from the clients', so that a caller cycling made-up keys empties only this one
        self._unknown_keys: dict[str, float] = {}
        self._dummy_secret = secrets.token_urlsafe(32)

    def authenticate(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        client_ip: str,
    ) -> AuthenticatedClient:
        """`url` is the full URL as the client signed it, query included."""
        signed = self.protocol_parameters(url, headers)
        client = self._verify(method, url, signed, body, client_ip)
        if not self._store.remember_nonce(client.key, signed.nonce, signed.timestamp):
            raise _unauthenticated(NONCE_REUSED)
        return AuthenticatedClient(client.name, client.key, client.max_action_age, client.policy)

    async def authenticate_async(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        client_ip: str,
        *,
        signed: ProtocolParameters | None = None,
    ) -> AuthenticatedClient:
        """`authenticate` on the event loop: the signature is checked in place (a fraction of
        a millisecond of CPU) and the nonce awaited, so a call holds no thread. Only a client
        not in the cache is looked up in a worker thread first. `signed` is the call's
        `protocol_parameters(url, headers)` when the caller took them before reading the body;
        without it they are read here."""
        if signed is None:
            signed = self.protocol_parameters(url, headers)
        if not self._cached(signed.consumer_key):
            await run_in_threadpool(self._client, signed.consumer_key)
        client = self._verify(method, url, signed, body, client_ip)
        if not await self._store.remember_nonce_async(client.key, signed.nonce, signed.timestamp):
            raise _unauthenticated(NONCE_REUSED)
        return AuthenticatedClient(client.name, client.key, client.max_action_age, client.policy)

    def protocol_parameters(self, url: str, headers: Mapping[str, str]) -> ProtocolParameters:
        """The call's protocol parameters, or the `AuthError` its URL and headers alone earn
        (steps 1 and 2). Neither the store nor any client is consulted, so every key is told
        alike; the body is not needed, so the API asks this before reading it."""
        lowered, params = _signed_request(url, headers)
        signature_method = params.get("oauth_signature_method", "")
        if signature_method not in SIGNATURE_METHODS:
            raise _unauthenticated(BAD_METHOD)
        timestamp = self._timestamp_in_window(params.get("oauth_timestamp", ""))
        nonce = params.get("oauth_nonce", "")
        if not (0 < len(nonce) <= NONCE_MAX and nonce.isascii() and nonce.isprintable()):
            raise _unauthenticated(BAD_NONCE)
        return ProtocolParameters(
            consumer_key=params["oauth_consumer_key"],
            signature_method=signature_method,
            timestamp=timestamp,
            nonce=nonce,
            body_hash=params.get("oauth_body_hash"),
            content_type=lowered.get("content-type", ""),
            authorization=lowered.get("authorization", ""),
        )

    def _verify(
        self, method: str, url: str, signed: ProtocolParameters, body: bytes, client_ip: str
    ) -> ClientRecord:
        """The client whose signature the call carries (steps 3 to 5)."""
        # the window again, now that the body is in: a body held back past it would take its
        # nonce to the store after the housekeeping forgot that nonce, a replay let through
        if not self._in_window(signed.timestamp):
            raise _unauthenticated(STALE)
        record = self._client(signed.consumer_key)
        client = record if record is not None and not record.disabled else None
        # judged at each call, not when the record was cached: an overlap ends on time
        previous = client.previous_secret_at(self._clock()) if client is not None else None
        if not signed.form:
            _check_body_hash(signed.body_hash, body, signed.signature_method)
        elif len(body) > SIGNED_TEXT_MAX:  # its fields parsed, on the event loop, for nothing
            raise _unauthenticated(FORM_TOO_LONG)

        signed_headers = {"Content-Type": signed.content_type}
        if signed.authorization:  # else signed in the query, which oauthlib reads
            signed_headers["Authorization"] = signed.authorization
        endpoint = _Endpoint(_Validator(client, previous, self._dummy_secret))
        try:
            valid, _ = endpoint.validate_request(
                url,
                method.upper(),
                body=body.decode("utf-8", errors="replace") if signed.form else "",
                headers=signed_headers,
            )
        except ValueError:  # a URL or parameter oauthlib cannot read
            valid = False
        if not valid or client is None:
            raise _unauthenticated(BAD_SIGNATURE)
        if not _allowed(client, client_ip):
            raise AuthError(403, PERMISSION_DENIED, FOREIGN_ADDRESS)
        return client

    def _cached(self, key: str) -> bool:
        now = self._clock().timestamp()
        client = self._clients.get(key)
        return (client is not None and client[0] > now) or self._unknown_keys.get(key, 0) > now

    def _client(self, key: str) -> ClientRecord | None:
        now = self._clock().timestamp()
        cached = self._clients.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        if self._unknown_keys.get(key, 0) > now:
            return None
        try:
            record = self._store.find_client(key) if 0 < len(key) <= KEY_MAX else None
        except SecretKeyError:  # checked as the service starts; a client sealed since then
            log.exception("cannot open the secret of the client with key %s", key)
            raise unavailable(UNVERIFIABLE) from None
        if record is not None and record.notify_policy is not None:
            try:  # once per cached record: each call then reads it
                record = replace(record, policy=client_policy(record.notify_policy, self._policy))
            except PolicyFileError:  # validated when set; a release may since refuse it
                # never the service's policy instead: it may deliver where the client's said sms
                log.exception("cannot apply the notify policy of the client with key %s", key)
                raise unavailable(UNAPPLIABLE) from None
        if record is None:
            _bounded(self._unknown_keys, self._cache_size)[key] = now + self._cache_seconds
            self._clients.pop(key, None)  # a client removed since
        else:
            _bounded(self._clients, self._cache_size)[key] = (now + self._cache_seconds, record)
            self._unknown_keys.pop(key, None)  # a client added since
        return record

    def _timestamp_in_window(self, text: str) -> int:
        if not text:
            raise _unauthenticated(NO_TIMESTAMP)
        # a length bound first: int() refuses strings of thousands of digits with an error
        if not (0 < len(text) <= 12 and text.isascii() and text.isdigit()):
            raise _unauthenticated(STALE)
        timestamp = int(text)
        if not self._in_window(timestamp):
            raise _unauthenticated(STALE)
        return timestamp

    def _in_window(self, timestamp: int) -> bool:
        """Whether `timestamp` is within the skew of the clock's now, either way."""
        return abs(timestamp - self._clock().timestamp()) <= self._skew


def _bounded(cache: dict[str, _Cached], size: int) -> dict[str, _Cached]:
    """`cache`, emptied first when it holds `size` entries: memory stays bounded whatever keys
    callers send, at the cost of looking up again the keys it held."""
    if len(cache) >= size:
        cache.clear()
    return cache


def build_authenticator(
    settings: Settings, engine: Engine, clock: Clock = utc_now, policy: Policy | None = None
) -> Authenticator:
    """The authenticator on the store, for a composition root (the API's lifespan).
    `policy`: the service's notify policy (by default DESIGN §7's with the settings' F)."""
    cipher = load_cipher(settings.secret_key_text(), settings.secret_key_file)
    return Authenticator(
        SqlClientStore(engine, cipher),
        clock=clock,
        timestamp_skew_seconds=settings.oauth_timestamp_skew_seconds,
        policy=policy or Policy(freshness=timedelta(days=settings.freshness_days)),
    )


def _signed_request(url: str, headers: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The headers by lower-case name, and the call's OAuth protocol parameters: those of its
    Authorization header, or else those of its query, never some of each."""
    # the first of a repeated header, as Starlette, and so the route, reads it: with the last,
    # a second Content-Type naming a form would exempt a JSON body the route reads from its hash
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        lowered.setdefault(name.lower(), value)
    authorization = lowered.get("authorization", "")
    query = urlsplit(url).query
    if max(len(authorization), len(query)) > SIGNED_TEXT_MAX:
        raise _unauthenticated(TOO_LONG)
    in_query = _query_params(query)
    if authorization and in_query:
        raise _unauthenticated(TWO_WAYS)
    if authorization:
        return lowered, _two_legged(_header_params(authorization), MALFORMED)
    if in_query:
        # the RFC allows none twice; a dict would keep one of its values unseen
        if len(dict(in_query)) != len(in_query):
            raise _unauthenticated(MALFORMED_QUERY)
        return lowered, _two_legged(dict(in_query), MALFORMED_QUERY)
    raise _unauthenticated(NOT_SIGNED)


def _query_params(query: str) -> list[tuple[str, str]]:
    """The `oauth_` parameters of a URL's query, read as oauthlib reads them to verify the
    signature (decoded, the protocol's values unescaped once more), so that the nonce, the
    timestamp and the body hash checked here are those the signature covers."""
    if not query:  # the checks' calls carry none: nothing to parse
        return []
    try:
        params = collect_parameters(uri_query=query, exclude_oauth_signature=False)
    except ValueError:  # not URL-encoded: oauthlib refuses to verify such a call at all
        return []
    # oauthlib's test for which parameters are the protocol's
    return [(name, value) for name, value in params if name.startswith("oauth_")]


def _header_params(authorization: str) -> dict[str, str]:
    try:
        return {name: unescape(value) for name, value in parse_authorization_header(authorization)}
    except ValueError as error:
        raise _unauthenticated(MALFORMED) from error


def _two_legged(params: dict[str, str], malformed: str) -> dict[str, str]:
    """`params` if they are a two-legged call's; `malformed` names where they came from."""
    required = ("oauth_consumer_key", "oauth_signature", "oauth_signature_method")
    if not all(params.get(name) for name in required):
        raise _unauthenticated(malformed)
    key = params["oauth_consumer_key"]
    # the store's text columns take no NUL (PostgreSQL refuses it) and keys are ASCII; a key
    # no client can have is refused here, so that it is neither looked up nor cached
    if not (len(key) <= KEY_MAX and key.isascii() and key.isprintable()):
        raise _unauthenticated(BAD_KEY)
    if params.get("oauth_token"):  # an empty one is how some two-legged clients send none
        raise _unauthenticated(TOKEN_GIVEN)
    return params


def _allowed(client: ClientRecord, client_ip: str) -> bool:
    try:
        address: Address = ip_address(client_ip)
    except ValueError:
        return False
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return client.allows(address)


def _check_body_hash(given: str | None, body: bytes, signature_method: str) -> None:
    if given is None:
        if body:
            raise _unauthenticated(NO_BODY_HASH)
        return
    try:
        digest = base64.b64decode(given, validate=True)
    except (binascii.Error, ValueError) as error:
        raise _unauthenticated(BODY_MISMATCH) from error
    algorithm = _HASH_BY_SIZE.get(len(digest))
    if algorithm not in BODY_HASHES[signature_method] or not hmac.compare_digest(
        digest, hashlib.new(algorithm, body).digest()
    ):
        raise _unauthenticated(BODY_MISMATCH)
