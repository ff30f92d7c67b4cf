"""Clients and their nonces: registration, look-up with the secret opened, replay refusal."""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Insert,
    Table,
    delete,
    inspect,
    null,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from delivery.webhooks.endpoints import forget_waits
from delivery.webhooks.signing import generate_webhook_secret
from ownership.notifications import ACTION_AGE_DAYS_MAX
from ownership.policy import Policy
from store.group_commit import GroupWriter
from store.secrets import SecretCipher, SecretKeyError
from store.tables import Base, ClientRow, NonceRow
from store.tables_notifications import VerificationCodeRow
from store.tables_webhooks import WebhookEndpointWaitRow

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address

NONCES = Base.metadata.tables["nonces"]
IPV4_MAPPED = IPv6Network("::ffff:0:0/96")
KEY_ALPHABET = string.ascii_letters + string.digits
KEY_LENGTH = 24  # within oauthlib's default bounds for consumer keys (20-30, letters and digits)
NAME_MAX = 100
URL_MAX = 2_000
# how long a renewed webhook secret's predecessor also signs, by default and at most
WEBHOOK_SECRET_OVERLAP = timedelta(hours=24)
WEBHOOK_SECRET_OVERLAP_MAX = timedelta(days=30)


class ClientRegistrationError(ValueError):
    """A client cannot be registered or changed as asked; the message says why."""


@dataclass(frozen=True)
class IssuedCredentials:
    """What a new client is told once; the secret is never shown again."""

    key: str
    secret: str = field(repr=False)
    # `whsec_…`: what the client verifies our webhooks with (Standard Webhooks)
    webhook_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ClientRecord:
    """A client as the authenticator needs it: its secret opened, its networks parsed."""

    name: str
    key: str
    secret: str = field(repr=False)
    networks: tuple[Network, ...]
    disabled: bool
    # how old a user action its notifications may answer; None: the service's default
    max_action_age: timedelta | None = None
    # the secret a rotation replaced, opened, and until when it also verifies the client's
    # calls; None when there is none, or its overlap was over when the record was read
    previous_secret: str | None = field(default=None, repr=False)
    previous_secret_until: datetime | None = None
    # its own notify policy's document as stored (ownership.client_policy), None: the
    # service's; and that policy as the authenticator resolves it against the service's
    notify_policy: Mapping[str, Any] | None = None
    policy: Policy | None = None

    def previous_secret_at(self, moment: datetime) -> str | None:
        """The previous secret if it still verifies at `moment`, else None."""
        until = self.previous_secret_until
        return self.previous_secret if until is not None and moment < until else None

    def allows(self, address: Address) -> bool:
        return any(address in network for network in self.networks)


@dataclass(frozen=True)
class RenewedWebhookSecret:
    """A client's new webhook secret, shown once, and until when the one it replaced also
    signs (None: it stopped at once, or the client had none)."""

    secret: str = field(repr=False)
    previous_signs_until: datetime | None


@dataclass(frozen=True)
class ClientSummary:
    """A client as an operator lists it: no secret."""

    name: str
    key: str
    allowed_cidrs: tuple[str, ...]
    created_at: datetime
    disabled: bool
    webhook_url: str | None = None
    max_action_age_days: int | None = None
    # until when the consumer secret a rotation replaced still verifies its calls, if it does
    previous_secret_until: datetime | None = None
    own_policy: bool = False


def parse_action_age_days(days: int | None) -> int | None:
    """A client's allowance in days, 1 to `ACTION_AGE_DAYS_MAX`; None for the default."""
    if days is not None and not 1 <= days <= ACTION_AGE_DAYS_MAX:
        raise ClientRegistrationError(
            f"a client's user actions may be 1 to {ACTION_AGE_DAYS_MAX} days old, not {days}"
        )
    return days


def parse_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """CIDRs as networks; host bits set (10.0.0.1/8) are refused as the typo they usually are."""
    networks: list[Network] = []
    for cidr in cidrs:
        try:
            network = ip_network(cidr.strip(), strict=True)
        except ValueError as error:
            raise ClientRegistrationError(f"{cidr!r} is not a CIDR network: {error}") from error
        networks.append(_as_ipv4_if_mapped(network))
    if not networks:
        raise ClientRegistrationError("a client needs at least one allowed network")
    return tuple(networks)


def _as_ipv4_if_mapped(network: Network) -> Network:
    """`::ffff:203.0.113.0/120` as `203.0.113.0/24`: a caller's mapped address is checked as
    the IPv4 address it carries, so a mapped network would never match."""
    if isinstance(network, IPv6Network) and network.subnet_of(IPV4_MAPPED):
        return IPv4Network((int(network.network_address) & 0xFFFF_FFFF, network.prefixlen - 96))
    return network


def parse_webhook_url(url: str) -> str:
    """An absolute http(s) URL with a host and no credentials in it."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError as error:
        raise ClientRegistrationError(f"{url!r} is not a URL: {error}") from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ClientRegistrationError(f"{url!r} is not an absolute http(s) URL")
    if parts.username or parts.password:
        raise ClientRegistrationError("a webhook URL carries no credentials: we sign instead")
    if len(url) > URL_MAX:
        raise ClientRegistrationError(f"a webhook URL has at most {URL_MAX} characters")
    return url


def new_secret() -> str:
    """A new OAuth consumer secret: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def register_client(
    session: Session,
    name: str,
    cidrs: Iterable[str],
    cipher: SecretCipher,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    webhook_url: str | None = None,
    max_action_age_days: int | None = None,
) -> IssuedCredentials:
    """Add a client with a new key, secret and webhook secret; the caller commits."""
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise ClientRegistrationError(f"a client name has 1 to {NAME_MAX} characters")
    networks = parse_networks(cidrs)
    if webhook_url is not None:
        webhook_url = parse_webhook_url(webhook_url)
    max_action_age_days = parse_action_age_days(max_action_age_days)
    issued = IssuedCredentials(
        key="".join(secrets.choice(KEY_ALPHABET) for _ in range(KEY_LENGTH)),
        secret=new_secret(),
        webhook_secret=generate_webhook_secret(),
    )
    assert issued.webhook_secret is not None
    if session.scalar(select(ClientRow.id).where(ClientRow.name == name)) is not None:
        raise ClientRegistrationError(f"a client named {name!r} already exists")
    unopened = clients_sealed_otherwise(session, cipher, now)
    if unopened:
        # a client sealed under another key than the others' would stop the service that
        # opens theirs from starting
        raise SecretKeyError(
            f"the secret key does not open the secrets of {', '.join(map(repr, unopened))}: "
            "give the key they are sealed under (newest first) before adding a client"
        )
    session.add(
        ClientRow(
            name=name,
            consumer_key=issued.key,
            secret_encrypted=cipher.encrypt(issued.secret),
            webhook_secret_encrypted=cipher.encrypt(issued.webhook_secret),
            webhook_url=webhook_url,
            allowed_cidrs=[str(network) for network in networks],
            created_at=now(),
            disabled=False,
            max_action_age_days=max_action_age_days,
        )
    )
    try:
        session.flush()
    except IntegrityError as error:  # a concurrent registration took the name
        raise ClientRegistrationError(f"a client named {name!r} already exists") from error
    return issued


def find_client(
    session: Session,
    key: str,
    cipher: SecretCipher,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ClientRecord | None:
    """The client with consumer key `key`, its secrets opened. A previous secret whose overlap
    is over at `now` is left sealed: nothing verifies with it, and the key it is sealed under
    may be gone (`clients_sealed_otherwise` does not count it either)."""
    row = session.scalar(select(ClientRow).where(ClientRow.consumer_key == key))
    if row is None:
        return None
    previous = _still_signing(row.previous_secret_encrypted, row.previous_secret_until, now())
    return ClientRecord(
        name=row.name,
        key=row.consumer_key,
        secret=cipher.decrypt(row.secret_encrypted),
        # as registration keeps them now, also for a client registered before it did
        networks=tuple(_as_ipv4_if_mapped(ip_network(cidr)) for cidr in row.allowed_cidrs),
        disabled=row.disabled,
        max_action_age=(
            None if row.max_action_age_days is None else timedelta(days=row.max_action_age_days)
        ),
        previous_secret=cipher.decrypt(previous) if previous else None,
        previous_secret_until=row.previous_secret_until if previous else None,
        notify_policy=row.notify_policy,
    )


def clients_sealed_otherwise(
    session: Session,
    cipher: SecretCipher,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[str]:
    """The names of the clients whose secrets `cipher` cannot open: sealed under a key it
    lacks (the key changed, or was dropped before `reseal_secrets`). A previous webhook or
    consumer secret counts while it still signs or verifies; once its overlap is over, it is
    no longer used."""
    moment = now()
    # a store a release or two behind, not yet upgraded (the check runs before it is), lacks
    # the previous secrets' columns
    columns = {column["name"] for column in inspect(session.connection()).get_columns("clients")}
    no_hook = "previous_webhook_secret_until" not in columns
    no_secret = "previous_secret_until" not in columns
    rows = session.execute(
        select(
            ClientRow.name,
            ClientRow.secret_encrypted,
            ClientRow.webhook_secret_encrypted,
            null() if no_hook else ClientRow.previous_webhook_secret_encrypted,
            null() if no_hook else ClientRow.previous_webhook_secret_until,
            null() if no_secret else ClientRow.previous_secret_encrypted,
            null() if no_secret else ClientRow.previous_secret_until,
        )
    )
    return sorted(
        name
        for name, secret, hook, previous_hook, hook_until, previous, previous_until in rows
        if not all(
            cipher.opens(token)
            for token in (
                secret,
                hook,
                _still_signing(previous_hook, hook_until, moment),
                _still_signing(previous, previous_until, moment),
            )
            if token
        )
    )


def reseal_secrets(
    session: Session,
    cipher: SecretCipher,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Seal every client's secrets under the cipher's newest key, so that the older keys can
    be dropped; the caller commits. Returns how many clients were resealed. Changes nothing
    and raises SecretKeyError, naming them, if some client's secrets it cannot open. A
    previous webhook or consumer secret whose overlap is over is dropped, opened or not:
    nothing signs or verifies with it any more. Raises ClientRegistrationError if a renewal
    or a rotation changed a client's secrets while they were resealed (the caller's rollback
    undoes the rest)."""
    moment = now()
    unopened = clients_sealed_otherwise(session, cipher, lambda: moment)
    if unopened:
        raise SecretKeyError(
            f"the secret key does not open the secrets of {', '.join(map(repr, unopened))}: "
            "give every key they may be sealed under, newest first"
        )
    # held on PostgreSQL; on SQLite, each row is written only if no renewal changed it since
    read = select(ClientRow).with_for_update().execution_options(populate_existing=True)
    rows = list(session.scalars(read))
    for row in rows:
        webhook, previous = row.webhook_secret_encrypted, row.previous_webhook_secret_encrypted
        signing = _still_signing(previous, row.previous_webhook_secret_until, moment)
        replaced = row.previous_secret_encrypted
        verifying = _still_signing(replaced, row.previous_secret_until, moment)
        resealed = session.connection().execute(
            update(ClientRow)
            .where(
                ClientRow.consumer_key == row.consumer_key,
                _unchanged(ClientRow.secret_encrypted, row.secret_encrypted),
                _unchanged(ClientRow.webhook_secret_encrypted, webhook),
                _unchanged(ClientRow.previous_webhook_secret_encrypted, previous),
                _unchanged(ClientRow.previous_secret_encrypted, replaced),
            )
            .values(
                secret_encrypted=cipher.rotate(row.secret_encrypted),
                webhook_secret_encrypted=cipher.rotate(webhook) if webhook else None,
                previous_webhook_secret_encrypted=cipher.rotate(signing) if signing else None,
                previous_webhook_secret_until=row.previous_webhook_secret_until
                if signing
                else None,
                previous_secret_encrypted=cipher.rotate(verifying) if verifying else None,
                previous_secret_until=row.previous_secret_until if verifying else None,
            )
        )
        if resealed.rowcount != 1:
            raise ClientRegistrationError(
                f"the secrets of {row.name!r} changed while they were resealed (a renewal "
                "meanwhile); nothing was resealed: run it again"
            )
    reseal_code_salts(session, cipher)
    return len(rows)


def reseal_code_salts(session: Session, cipher: SecretCipher) -> None:
    """The salts of re-verification codes still waiting for their result, sealed under the
    newest key too: a code drawn before the key changed is still entered after the old key is
    dropped. One the cipher cannot open, or that a new code replaced meanwhile, is left: its
    entry is then ignored (delivery.code_records), and the notification goes on by its TTL."""
    codes = cast(Table, VerificationCodeRow.__table__)
    waiting = session.execute(
        select(codes.c.notification_id, codes.c.salt).where(codes.c.result.is_(None))
    ).all()
    for notification_id, salt in waiting:
        if not cipher.opens(salt):
            continue
        session.connection().execute(
            update(codes)
            .where(codes.c.notification_id == notification_id, codes.c.salt == salt)
            .values(salt=cipher.rotate(salt))
        )


def _unchanged(column: InstrumentedAttribute[Any], read: str | None) -> ColumnElement[bool]:
    """The row still holds the value read: a compare-and-set's condition."""
    return column.is_(None) if read is None else column == read


def overlap_end(moment: datetime, overlap: timedelta) -> datetime:
    """When a replaced secret's overlap from `moment` ends: up to the next whole second, as it
    is shown, so never shorter than asked."""
    until = moment + overlap
    return until.replace(microsecond=0) + timedelta(seconds=1) if until.microsecond else until


def refuse_while_previous_holds(
    previous: str | None, until: datetime | None, which: str, doing: str
) -> None:
    """Raise ClientRegistrationError while a previous secret still holds (`previous`, as
    `_still_signing` gives it): a new one would stop it at once, and it is likely the one the
    client still uses. `which` names it, `doing` the act refused."""
    if previous is not None and until is not None:
        raise ClientRegistrationError(
            f"{which} until {until:%Y-%m-%dT%H:%M:%SZ}: {doing} again stops it at once; give "
            "--end-previous to do so (a secret that leaked)"
        )


def _still_signing(previous: str | None, until: datetime | None, moment: datetime) -> str | None:
    """A previous webhook or consumer secret's token while it still signs (or verifies) at
    `moment`, else None."""
    return previous if previous and until is not None and moment < until else None


def list_clients(
    session: Session, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> list[ClientSummary]:
    """Every client, by name in Python's order: a database's collation would order them
    otherwise on SQLite and PostgreSQL."""
    moment = now()
    rows = sorted(session.scalars(select(ClientRow)), key=lambda row: row.name)
    return [
        ClientSummary(
            row.name,
            row.consumer_key,
            tuple(row.allowed_cidrs),
            row.created_at,
            row.disabled,
            row.webhook_url,
            row.max_action_age_days,
            row.previous_secret_until
            if _still_signing(row.previous_secret_encrypted, row.previous_secret_until, moment)
            else None,
            row.notify_policy is not None,
        )
        for row in rows
    ]


def set_max_action_age(session: Session, name: str, days: int | None) -> None:
    """Allow the client named `name` user actions up to `days` old (None: the default); the
    caller commits. The API's workers see it once their cache of the client lapses (30 s)."""
    _client_named(session, name).max_action_age_days = parse_action_age_days(days)


def set_webhook_url(session: Session, name: str, url: str | None) -> bool:
    """Set (or, with None, clear) a client's default webhook URL; the caller commits.
    Returns whether the client has a webhook secret to sign with. The client's events not yet
    delivered that went to its previous URL follow to the new one when next sent
    (`delivery.webhooks.outbox.addressed_now`); a cleared URL leaves them where they were.
    Setting a URL forgets the waits recorded for the client's endpoints: the operator says
    where its webhooks go now (the same URL again, once it is fixed, or one that asked for a
    wait by mistake), and an endpoint still down is found so again at its next attempt. Events
    already put off keep their time."""
    row = _client_named(session, name)
    row.webhook_url = None if url is None else parse_webhook_url(url)
    if url is not None:
        forget_waits(session.connection(), WebhookEndpointWaitRow.client_key == row.consumer_key)
    return row.webhook_secret_encrypted is not None


def webhook_url_named(session: Session, name: str) -> str | None:
    """The default webhook URL of the client named `name`; None if it has none."""
    return _client_named(session, name).webhook_url


def renew_webhook_secret(
    session: Session,
    name: str,
    cipher: SecretCipher,
    *,
    overlap: timedelta = WEBHOOK_SECRET_OVERLAP,
    end_previous: bool = False,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RenewedWebhookSecret:
    """Give a client a new webhook secret; the caller commits. The one it replaces also signs
    for `overlap` after `now` (every delivery carries both signatures meanwhile), so the
    client can deploy the new one without failing a delivery; with no overlap it stops at
    commit. Only one previous secret is kept: during an overlap, a new renewal would stop the
    oldest (likely the one the client still verifies with) at once, so it is refused unless
    `end_previous`. Raises SecretKeyError if `cipher` does not open the client's secrets (a
    wrong key). Also how a client registered before webhooks existed gets its first one."""
    if not timedelta(0) <= overlap <= WEBHOOK_SECRET_OVERLAP_MAX:
        raise ClientRegistrationError(
            f"a webhook secret's overlap is from 0 to {WEBHOOK_SECRET_OVERLAP_MAX.days} days"
        )
    # no row lock: on PostgreSQL a second renewal at once would wait, read the first's secret
    # and renew it in turn, stopping the client's at once; the compare-and-set below refuses
    # it instead, on either database
    row = _client_named(session, name)
    moment = now()
    if not end_previous:
        refuse_while_previous_holds(
            _still_signing(
                row.previous_webhook_secret_encrypted, row.previous_webhook_secret_until, moment
            ),
            row.previous_webhook_secret_until,
            f"the webhook secret that {row.name!r} had before its last renewal still signs",
            "renewing",
        )
    if not all(
        cipher.opens(token)
        for token in (row.secret_encrypted, row.webhook_secret_encrypted)
        if token
    ):
        # a new secret sealed under it would be one that no process with the right key opens
        raise SecretKeyError(
            f"the secret key does not open the secrets of {row.name!r}: give the key they are "
            "sealed under"
        )
    replaced = row.webhook_secret_encrypted
    previous, until = None, None
    if overlap and replaced:
        previous = cipher.rotate(replaced)
        until = overlap_end(moment, overlap)
    secret = generate_webhook_secret()
    # set only if no other renewal came between the read and now: SQLite locks no row
    renewed = session.connection().execute(
        update(ClientRow)
        .where(
            ClientRow.consumer_key == row.consumer_key,
            _unchanged(ClientRow.webhook_secret_encrypted, replaced),
        )
        .values(
            webhook_secret_encrypted=cipher.encrypt(secret),
            previous_webhook_secret_encrypted=previous,
            previous_webhook_secret_until=until,
        )
    )
    if renewed.rowcount != 1:
        raise ClientRegistrationError(
            f"the webhook secret of {row.name!r} changed while it was renewed (another renewal "
            "or a reseal came first); renew again if another is still wanted"
        )
    return RenewedWebhookSecret(secret, until)


def client_names(session: Session, keys: Iterable[str]) -> dict[str, str]:
    """The names of the clients holding these keys, by key."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = session.execute(
        select(ClientRow.consumer_key, ClientRow.name).where(ClientRow.consumer_key.in_(wanted))
    )
    return {key: name for key, name in rows}


def client_webhook_url(session: Session, key: str) -> str | None:
    """Where a client's webhooks go by default; None if it named no URL (or is unknown)."""
    return session.scalar(select(ClientRow.webhook_url).where(ClientRow.consumer_key == key))


def _client_named(session: Session, name: str, *, for_update: bool = False) -> ClientRow:
    query = select(ClientRow).where(ClientRow.name == name.strip())
    if for_update:  # and read afresh, whatever this session read before
        query = query.with_for_update().execution_options(populate_existing=True)
    row = session.scalar(query)
    if row is None:
        raise ClientRegistrationError(f"no client is named {name!r}")
    return row


def _insert_nonces(dialect: str) -> Insert:
    if dialect == "postgresql":
        return postgresql.insert(NONCES).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(NONCES).on_conflict_do_nothing()
    raise NotImplementedError(f"the store runs on SQLite or PostgreSQL, not {dialect}")


def remember_nonces(connection: Connection, calls: list[tuple[str, str, int]]) -> list[bool]:
    """Record the nonces of many calls `(key, nonce, timestamp)` in one statement; for each,
    False when its client already used it with this timestamp (earlier, or earlier in `calls`).

    The insert skips a conflict instead of failing with an IntegrityError, so the caller's
    transaction stays usable: PostgreSQL aborts a transaction on an error, a savepoint around
    the insert would cost a round trip on every call, and pysqlite's savepoints are unreliable.
    Concurrent inserts of one nonce are settled by the primary key: exactly one gets True.
    """
    first = list(dict.fromkeys(calls))  # a repeat within the batch is refused below
    rows = [{"consumer_key": key, "nonce": nonce, "timestamp": ts} for key, nonce, ts in first]
    # rows come back only when inserted (rowcount is not reported reliably by every driver)
    statement = _insert_nonces(connection.dialect.name).returning(
        NONCES.c.consumer_key, NONCES.c.nonce, NONCES.c.timestamp
    )
    inserted = {tuple(row) for row in connection.execute(statement, rows)}
    outcomes = []
    for call in calls:
        outcomes.append(call in inserted)
        inserted.discard(call)  # the first caller with a nonce has it; the next is a replay
    return outcomes


def remember_nonce(executor: Session | Connection, key: str, nonce: str, timestamp: int) -> bool:
    """Record one nonce (`remember_nonces`) within the caller's transaction."""
    connection = executor.connection() if isinstance(executor, Session) else executor
    return remember_nonces(connection, [(key, nonce, timestamp)])[0]


def forget_nonces_before(session: Session, moment: datetime) -> int:
    """Delete nonces whose timestamp is before `moment`; the caller commits. Safe once `moment`
    is older than the timestamp window, since such a request is refused as stale anyway."""
    result = session.execute(delete(NonceRow).where(NonceRow.timestamp < int(moment.timestamp())))
    return int(result.rowcount)  # type: ignore[attr-defined]


class SqlClientStore:
    """The authenticator's store port on SQLAlchemy: one short transaction per call."""

    def __init__(self, engine: Engine, cipher: SecretCipher) -> None:
        self._engine = engine
        self._cipher = cipher
        self._nonces: GroupWriter[tuple[str, str, int], bool] = GroupWriter(
            self._remember_batch, name="nonce-writer", max_batch=512
        )

    def find_client(self, key: str) -> ClientRecord | None:
        with Session(self._engine) as session:
            return find_client(session, key, self._cipher)

    def remember_nonce(self, key: str, nonce: str, timestamp: int) -> bool:
        return self._nonces.write((key, nonce, timestamp))

    async def remember_nonce_async(self, key: str, nonce: str, timestamp: int) -> bool:
        """The same, awaited on the event loop: nonces of concurrent calls share a commit."""
        return await self._nonces.write_async((key, nonce, timestamp))

    def _remember_batch(self, calls: list[tuple[str, str, int]]) -> list[bool]:
        # on a bare connection: an ORM session would cost as much again as the insert
        with self._engine.begin() as connection:
            return remember_nonces(connection, calls)
