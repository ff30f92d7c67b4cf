"""Clients and nonces in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from ipaddress import ip_address, ip_network

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from store.clients import (
    ClientRegistrationError,
    IssuedCredentials,
    SqlClientStore,
    client_webhook_url,
    clients_sealed_otherwise,
    find_client,
    forget_nonces_before,
    list_clients,
    register_client,
    remember_nonce,
    remember_nonces,
    renew_webhook_secret,
    reseal_secrets,
    set_webhook_url,
)
from store.secrets import SecretCipher, SecretKeyError
from store.tables import ClientRow

BANK_OFFICE = "203.0.113.0/24"
BANK_V6 = "2001:db8::/32"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
NOW_S = int(NOW.timestamp())


def register_bank(
    sessions: sessionmaker[Session], cipher: SecretCipher, name: str = "bank"
) -> IssuedCredentials:
    with sessions.begin() as session:
        return register_client(session, name, [BANK_OFFICE, BANK_V6], cipher, now=lambda: NOW)


def test_a_registered_client_is_found_with_its_secret_and_networks(
    sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    issued = register_bank(sessions, cipher)

    with sessions() as session:
        record = find_client(session, issued.key, cipher)

    assert record is not None
    assert (record.name, record.key, record.secret) == ("bank", issued.key, issued.secret)
    assert record.networks == (ip_network(BANK_OFFICE), ip_network(BANK_V6))
    assert not record.disabled
    assert record.allows(ip_address("203.0.113.7"))
    assert record.allows(ip_address("2001:db8::1"))
    assert not record.allows(ip_address("198.51.100.7"))
    assert issued.secret not in repr(record) and issued.secret not in repr(issued)


def test_an_unknown_key_finds_nothing(
    sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    register_bank(sessions, cipher)

    with sessions() as session:
        assert find_client(session, "NoSuchKey0000000000000000", cipher) is None


def test_keys_and_secrets_are_new_for_every_client(
    sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    first, second = register_bank(sessions, cipher, "bank"), register_bank(sessions, cipher, "shop")

    assert first.key != second.key and first.secret != second.secret
    assert len(first.key) == 24 and first.key.isalnum()


def test_the_database_alone_does_not_reveal_a_secret(
    sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    issued = register_bank(sessions, cipher)

    with sessions() as session:
        stored = session.execute(text("select * from clients")).one()
    assert all(issued.secret not in str(value) for value in stored)
    with sessions() as session:
        other_key = SecretCipher(["Tr2wmVOqb5vZ0x6jQk5a3Tm4W3m1pW3hCk2S6q7sV0E="])
        with pytest.raises(SecretKeyError, match="does not open a stored secret"):
            find_client(session, issued.key, other_key)


def test_a_name_is_taken_once(sessions: sessionmaker[Session], cipher: SecretCipher) -> None:
    register_bank(sessions, cipher)

    with pytest.raises(ClientRegistrationError, match="already exists"):
        register_bank(sessions, cipher)


@pytest.mark.parametrize(
    ("cidrs", "complaint"),
    [
        (["10.0.0.1/8"], "host bits set"),
        (["bank.example"], "not a CIDR"),
        ([], "at least one"),
    ],
)
def test_networks_must_be_cidrs(
    sessions: sessionmaker[Session], cipher: SecretCipher, cidrs: list[str], complaint: str
) -> None:
    with sessions.begin() as session, pytest.raises(ClientRegistrationError, match=complaint):
        register_client(session, "bank", cidrs, cipher)


def test_clients_are_listed_without_secrets(
    sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    register_bank(sessions, cipher, "shop")
    register_bank(sessions, cipher, "bank")

    with sessions() as session:
        listed = list_clients(session)

    assert [client.name for client in listed] == ["bank", "shop"]
    assert listed[0].allowed_cidrs == (BANK_OFFICE, BANK_V6)
    assert listed[0].created_at == NOW


def test_a_nonce_is_accepted_once(
    engine: Engine, sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    issued = register_bank(sessions, cipher)
    store = SqlClientStore(engine, cipher)

    assert store.remember_nonce(issued.key, "n0nce", NOW_S)
    assert not store.remember_nonce(issued.key, "n0nce", NOW_S)
    # the same nonce with another timestamp is another request
    assert store.remember_nonce(issued.key, "n0nce", NOW_S + 1)


def test_of_many_calls_with_one_nonce_at_once_exactly_one_is_accepted(
    engine: Engine, sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    issued = register_bank(sessions, cipher)
    store = SqlClientStore(engine, cipher)
    nonces = [f"n{index % 50}" for index in range(400)]  # each nonce sent eight times

    async def send_all() -> list[bool]:
        # another timestamp: the same nonces are new requests again
        calls = [store.remember_nonce_async(issued.key, nonce, NOW_S + 1) for nonce in nonces]
        return await asyncio.gather(*calls)

    with ThreadPoolExecutor(4) as threads:
        from_threads = list(
            threads.map(lambda n: store.remember_nonce(issued.key, n, NOW_S), nonces)
        )
    from_the_loop = asyncio.run(send_all())

    once_each = Counter(f"n{index}" for index in range(50))
    assert Counter(n for n, ok in zip(nonces, from_threads, strict=True) if ok) == once_each
    assert Counter(n for n, ok in zip(nonces, from_the_loop, strict=True) if ok) == once_each


def test_a_batch_accepts_the_first_of_its_repeats_only(
    engine: Engine, sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    issued = register_bank(sessions, cipher)
    calls = [(issued.key, "a", NOW_S), (issued.key, "b", NOW_S), (issued.key, "a", NOW_S)]

    with engine.begin() as connection:
        assert remember_nonces(connection, calls) == [True, True, False]
        assert remember_nonces(connection, calls[:1]) == [False]


def test_a_refused_nonce_leaves_the_transaction_usable(
    sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    issued = register_bank(sessions, cipher)

    with sessions.begin() as session:
        assert remember_nonce(session, issued.key, "n0nce", NOW_S)
        assert not remember_nonce(session, issued.key, "n0nce", NOW_S)
        assert remember_nonce(session, issued.key, "other", NOW_S)


def test_old_nonces_are_forgotten(
    engine: Engine, sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    issued = register_bank(sessions, cipher)
    store = SqlClientStore(engine, cipher)
    for age in (0, 299, 301, 3_600):
        store.remember_nonce(issued.key, f"n{age}", NOW_S - age)

    with sessions.begin() as session:
        assert forget_nonces_before(session, datetime.fromtimestamp(NOW_S - 300, UTC)) == 2

    assert not store.remember_nonce(issued.key, "n299", NOW_S - 299)
    assert store.remember_nonce(issued.key, "n301", NOW_S - 301)


def test_a_client_is_registered_with_a_sealed_webhook_secret_and_its_default_url(
    sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    with sessions.begin() as session:
        issued = register_client(
            session, "shop", [BANK_OFFICE], cipher, webhook_url=" https://shop.example/hooks "
        )

    with sessions() as session:
        row = session.scalar(select(ClientRow).where(ClientRow.name == "shop"))
        assert client_webhook_url(session, issued.key) == "https://shop.example/hooks"
        assert client_webhook_url(session, "UnknownKey") is None
    assert row is not None and row.webhook_secret_encrypted is not None
    assert issued.webhook_secret is not None and issued.webhook_secret.startswith("whsec_")
    assert issued.webhook_secret not in row.webhook_secret_encrypted
    assert cipher.decrypt(row.webhook_secret_encrypted) == issued.webhook_secret
    assert issued.webhook_secret not in repr(issued)


def test_a_webhook_url_can_be_changed_and_the_secret_renewed(
    sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    issued = register_bank(sessions, cipher)

    with sessions.begin() as session:
        assert set_webhook_url(session, "bank", "http://127.0.0.1:8080/hooks")
        renewed = renew_webhook_secret(session, "bank", cipher).secret
    with sessions.begin() as session:
        assert client_webhook_url(session, issued.key) == "http://127.0.0.1:8080/hooks"
        set_webhook_url(session, "bank", None)
    with sessions() as session:
        assert client_webhook_url(session, issued.key) is None
        row = session.scalar(select(ClientRow).where(ClientRow.name == "bank"))
    assert renewed != issued.webhook_secret
    assert row is not None and cipher.decrypt(row.webhook_secret_encrypted or "") == renewed


def test_a_network_written_ipv4_mapped_is_kept_as_the_ipv4_network_it_names(
    sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    with sessions.begin() as session:
        issued = register_client(session, "bank", ["::ffff:203.0.113.0/120"], cipher)

    with sessions() as session:
        record = find_client(session, issued.key, cipher)

    assert record is not None and record.networks == (ip_network(BANK_OFFICE),)
    assert record.allows(ip_address("203.0.113.5"))


def test_resealing_moves_every_secret_to_the_newest_key_so_the_old_can_go(
    sessions: sessionmaker[Session],
) -> None:
    old_key, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    issued = [register_bank(sessions, SecretCipher([old_key]), name) for name in ("bank", "shop")]
    both = SecretCipher([new, old_key])
    only_new = SecretCipher([new])

    with sessions() as session:
        assert clients_sealed_otherwise(session, only_new) == ["bank", "shop"]
    with sessions.begin() as session:
        assert reseal_secrets(session, both) == 2

    with sessions() as session:
        assert clients_sealed_otherwise(session, only_new) == []
        found = [find_client(session, credentials.key, only_new) for credentials in issued]
        hooks = session.scalars(select(ClientRow.webhook_secret_encrypted)).all()
    assert [record.secret for record in found if record] == [c.secret for c in issued]
    assert {only_new.decrypt(token) for token in hooks if token} == {
        c.webhook_secret for c in issued
    }


def test_resealing_with_a_key_that_opens_not_every_secret_changes_nothing(
    sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    register_bank(sessions, cipher)
    stranger = SecretCipher([Fernet.generate_key().decode()])
    with sessions() as session:
        before = session.scalars(select(ClientRow.secret_encrypted)).all()

    with sessions.begin() as session, pytest.raises(SecretKeyError, match="'bank'"):
        reseal_secrets(session, stranger)

    with sessions() as session:
        assert session.scalars(select(ClientRow.secret_encrypted)).all() == before


def test_a_client_registered_with_a_mapped_network_before_it_was_kept_as_ipv4_is_let_in(
    sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    issued = register_bank(sessions, cipher)
    with sessions.begin() as session:  # as registration stored it before
        row = session.scalars(select(ClientRow)).one()
        row.allowed_cidrs = ["::ffff:203.0.113.0/120"]

    with sessions() as session:
        record = find_client(session, issued.key, cipher)

    assert record is not None and record.allows(ip_address("203.0.113.5"))
