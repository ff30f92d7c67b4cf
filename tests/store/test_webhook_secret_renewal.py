"""A renewed webhook secret's predecessor in the store, on SQLite and PostgreSQL: kept sealed
for its overlap, one at a time, and moved with the other secrets when the key is rotated."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from store import clients
from store.clients import (
    WEBHOOK_SECRET_OVERLAP_MAX,
    ClientRegistrationError,
    IssuedCredentials,
    RenewedWebhookSecret,
    clients_sealed_otherwise,
    register_client,
    renew_webhook_secret,
    reseal_secrets,
)
from store.secrets import SecretCipher, SecretKeyError
from store.tables import ClientRow

NOW = datetime(2026, 11, 27, 12, 0, 0, 250_000, tzinfo=UTC)
DAY = timedelta(hours=24)


def register_bank(sessions: sessionmaker[Session], cipher: SecretCipher) -> IssuedCredentials:
    with sessions.begin() as session:
        return register_client(session, "bank", ["203.0.113.0/24"], cipher, now=lambda: NOW)


def renew(
    sessions: sessionmaker[Session],
    cipher: SecretCipher,
    overlap: timedelta = DAY,
    at: datetime = NOW,
    end_previous: bool = False,
) -> RenewedWebhookSecret:
    with sessions.begin() as session:
        return renew_webhook_secret(
            session, "bank", cipher, overlap=overlap, end_previous=end_previous, now=lambda: at
        )


def bank_row(sessions: sessionmaker[Session]) -> ClientRow:
    with sessions() as session:
        return session.scalars(select(ClientRow).where(ClientRow.name == "bank")).one()


def new_cipher() -> SecretCipher:
    return SecretCipher([Fernet.generate_key().decode()])


def test_renewing_keeps_the_replaced_secret_sealed_as_the_previous_until_the_overlap_ends(
    sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    issued = register_bank(sessions, cipher)

    renewed = renew(sessions, cipher, overlap=DAY)

    row = bank_row(sessions)
    assert issued.webhook_secret is not None and row.previous_webhook_secret_encrypted
    assert issued.webhook_secret not in row.previous_webhook_secret_encrypted
    assert cipher.decrypt(row.previous_webhook_secret_encrypted) == issued.webhook_secret
    assert cipher.decrypt(row.webhook_secret_encrypted or "") == renewed.secret
    # up to the next whole second, as the command line shows it
    assert renewed.previous_signs_until == row.previous_webhook_secret_until
    assert renewed.previous_signs_until == (NOW + DAY).replace(microsecond=0) + timedelta(seconds=1)
    assert renewed.secret not in repr(renewed)


def test_renewing_by_default_keeps_the_previous_secret_a_day(
    sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    register_bank(sessions, cipher)
    whole_second = NOW.replace(microsecond=0)

    with sessions.begin() as session:
        renewed = renew_webhook_secret(session, "bank", cipher, now=lambda: whole_second)

    assert renewed.previous_signs_until == whole_second + timedelta(hours=24)


def test_renewing_with_no_overlap_keeps_no_previous_secret(
    sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    register_bank(sessions, cipher)
    renew(sessions, cipher, overlap=DAY)

    renewed = renew(sessions, cipher, overlap=timedelta(0), end_previous=True)  # a leak

    row = bank_row(sessions)
    assert renewed.previous_signs_until is None
    assert row.previous_webhook_secret_encrypted is None
    assert row.previous_webhook_secret_until is None


def test_a_second_renewal_during_the_overlap_is_refused_as_it_would_stop_the_first(
    sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    issued = register_bank(sessions, cipher)
    renew(sessions, cipher, overlap=DAY)

    with pytest.raises(ClientRegistrationError, match="give --end-previous"):
        renew(sessions, cipher, at=NOW + timedelta(hours=1))

    row = bank_row(sessions)
    assert cipher.decrypt(row.previous_webhook_secret_encrypted or "") == issued.webhook_secret


def test_a_second_renewal_ending_the_previous_keeps_only_the_secret_it_replaced(
    sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    register_bank(sessions, cipher)
    second = renew(sessions, cipher, overlap=DAY)

    renew(
        sessions,
        cipher,
        overlap=timedelta(hours=2),
        at=NOW + timedelta(hours=1),
        end_previous=True,
    )

    row = bank_row(sessions)
    assert cipher.decrypt(row.previous_webhook_secret_encrypted or "") == second.secret
    assert row.previous_webhook_secret_until == NOW.replace(microsecond=0) + timedelta(
        hours=3, seconds=1
    )


def test_renewing_under_a_key_that_does_not_open_the_clients_secrets_is_refused_untouched(
    sessions: sessionmaker[Session],
) -> None:
    # a new secret sealed under the wrong key would be one no process with the right key opens
    register_bank(sessions, new_cipher())  # under another key
    before = bank_row(sessions).webhook_secret_encrypted

    with pytest.raises(SecretKeyError, match="does not open the secrets of 'bank'"):
        renew(sessions, new_cipher(), overlap=DAY)

    assert bank_row(sessions).webhook_secret_encrypted == before


@pytest.mark.parametrize(
    "overlap", [timedelta(seconds=-1), WEBHOOK_SECRET_OVERLAP_MAX + timedelta(seconds=1)]
)
def test_an_overlap_below_zero_or_beyond_the_longest_is_refused(
    sessions: sessionmaker[Session], cipher: SecretCipher, overlap: timedelta
) -> None:
    register_bank(sessions, cipher)

    with pytest.raises(ClientRegistrationError, match="overlap"):
        renew(sessions, cipher, overlap=overlap)


def test_resealing_moves_the_previous_secret_to_the_newest_key_too(
    sessions: sessionmaker[Session],
) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    issued = register_bank(sessions, SecretCipher([old_key]))
    renew(sessions, SecretCipher([old_key]), overlap=DAY)
    only_new = SecretCipher([new_key])

    with sessions.begin() as session:
        assert reseal_secrets(session, SecretCipher([new_key, old_key]), now=lambda: NOW) == 1

    row = bank_row(sessions)
    assert only_new.decrypt(row.previous_webhook_secret_encrypted or "") == issued.webhook_secret
    assert row.previous_webhook_secret_until is not None
    with sessions() as session:
        assert clients_sealed_otherwise(session, only_new, now=lambda: NOW) == []


def test_a_previous_secret_sealed_otherwise_counts_while_it_still_signs(
    sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    register_bank(sessions, cipher)
    renewed = renew(sessions, cipher, overlap=DAY)
    assert renewed.previous_signs_until is not None
    with sessions.begin() as session:  # left under a key since dropped
        row = session.scalars(select(ClientRow)).one()
        row.previous_webhook_secret_encrypted = new_cipher().encrypt("whsec_old")

    with sessions() as session:
        during = clients_sealed_otherwise(session, cipher, now=lambda: NOW)
        after = clients_sealed_otherwise(
            session, cipher, now=lambda: renewed.previous_signs_until or NOW
        )
    with sessions.begin() as session, pytest.raises(SecretKeyError, match="'bank'"):
        reseal_secrets(session, cipher, now=lambda: NOW)

    assert during == ["bank"]
    assert after == []


def test_resealing_drops_a_previous_secret_whose_overlap_is_over(
    sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    register_bank(sessions, cipher)
    renewed = renew(sessions, cipher, overlap=DAY)
    assert renewed.previous_signs_until is not None
    with sessions.begin() as session:  # one the key cannot open is dropped all the same
        row = session.scalars(select(ClientRow)).one()
        row.previous_webhook_secret_encrypted = new_cipher().encrypt("whsec_old")

    with sessions.begin() as session:
        assert reseal_secrets(session, cipher, now=lambda: NOW + 2 * DAY) == 1

    row = bank_row(sessions)
    assert row.previous_webhook_secret_encrypted is None
    assert row.previous_webhook_secret_until is None
    assert cipher.decrypt(row.webhook_secret_encrypted or "") == renewed.secret


def waiting_on_a_lock(engine: Engine) -> bool:
    with engine.connect() as connection:
        return bool(
            connection.scalar(
                text(
                    "select count(*) from pg_stat_activity "
                    "where datname = current_database() and wait_event_type = 'Lock'"
                )
            )
        )


def test_a_renewal_while_another_is_committing_is_refused_and_keeps_the_clients_secret(
    sessions: sessionmaker[Session], cipher: SecretCipher, engine: Engine
) -> None:
    # renewed in turn, the second would stop at once the secret the client has deployed
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite takes one writer at a time")
    issued = register_bank(sessions, cipher)
    refused: list[Exception] = []

    def second_renewal() -> None:
        try:
            renew(sessions, cipher)
        except ClientRegistrationError as error:
            refused.append(error)

    with sessions.begin() as session:
        first = renew_webhook_secret(session, "bank", cipher, now=lambda: NOW)
        session.flush()
        other = threading.Thread(target=second_renewal)
        other.start()
        deadline = time.monotonic() + 30
        while not waiting_on_a_lock(engine) and time.monotonic() < deadline:
            time.sleep(0.01)
    other.join(30)

    assert len(refused) == 1 and "changed while it was renewed" in str(refused[0])
    row = bank_row(sessions)
    assert cipher.decrypt(row.webhook_secret_encrypted or "") == first.secret
    previous = row.previous_webhook_secret_encrypted
    assert previous is not None and cipher.decrypt(previous) == issued.webhook_secret


def test_a_renewal_another_committed_between_its_read_and_its_write_is_refused(
    sessions: sessionmaker[Session], cipher: SecretCipher, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_bank(sessions, cipher)
    read = clients._client_named
    others: list[RenewedWebhookSecret] = []

    def read_then_another_renews(session: Session, name: str, **options: bool) -> ClientRow:
        row = read(session, name, **options)
        monkeypatch.setattr(clients, "_client_named", read)  # the other reads as usual
        others.append(renew(sessions, cipher))  # no row is locked on reading it
        return row

    monkeypatch.setattr(clients, "_client_named", read_then_another_renews)

    with pytest.raises(ClientRegistrationError, match=r"changed while it was renewed"):
        renew(sessions, cipher)

    current = bank_row(sessions).webhook_secret_encrypted
    assert cipher.decrypt(current or "") == others[0].secret


def test_a_reseal_that_a_renewal_overtook_is_refused_and_keeps_the_renewal(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL holds the rows from the read on: the renewal waits")
    key = Fernet.generate_key().decode()
    cipher = SecretCipher([key])
    register_bank(sessions, cipher)
    renewals: list[RenewedWebhookSecret] = []

    class RenewedMeanwhile(SecretCipher):
        """Resealing, after the rows were read: a renewal commits then (SQLite locks none)."""

        def rotate(self, token: str) -> str:
            if not renewals:
                renewals.append(renew(sessions, cipher))
            return super().rotate(token)

    with (
        pytest.raises(ClientRegistrationError, match="changed while they were resealed"),
        sessions.begin() as session,
    ):
        reseal_secrets(session, RenewedMeanwhile([key]))

    current = bank_row(sessions).webhook_secret_encrypted
    assert cipher.decrypt(current or "") == renewals[0].secret
