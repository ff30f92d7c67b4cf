"""An operator's hold on a client's access: revoking it (disable, enable) and rotating its OAuth
consumer secret with an overlap (`ownership clients disable|enable|rotate-secret`).

The API's workers read a client's record once every 30 s (api.auth's cache), so what is done
here reaches them within that: a disabled client's calls are refused, an enabled one's taken,
a new secret accepted, a previous one refused once its overlap is over, within 30 s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from store.clients import (
    ClientRegistrationError,
    _client_named,
    _still_signing,
    _unchanged,
    new_secret,
    overlap_end,
    refuse_while_previous_holds,
)
from store.secrets import SecretCipher, SecretKeyError
from store.tables import ClientRow

# how long a rotated consumer secret's predecessor also verifies the client's calls, by
# default and at most: a day lets a client deploy the new secret on its own schedule; a month
# is as long as a secret that may have leaked should be left working
SECRET_OVERLAP = timedelta(hours=24)
SECRET_OVERLAP_MAX = timedelta(days=30)


@dataclass(frozen=True)
class RotatedSecret:
    """A client's new consumer secret, shown once, and until when the one it replaced also
    verifies its calls (None: it stopped at once)."""

    key: str
    secret: str = field(repr=False)
    previous_accepted_until: datetime | None


def set_disabled(session: Session, name: str, disabled: bool) -> bool:
    """Disable (or enable) the client named `name`; the caller commits. Returns whether that
    changed anything. Only its calls are refused: what it sent before, accepted already, is
    still delivered, falls back and is billed as ever, and its webhooks are still sent, so the
    client learns how its notifications ended."""
    row = _client_named(session, name)
    changed = row.disabled != disabled
    row.disabled = disabled
    return changed


def rotate_secret(
    session: Session,
    name: str,
    cipher: SecretCipher,
    *,
    overlap: timedelta = SECRET_OVERLAP,
    end_previous: bool = False,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RotatedSecret:
    """Give a client a new consumer secret, its key unchanged; the caller commits. The one it
    replaces also verifies the client's calls for `overlap` after `now`, so the client can
    deploy the new one without a refused call; with no overlap it stops at commit (and on the
    API's workers within 30 s). Only one previous secret is kept: during an overlap, a new
    rotation would stop the oldest (likely the one the client still uses) at once, so it is
    refused unless `end_previous`. A call's nonce is spent for the key, whichever secret
    signed it. Raises SecretKeyError if `cipher` does not open the client's secret (a wrong
    key), and ClientRegistrationError if another rotation or a reseal came first."""
    if not timedelta(0) <= overlap <= SECRET_OVERLAP_MAX:
        raise ClientRegistrationError(
            f"a consumer secret's overlap is from 0 to {SECRET_OVERLAP_MAX.days} days"
        )
    # no row lock: on PostgreSQL a second rotation at once would wait, read the first's
    # secret and rotate it in turn, stopping the client's at once; the compare-and-set below
    # refuses it instead, on either database
    row = _client_named(session, name)
    moment = now()
    if not end_previous:
        refuse_while_previous_holds(
            _still_signing(row.previous_secret_encrypted, row.previous_secret_until, moment),
            row.previous_secret_until,
            f"the secret that {row.name!r} had before its last rotation is accepted",
            "rotating",
        )
    replaced = row.secret_encrypted
    if not cipher.opens(replaced):
        # a new secret sealed under it would be one that no process with the right key opens
        raise SecretKeyError(
            f"the secret key does not open the secrets of {row.name!r}: give the key they are "
            "sealed under"
        )
    previous, until = None, None
    if overlap:
        previous = cipher.rotate(replaced)
        until = overlap_end(moment, overlap)
    secret = new_secret()
    # set only if no other rotation or reseal came between the read and now: SQLite locks no row
    rotated = session.connection().execute(
        update(ClientRow)
        .where(
            ClientRow.consumer_key == row.consumer_key,
            _unchanged(ClientRow.secret_encrypted, replaced),
        )
        .values(
            secret_encrypted=cipher.encrypt(secret),
            previous_secret_encrypted=previous,
            previous_secret_until=until,
        )
    )
    if rotated.rowcount != 1:
        raise ClientRegistrationError(
            f"the secret of {row.name!r} changed while it was rotated (another rotation or a "
            "reseal came first); rotate again if another is still wanted"
        )
    return RotatedSecret(row.consumer_key, secret, until)
