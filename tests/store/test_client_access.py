"""Revoking a client and rotating its consumer secret in the store, on SQLite and PostgreSQL:
the replaced secret kept sealed for its overlap, one at a time, opened for the authenticator
only while it verifies, and moved with the other secrets when the key is rotated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store import client_access, clients
from store.client_access import SECRET_OVERLAP_MAX, RotatedSecret, rotate_secret, set_disabled
from store.clients import (
    ClientRecord,
    ClientRegistrationError,
    IssuedCredentials,
    clients_sealed_otherwise,
    find_client,
    list_clients,
    register_client,
    reseal_secrets,
)
from store.secrets import SecretCipher, SecretKeyError
from store.tables import ClientRow

NOW = datetime(2026, 11, 27, 12, 0, 0, 250_000, tzinfo=UTC)
DAY = timedelta(hours=24)


def register_bank(sessions: sessionmaker[Session], cipher: SecretCipher) -> IssuedCredentials:
    with sessions.begin() as session:
        return register_client(session, "bank", ["203.0.113.0/24"], cipher, now=lambda: NOW)


def rotate(
    sessions: sessionmaker[Session],
    cipher: SecretCipher,
    overlap: timedelta = DAY,
    at: datetime = NOW,
    end_previous: bool = False,
) -> RotatedSecret:
    with sessions.begin() as session:
        return rotate_secret(
            session, "bank", cipher, overlap=overlap, end_previous=end_previous, now=lambda: at
        )


def found(
    sessions: sessionmaker[Session], key: str, cipher: SecretCipher, at: datetime = NOW
) -> ClientRecord:
    with sessions() as session:
        record = find_client(session, key, cipher, now=lambda: at)
    assert record is not None
    return record


def new_cipher() -> SecretCipher:
    return SecretCipher([Fernet.generate_key().decode()])


def test_a_rotated_client_keeps_its_key_and_its_old_secret_for_the_overlap(
    sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    issued = register_bank(sessions, cipher)

    rotated = rotate(sessions, cipher, overlap=DAY)

    # up to the next whole second, as it is shown: never shorter than asked
    assert rotated.previous_accepted_until == (NOW + DAY).replace(microsecond=0) + timedelta(
        seconds=1
    )
    during = found(sessions, issued.key, cipher)
    assert (rotated.key, during.secret) == (issued.key, rotated.secret)
    assert during.previous_secret == issued.secret
    assert during.previous_secret_at(NOW) == issued.secret
    assert during.previous_secret_at(rotated.previous_accepted_until) is None
    after = found(sessions, issued.key, cipher, at=rotated.previous_accepted_until)
    assert (after.previous_secret, after.previous_secret_until) == (None, None)
    with sessions() as session:
        listed = list_clients(session, now=lambda: NOW)[0]
    assert listed.previous_secret_until == rotated.previous_accepted_until


def test_a_rotation_with_no_overlap_keeps_no_previous_secret(
    sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    issued = register_bank(sessions, cipher)

    rotated = rotate(sessions, cipher, overlap=timedelta(0))

    record = found(sessions, issued.key, cipher)
    assert rotated.previous_accepted_until is None
    assert (record.secret, record.previous_secret) == (rotated.secret, None)


def test_a_second_rotation_during_the_overlap_is_refused_as_it_would_stop_the_first_secret(
    sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    issued = register_bank(sessions, cipher)
    first = rotate(sessions, cipher)

    with pytest.raises(ClientRegistrationError, match="give --end-previous"):
        rotate(sessions, cipher, at=NOW + timedelta(hours=1))

    record = found(sessions, issued.key, cipher, at=NOW + timedelta(hours=1))
    assert (record.secret, record.previous_secret) == (first.secret, issued.secret)


def test_a_second_rotation_ending_the_previous_keeps_only_the_secret_it_replaced(
    sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    issued = register_bank(sessions, cipher)
    first = rotate(sessions, cipher)

    second = rotate(sessions, cipher, at=NOW + timedelta(hours=1), end_previous=True)
    later = NOW + timedelta(hours=1) + DAY + timedelta(seconds=2)  # the second's overlap over
    after_overlap = rotate(sessions, cipher, at=later)

    record = found(sessions, issued.key, cipher, at=later)
    assert (record.secret, record.previous_secret) == (after_overlap.secret, second.secret)
    assert first.secret not in (record.secret, record.previous_secret)


def test_a_rotation_that_another_came_before_is_refused_and_keeps_the_others(
    sessions: sessionmaker[Session], cipher: SecretCipher, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = register_bank(sessions, cipher)
    others: list[RotatedSecret] = []
    original_new_secret = clients.new_secret

    def another_rotation_first() -> str:
        # a second operator's rotation commits between this one's read and its write
        monkeypatch.setattr(client_access, "new_secret", original_new_secret)
        others.append(rotate(sessions, cipher, overlap=timedelta(0)))
        return original_new_secret()

    monkeypatch.setattr(client_access, "new_secret", another_rotation_first)
    with pytest.raises(ClientRegistrationError, match="changed while it was rotated"):
        rotate(sessions, cipher)

    record = found(sessions, issued.key, cipher)
    assert (record.secret, record.previous_secret) == (others[0].secret, None)


@pytest.mark.parametrize("overlap", [timedelta(seconds=-1), SECRET_OVERLAP_MAX + timedelta(1)])
def test_an_overlap_below_zero_or_beyond_the_longest_is_refused(
    sessions: sessionmaker[Session], cipher: SecretCipher, overlap: timedelta
) -> None:
    register_bank(sessions, cipher)

    with pytest.raises(ClientRegistrationError, match="overlap is from 0 to 30 days"):
        rotate(sessions, cipher, overlap=overlap)


def test_rotating_or_disabling_a_client_nobody_is_named_is_refused(
    sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    with sessions.begin() as session, pytest.raises(ClientRegistrationError, match="no client"):
        rotate_secret(session, "nobody", cipher)
    with sessions.begin() as session, pytest.raises(ClientRegistrationError, match="no client"):
        set_disabled(session, "nobody", True)


def test_rotating_under_a_key_that_does_not_open_the_clients_secret_is_refused_untouched(
    sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    issued = register_bank(sessions, cipher)

    with pytest.raises(SecretKeyError, match="'bank'"):
        rotate(sessions, new_cipher())

    assert found(sessions, issued.key, cipher).secret == issued.secret


def test_disabling_and_enabling_say_whether_they_changed_anything(
    sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    issued = register_bank(sessions, cipher)

    with sessions.begin() as session:
        changes = [set_disabled(session, "bank", state) for state in (True, True)]
    assert changes == [True, False]
    assert found(sessions, issued.key, cipher).disabled
    with sessions.begin() as session:
        assert set_disabled(session, "bank", False)
    assert not found(sessions, issued.key, cipher).disabled


def test_resealing_moves_the_previous_consumer_secret_to_the_newest_key_too(
    sessions: sessionmaker[Session],
) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    issued = register_bank(sessions, SecretCipher([old_key]))
    rotate(sessions, SecretCipher([old_key]))
    only_new = SecretCipher([new_key])

    with sessions.begin() as session:
        assert reseal_secrets(session, SecretCipher([new_key, old_key]), now=lambda: NOW) == 1

    assert found(sessions, issued.key, only_new).previous_secret == issued.secret
    with sessions() as session:
        assert clients_sealed_otherwise(session, only_new, now=lambda: NOW) == []


def test_a_previous_consumer_secret_sealed_otherwise_counts_while_it_still_verifies(
    sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    register_bank(sessions, cipher)
    rotated = rotate(sessions, cipher)
    assert rotated.previous_accepted_until is not None
    with sessions.begin() as session:  # left under a key since dropped
        row = session.scalars(select(ClientRow)).one()
        row.previous_secret_encrypted = new_cipher().encrypt("old secret")

    with sessions() as session:
        during = clients_sealed_otherwise(session, cipher, now=lambda: NOW)
        after = clients_sealed_otherwise(
            session, cipher, now=lambda: rotated.previous_accepted_until or NOW
        )
    with sessions.begin() as session, pytest.raises(SecretKeyError, match="'bank'"):
        reseal_secrets(session, cipher, now=lambda: NOW)

    assert during == ["bank"]
    assert after == []


def test_resealing_drops_a_previous_consumer_secret_whose_overlap_is_over(
    sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    register_bank(sessions, cipher)
    rotated = rotate(sessions, cipher)
    with sessions.begin() as session:  # one the key cannot open is dropped all the same
        row = session.scalars(select(ClientRow)).one()
        row.previous_secret_encrypted = new_cipher().encrypt("old secret")

    with sessions.begin() as session:
        assert reseal_secrets(session, cipher, now=lambda: NOW + 2 * DAY) == 1

    with sessions() as session:
        row = session.scalars(select(ClientRow)).one()
    assert (row.previous_secret_encrypted, row.previous_secret_until) == (None, None)
    assert cipher.decrypt(row.secret_encrypted) == rotated.secret
