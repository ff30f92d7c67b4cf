"""The authenticator on its own, with a recording store and a clock the test moves."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from ipaddress import ip_network
from typing import Any

import pytest
from oauthlib.oauth1 import SIGNATURE_TYPE_QUERY, Client
from starlette.datastructures import Headers

from api import auth
from api.auth import AuthenticatedClient, Authenticator, AuthError
from api.errors import ApiError
from ownership.client_policy import client_policy
from ownership.policy import Action, Policy, PolicyRow
from store.clients import ClientRecord
from store.secrets import SecretKeyError

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
URL = "https://api.example.ru/v1/check?x=1"
BODY = b'{"phone": "+79234567823"}'
OFFICE_IP = "203.0.113.7"
BANK = ClientRecord(
    name="bank",
    key="BankKey00000000000000000",
    secret="bank-secret-" + "x" * 31,
    networks=(ip_network("203.0.113.0/24"),),
    disabled=False,
)
CLOSED_BANK = ClientRecord("closed", "ClosedKey000000000000000", "s" * 43, BANK.networks, True)


@dataclass
class RecordingStore:
    """The store port in memory, recording what the authenticator asks of it."""

    clients: dict[str, ClientRecord]
    lookups: list[str] = field(default_factory=list)
    nonces: set[tuple[str, str, int]] = field(default_factory=set)

    def find_client(self, key: str) -> ClientRecord | None:
        self.lookups.append(key)
        return self.clients.get(key)

    def remember_nonce(self, key: str, nonce: str, timestamp: int) -> bool:
        if (key, nonce, timestamp) in self.nonces:
            return False
        self.nonces.add((key, nonce, timestamp))
        return True

    async def remember_nonce_async(self, key: str, nonce: str, timestamp: int) -> bool:
        return self.remember_nonce(key, nonce, timestamp)


class OnTheEventLoop(Authenticator):
    """The authenticator as the API calls it: `authenticate_async`, on an event loop."""

    def authenticate(self, *args: Any) -> AuthenticatedClient:
        return asyncio.run(self.authenticate_async(*args))


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


class Sha256BodyHashClient(Client):
    """Signs like oauthlib, but hashes the body with SHA-256 (oauthlib always uses SHA-1)."""

    def get_oauth_params(self, request: Any) -> list[tuple[str, str]]:
        params: list[tuple[str, str]] = super().get_oauth_params(request)  # type: ignore[no-untyped-call]
        digest = base64.b64encode(hashlib.sha256(request.body.encode()).digest()).decode()
        return [(k, digest if k == "oauth_body_hash" else v) for k, v in params]


def signed_headers(
    record: ClientRecord = BANK,
    *,
    method: str = "HMAC-SHA256",
    at: datetime = NOW,
    nonce: str | None = None,
    client_class: type[Client] = Client,
) -> dict[str, str]:
    client = client_class(
        record.key,
        client_secret=record.secret,
        signature_method=method,
        timestamp=str(int(at.timestamp())),
        nonce=nonce or uuid.uuid4().hex,
    )
    _, headers, _ = client.sign(URL, "POST", BODY.decode(), {"Content-Type": "application/json"})
    return dict(headers)


@pytest.fixture
def store() -> RecordingStore:
    return RecordingStore({BANK.key: BANK, CLOSED_BANK.key: CLOSED_BANK})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=[Authenticator, OnTheEventLoop], ids=["in_a_thread", "on_the_event_loop"])
def authenticator(
    request: pytest.FixtureRequest, store: RecordingStore, clock: Clock
) -> Authenticator:
    """Every case holds both ways a call is authenticated."""
    kind: type[Authenticator] = request.param
    return kind(store, clock=clock, timestamp_skew_seconds=300, cache_seconds=30)


def call(authenticator: Authenticator, headers: dict[str, str], ip: str = OFFICE_IP) -> Any:
    return authenticator.authenticate("POST", URL, headers, BODY, ip)


def refusal(
    authenticator: Authenticator, headers: dict[str, str], ip: str = OFFICE_IP
) -> AuthError:
    with pytest.raises(AuthError) as caught:
        call(authenticator, headers, ip)
    return caught.value


def test_a_signed_call_names_its_client_and_spends_its_nonce(
    authenticator: Authenticator, store: RecordingStore
) -> None:
    assert call(authenticator, signed_headers(nonce="n" * 64)) == AuthenticatedClient(
        "bank", BANK.key
    )
    assert store.nonces == {(BANK.key, "n" * 64, int(NOW.timestamp()))}


@pytest.mark.parametrize(
    ("skew", "accepted"), [(299, True), (301, False), (-299, True), (-301, False)]
)
def test_the_timestamp_window_holds_both_ways(
    authenticator: Authenticator, skew: int, accepted: bool
) -> None:
    headers = signed_headers(at=NOW + timedelta(seconds=skew))

    if accepted:
        call(authenticator, headers)
    else:
        assert refusal(authenticator, headers).message == auth.STALE


def test_a_body_that_arrives_past_the_window_is_stale_though_its_headers_were_in_time(
    store: RecordingStore, clock: Clock
) -> None:
    # nonces are kept a while past the window only: a spent call's body held back until its
    # nonce is forgotten would otherwise be a replay let through
    authenticator = Authenticator(store, clock=clock, timestamp_skew_seconds=300)
    headers = signed_headers()
    signed = authenticator.protocol_parameters(URL, headers)  # the headers, in time

    clock.now = NOW + timedelta(seconds=301)  # the body, later
    with pytest.raises(AuthError) as caught:
        asyncio.run(
            authenticator.authenticate_async("POST", URL, headers, BODY, OFFICE_IP, signed=signed)
        )

    assert caught.value.message == auth.STALE
    assert store.nonces == set()


@pytest.mark.parametrize("stamp", ["soon", "1e9", "9" * 3_000])
def test_a_timestamp_that_is_no_number_of_seconds_is_refused(
    authenticator: Authenticator, stamp: str
) -> None:
    authorization = signed_headers()["Authorization"]
    headers = {"Authorization": authorization.replace(str(int(NOW.timestamp())), stamp)}

    assert refusal(authenticator, headers).message == auth.STALE


def test_a_call_without_a_timestamp_is_told_so(authenticator: Authenticator) -> None:
    authorization = signed_headers()["Authorization"]
    stamp = f'oauth_timestamp="{int(NOW.timestamp())}", '
    assert stamp in authorization

    error = refusal(authenticator, {"Authorization": authorization.replace(stamp, "")})

    assert error.message == auth.NO_TIMESTAMP


def test_a_client_is_looked_up_once_while_cached(
    authenticator: Authenticator, store: RecordingStore, clock: Clock
) -> None:
    call(authenticator, signed_headers())
    call(authenticator, signed_headers())
    assert store.lookups == [BANK.key]

    clock.now += timedelta(seconds=31)
    call(authenticator, signed_headers(at=clock.now))
    assert store.lookups == [BANK.key, BANK.key]


def test_callers_cycling_made_up_keys_do_not_push_a_client_out_of_the_cache(
    store: RecordingStore, clock: Clock
) -> None:
    authenticator = Authenticator(store, clock=clock, cache_seconds=30, cache_size=3)
    call(authenticator, signed_headers())

    made_up = [f"MadeUpKey{index:015d}" for index in range(7)]
    for key in made_up:
        stranger = ClientRecord("x", key, BANK.secret, BANK.networks, False)
        assert refusal(authenticator, signed_headers(stranger)).message == auth.BAD_SIGNATURE
    call(authenticator, signed_headers())

    assert store.lookups == [BANK.key, *made_up]  # the client read once, while cached


def test_an_unknown_key_is_verified_against_a_dummy_secret_and_cached(
    authenticator: Authenticator, store: RecordingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    stranger = ClientRecord("x", "UnknownKey00000000000000", BANK.secret, BANK.networks, False)
    secrets_asked: list[str] = []
    original = auth._Validator.get_client_secret

    def spy(validator: auth._Validator, client_key: str, request: Any) -> str:
        secret: str = original(validator, client_key, request)
        secrets_asked.append(secret)
        return secret

    monkeypatch.setattr(auth._Validator, "get_client_secret", spy)

    for _ in range(2):
        assert refusal(authenticator, signed_headers(stranger)).message == auth.BAD_SIGNATURE
    call(authenticator, signed_headers())

    assert store.lookups == [stranger.key, BANK.key]
    assert len(secrets_asked) == 3 and secrets_asked[2] == BANK.secret
    assert secrets_asked[0] == secrets_asked[1] != BANK.secret
    assert len(secrets_asked[0]) == len(BANK.secret)
    assert store.nonces == {next(iter(store.nonces))}  # only the good call spent one


def test_a_disabled_client_is_unauthenticated_wherever_it_calls_from(
    authenticator: Authenticator,
) -> None:
    for ip in (OFFICE_IP, "198.51.100.1"):
        error = refusal(authenticator, signed_headers(CLOSED_BANK), ip)
        assert (error.status, error.message) == (401, auth.BAD_SIGNATURE)


def test_a_known_key_from_elsewhere_is_told_what_an_unknown_key_is_unless_signed(
    authenticator: Authenticator, store: RecordingStore
) -> None:
    stranger = ClientRecord("x", "UnknownKey00000000000000", BANK.secret, BANK.networks, False)
    forged = ClientRecord("bank", BANK.key, "guessed", BANK.networks, False)
    elsewhere = "198.51.100.1"

    for headers in (signed_headers(forged), signed_headers(stranger)):
        error = refusal(authenticator, headers, elsewhere)
        assert (error.status, error.message) == (401, auth.BAD_SIGNATURE)
    error = refusal(authenticator, signed_headers(), elsewhere)

    assert (error.status, error.code, error.message) == (
        403,
        "PERMISSION_DENIED",
        auth.FOREIGN_ADDRESS,
    )
    assert not store.nonces


def test_an_ipv4_caller_seen_through_ipv6_is_on_the_allow_list(
    authenticator: Authenticator,
) -> None:
    assert call(authenticator, signed_headers(), ip="::ffff:203.0.113.7").name == "bank"


def test_a_failed_signature_spends_no_nonce(
    authenticator: Authenticator, store: RecordingStore
) -> None:
    forged = ClientRecord("bank", BANK.key, "wrong", BANK.networks, False)

    assert refusal(authenticator, signed_headers(forged)).message == auth.BAD_SIGNATURE
    assert not store.nonces


def test_hmac_sha256_takes_a_sha256_body_hash_and_hmac_sha1_does_not(
    authenticator: Authenticator,
) -> None:
    assert call(authenticator, signed_headers(client_class=Sha256BodyHashClient)).name == "bank"

    headers = signed_headers(method="HMAC-SHA1", client_class=Sha256BodyHashClient)
    assert refusal(authenticator, headers).message == auth.BODY_MISMATCH


@pytest.mark.parametrize(
    "authorization",
    ["Basic YmFuazpzZWNyZXQ=", "OAuth garbage", 'OAuth oauth_consumer_key="k"'],
)
def test_a_malformed_header_is_unauthenticated(
    authenticator: Authenticator, authorization: str
) -> None:
    error = refusal(authenticator, {"Authorization": authorization})

    assert (error.status, error.code, error.message) == (401, "UNAUTHENTICATED", auth.MALFORMED)


def test_a_json_body_whose_type_names_a_form_in_a_parameter_is_held_to_its_hash(
    authenticator: Authenticator, store: RecordingStore
) -> None:
    """The route reads such a body as JSON: were it taken for a form, the signature would
    cover none of it, and a body swapped on the way would be answered."""
    headers = signed_headers() | {
        "Content-Type": "application/json; profile=application/x-www-form-urlencoded"
    }
    swapped = b'{"phone": "+79991234567"}'

    with pytest.raises(AuthError) as caught:
        authenticator.authenticate("POST", URL, headers, swapped, OFFICE_IP)

    assert caught.value.message == auth.BODY_MISMATCH
    assert not store.nonces


def test_a_call_carrying_an_access_token_is_refused_as_not_two_legged(
    authenticator: Authenticator,
) -> None:
    client = Client(
        BANK.key,
        client_secret=BANK.secret,
        resource_owner_key="token",
        resource_owner_secret="token-secret",
        signature_method="HMAC-SHA256",
        timestamp=str(int(NOW.timestamp())),
    )
    _, headers, _ = client.sign(URL, "POST", BODY.decode(), {"Content-Type": "application/json"})

    error = refusal(authenticator, dict(headers))

    assert (error.status, error.message) == (401, auth.TOKEN_GIVEN)


@pytest.mark.parametrize("key", ["Bank%00Key", "Bank%0AKey", "%D0%91ank"])
def test_a_consumer_key_that_is_not_printable_ascii_is_refused_unlooked_up(
    authenticator: Authenticator, store: RecordingStore, key: str
) -> None:
    authorization = signed_headers()["Authorization"].replace(BANK.key, key)

    error = refusal(authenticator, {"Authorization": authorization})

    assert (error.status, error.message) == (401, auth.BAD_KEY)
    assert store.lookups == []


def test_a_consumer_key_longer_than_any_clients_is_refused_neither_looked_up_nor_remembered(
    authenticator: Authenticator, store: RecordingStore
) -> None:
    # unsigned callers could otherwise fill each worker's cache of keys with megabytes apiece
    for length in (auth.KEY_MAX + 1, 3000):
        authorization = signed_headers()["Authorization"].replace(BANK.key, "K" * length)

        error = refusal(authenticator, {"Authorization": authorization})

        assert (error.status, error.message) == (401, auth.BAD_KEY)
    assert store.lookups == []
    assert not authenticator._cached("K" * 3000)


def test_a_header_or_query_longer_than_any_signature_is_refused_before_it_is_parsed(
    authenticator: Authenticator,
) -> None:
    padded = signed_headers()["Authorization"] + ", realm=" + '"' + "x" * auth.SIGNED_TEXT_MAX + '"'
    long_query = f"{URL}?oauth_consumer_key={'K' * auth.SIGNED_TEXT_MAX}"

    with pytest.raises(AuthError) as in_header:
        authenticator.protocol_parameters(URL, {"Authorization": padded})
    with pytest.raises(AuthError) as in_query:
        authenticator.protocol_parameters(long_query, {})

    for caught in (in_header, in_query):
        assert (caught.value.status, caught.value.message) == (401, auth.TOO_LONG)


def test_a_form_body_longer_than_any_signature_is_refused_before_its_fields_are_parsed(
    authenticator: Authenticator,
) -> None:
    # oauthlib reads a form's fields into the signature, on the event loop: a megabyte, seconds
    headers = signed_headers() | {"Content-Type": auth.FORM}
    body = b"a=b&" * (auth.SIGNED_TEXT_MAX // 4 + 1)

    with pytest.raises(AuthError) as caught:
        authenticator.authenticate("POST", URL, headers, body, OFFICE_IP)

    assert (caught.value.status, caught.value.message) == (401, auth.FORM_TOO_LONG)


def test_a_client_whose_secret_cannot_be_opened_is_unavailable_not_a_crash(
    clock: Clock,
) -> None:
    class SealedUnderAnotherKey(RecordingStore):
        def find_client(self, key: str) -> ClientRecord | None:
            raise SecretKeyError("the secret key does not open a stored secret")

    authenticator = Authenticator(SealedUnderAnotherKey({}), clock=clock)

    with pytest.raises(ApiError) as caught:
        call(authenticator, signed_headers())

    assert (caught.value.status, caught.value.code) == (503, "UNAVAILABLE")


def test_a_second_content_type_naming_a_form_does_not_exempt_a_json_body(
    authenticator: Authenticator, store: RecordingStore
) -> None:
    """The route reads the first Content-Type, JSON: so does the check of its hash."""
    headers = Headers(
        raw=[
            (b"authorization", signed_headers()["Authorization"].encode()),
            (b"content-type", b"application/json"),
            (b"content-type", b"application/x-www-form-urlencoded"),
        ]
    )

    with pytest.raises(AuthError) as caught:
        authenticator.authenticate("POST", URL, headers, b'{"phone": "+79991234567"}', OFFICE_IP)

    assert caught.value.message == auth.BODY_MISMATCH
    assert not store.nonces


def signed_in_the_query(record: ClientRecord = BANK) -> str:
    """The URL oauthlib signs in its query (RFC 5849 §3.5.3), beside the query's own `x=1`."""
    client = Client(
        record.key,
        client_secret=record.secret,
        signature_method="HMAC-SHA256",
        signature_type=SIGNATURE_TYPE_QUERY,
        timestamp=str(int(NOW.timestamp())),
    )
    signed: tuple[str, Any, Any] = client.sign(
        URL, "POST", BODY.decode(), {"Content-Type": "application/json"}
    )
    return signed[0]


def test_a_call_signed_in_the_query_names_its_client_and_spends_its_nonce(
    authenticator: Authenticator, store: RecordingStore
) -> None:
    url = signed_in_the_query()
    headers = {"Content-Type": "application/json"}

    assert authenticator.authenticate("POST", url, headers, BODY, OFFICE_IP).name == "bank"
    assert [key for key, _, _ in store.nonces] == [BANK.key]


def test_a_protocol_parameter_given_twice_in_the_query_is_refused_unlooked_up(
    authenticator: Authenticator, store: RecordingStore
) -> None:
    url = signed_in_the_query() + "&oauth_nonce=another"

    with pytest.raises(AuthError) as caught:
        authenticator.authenticate("POST", url, {}, BODY, OFFICE_IP)

    assert (caught.value.status, caught.value.message) == (401, auth.MALFORMED_QUERY)
    assert store.lookups == []


def test_a_header_signed_call_with_a_protocol_parameter_in_its_query_is_refused_unlooked_up(
    authenticator: Authenticator, store: RecordingStore
) -> None:
    with pytest.raises(AuthError) as caught:
        authenticator.authenticate(
            "POST", URL + "&oauth_callback=oob", signed_headers(), BODY, OFFICE_IP
        )

    assert (caught.value.status, caught.value.message) == (401, auth.TWO_WAYS)
    assert store.lookups == []


@pytest.mark.parametrize("record", [BANK, CLOSED_BANK], ids=["known", "disabled"])
@pytest.mark.parametrize(
    ("signing", "told"),
    [
        ({"at": NOW - timedelta(seconds=301)}, auth.STALE),
        ({"method": "HMAC-SHA512"}, auth.BAD_METHOD),
        ({"nonce": "n" * 65}, auth.BAD_NONCE),
    ],
    ids=["stale", "method", "nonce"],
)
def test_what_the_url_and_headers_refuse_is_refused_alike_for_every_key_unlooked_up(
    authenticator: Authenticator,
    store: RecordingStore,
    record: ClientRecord,
    signing: dict[str, Any],
    told: str,
) -> None:
    headers = signed_headers(record, **signing)

    with pytest.raises(AuthError) as caught:
        authenticator.protocol_parameters(URL, headers)

    assert (caught.value.status, caught.value.message) == (401, told)
    assert refusal(authenticator, headers).message == told
    assert store.lookups == []


def test_the_parameters_read_before_the_body_are_not_read_again(
    store: RecordingStore, clock: Clock
) -> None:
    authenticator = Authenticator(store, clock=clock)
    signed = authenticator.protocol_parameters(URL, signed_headers(nonce="before-the-body"))
    assert store.lookups == []

    # the headers are not looked at again: the parameters taken from them stand
    client = asyncio.run(
        authenticator.authenticate_async("POST", URL, {}, BODY, OFFICE_IP, signed=signed)
    )

    assert client == AuthenticatedClient("bank", BANK.key)
    assert store.nonces == {(BANK.key, "before-the-body", int(NOW.timestamp()))}


# ---- a rotated secret's overlap ----------------------------------------------------------

ROTATED_UNTIL = NOW + timedelta(hours=1)
NEW_SECRET = "new-bank-secret-" + "y" * 27
ROTATING_BANK = replace(
    BANK, secret=NEW_SECRET, previous_secret=BANK.secret, previous_secret_until=ROTATED_UNTIL
)
ROTATING_SHOP = replace(ROTATING_BANK, name="shop", key="ShopKey00000000000000000")


@pytest.fixture
def rotating(store: RecordingStore) -> RecordingStore:
    store.clients[BANK.key] = ROTATING_BANK
    return store


def test_during_the_overlap_the_new_and_the_old_secret_are_both_taken(
    authenticator: Authenticator, rotating: RecordingStore
) -> None:
    assert call(authenticator, signed_headers(ROTATING_BANK)).name == "bank"
    assert call(authenticator, signed_headers(BANK)).name == "bank"


def test_the_old_secret_is_refused_from_the_overlaps_end_though_the_record_is_cached(
    authenticator: Authenticator, rotating: RecordingStore, clock: Clock
) -> None:
    clock.now = ROTATED_UNTIL - timedelta(seconds=1)
    call(authenticator, signed_headers(BANK, at=clock.now))
    clock.now = ROTATED_UNTIL

    error = refusal(authenticator, signed_headers(BANK, at=clock.now))

    assert (error.status, error.message) == (401, auth.BAD_SIGNATURE)
    assert rotating.lookups == [BANK.key]  # the record read before the end, and still cached
    assert call(authenticator, signed_headers(ROTATING_BANK, at=clock.now)).name == "bank"


def test_a_nonce_spent_with_one_secret_is_spent_for_the_other(
    authenticator: Authenticator, rotating: RecordingStore
) -> None:
    call(authenticator, signed_headers(BANK, nonce="shared"))

    error = refusal(authenticator, signed_headers(ROTATING_BANK, nonce="shared"))

    assert error.message == auth.NONCE_REUSED


def test_the_dummy_secret_in_the_previous_ones_place_verifies_no_call(
    authenticator: Authenticator,
) -> None:
    dummy = replace(BANK, secret=authenticator._dummy_secret)

    error = refusal(authenticator, signed_headers(dummy))

    assert (error.status, error.message) == (401, auth.BAD_SIGNATURE)


@pytest.mark.parametrize(
    "caller",
    [
        ClientRecord("x", "UnknownKey00000000000000", BANK.secret, BANK.networks, False),
        replace(BANK, secret="guessed"),
        replace(ROTATING_SHOP, secret="guessed"),
        CLOSED_BANK,
    ],
    ids=["unknown key", "known key", "rotating key", "disabled key"],
)
def test_every_refused_signature_costs_two_verifications_whoever_it_names(
    authenticator: Authenticator,
    store: RecordingStore,
    caller: ClientRecord,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # an unknown key must cost what a known one does, rotating or not: two HMACs each
    store.clients[ROTATING_SHOP.key] = ROTATING_SHOP
    signed_with: list[str] = []
    original = auth._SIGNERS["HMAC-SHA256"]

    def counting(base_string: str, secrets: Any) -> str:
        signed_with.append(secrets.client_secret)
        return original(base_string, secrets)

    monkeypatch.setitem(auth._SIGNERS, "HMAC-SHA256", counting)

    assert refusal(authenticator, signed_headers(caller)).message == auth.BAD_SIGNATURE
    assert len(signed_with) == 2


# ---- a client's own notify policy ----------------------------------------------------------

SERVICE_POLICY = Policy(freshness=timedelta(days=30))
SUSPICIOUS_BY_SMS = {"rows": {"SUSPICIOUS": {"regular": "sms"}}}


def test_a_clients_own_policy_is_resolved_against_the_services_and_given_back_once_dropped(
    store: RecordingStore, clock: Clock
) -> None:
    authenticator = Authenticator(store, clock=clock, policy=SERVICE_POLICY)
    store.clients[BANK.key] = replace(BANK, notify_policy=SUSPICIOUS_BY_SMS)

    own = call(authenticator, signed_headers()).policy
    store.clients[BANK.key] = BANK  # `clients set-policy bank default`
    clock.now += timedelta(seconds=31)
    after = call(authenticator, signed_headers(at=clock.now)).policy

    assert own == client_policy(SUSPICIOUS_BY_SMS, SERVICE_POLICY)
    assert own is not None and own.actions[PolicyRow.SUSPICIOUS, False] is Action.SMS
    assert after is None


def test_a_stored_policy_this_release_refuses_makes_the_client_unavailable_not_the_default(
    authenticator: Authenticator, store: RecordingStore
) -> None:
    store.clients[BANK.key] = replace(
        BANK, notify_policy={"rows": {"OWNER_CHANGED": {"regular": "deliver"}}}
    )

    with pytest.raises(ApiError) as caught:
        call(authenticator, signed_headers())

    assert caught.value.status == 503 and caught.value.message == auth.UNAPPLIABLE
