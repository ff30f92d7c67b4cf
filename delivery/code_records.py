"""The SMS codes of re-verifications in the store (ownership.codes): a keyed hash of each, never
the code, its salt sealed under the store's secret key (whoever reads the row alone cannot try
the million codes against it), and the entries the person made, moved only by conditional
updates."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, func, insert, select, text, update

from ownership.codes import CodeOutcome, IssuedCode, entry_fingerprint, judge, matches
from store.secrets import SecretCipher, SecretKeyError
from store.tables_notifications import ASKS_A_CODE, NotificationRow, VerificationCodeRow

log = logging.getLogger(__name__)
codes = cast(Table, VerificationCodeRow.__table__)
notifications = cast(Table, NotificationRow.__table__)
# how often an entry is tried again when another entry of the same code moved it meanwhile
ENTRY_TRIES = 5


def fetch_code(connection: Connection, notification_id: str) -> dict[str, Any] | None:
    row = (
        connection.execute(select(codes).where(codes.c.notification_id == notification_id))
        .mappings()
        .first()
    )
    return dict(row) if row else None


def code_sms_sent_to(
    connection: Connection, phone: str, since: datetime, drawn_by: timedelta
) -> int:
    """How many code SMS went, or may have gone, to `phone` since `since`, for any notification
    of any client: each code row counts the codes its notification drew (`issued`: one whose
    SMS surely never left is not among them) when its latest was drawn since then, so that a
    notification's earlier codes are counted by its latest, at worst a little longer than the
    window. A code is drawn at once under a claim made before its notification's TTL ran out
    (`drawn_by`: how long a claim takes at most), so the notifications read are the number's
    that ask for a code and whose TTL ended at most that long before `since`, by an index of
    their own (`ix_notifications_code_phone`)."""
    sent = connection.execute(
        CODE_SMS_SENT_TO, {"phone": phone, "ended_since": since - drawn_by, "since": since}
    ).scalar_one()
    return int(sent)


# built once: building the statement cost as much again as running it on PostgreSQL (0.45 ms)
CODE_SMS_SENT_TO = (
    select(func.coalesce(func.sum(codes.c.issued), 0))
    .select_from(notifications.join(codes, codes.c.notification_id == notifications.c.id))
    .where(text(ASKS_A_CODE))
    .where(notifications.c.phone == bindparam("phone"))
    .where(notifications.c.expires_at >= bindparam("ended_since"))
    .where(codes.c.issued_at >= bindparam("since"))
)


def issue_code(
    connection: Connection,
    notification_id: str,
    kept: Mapping[str, Any] | None,
    issued: IssuedCode,
    at: datetime,
    cipher: SecretCipher,
) -> int | None:
    """Keep a new code's hash for the notification, whose code row the caller read (`kept`,
    from `fetch_code`, or None); returns its number (1 for the first). A code replaces the
    last only while the SMS gateway has not confirmed taking that one's SMS, and the
    re-verification has no result: None when it may not (also when the row moved since it
    was read)."""
    fields = {
        "salt": cipher.encrypt(issued.salt),
        "digest": issued.digest,
        "issued_at": at,
        "sms_provider_id": None,
        "attempts": 0,
        "entered": [],
        "result": None,
    }
    if kept is None:
        connection.execute(
            insert(codes).values(notification_id=notification_id, issued=1, **fields)
        )
        return 1
    number = int(kept["issued"]) + 1
    moved = connection.execute(
        update(codes)
        .where(codes.c.notification_id == notification_id)
        .where(codes.c.issued == kept["issued"])
        .where(codes.c.sms_provider_id.is_(None), codes.c.result.is_(None))
        .values(issued=number, **fields)
    )
    return number if moved.rowcount == 1 else None


def code_not_sent(connection: Connection, notification_id: str, number: int) -> None:
    """The `number`th code's SMS surely never left (no connection to the gateway was made): it
    does not count against the codes a notification may draw, and its number goes again."""
    connection.execute(
        update(codes)
        .where(codes.c.notification_id == notification_id, codes.c.issued == number)
        .where(codes.c.sms_provider_id.is_(None), codes.c.result.is_(None))
        .values(issued=number - 1)
    )


def code_taken(connection: Connection, notification_id: str, number: int, provider_id: str) -> None:
    """The SMS gateway took the `number`th code's SMS: that code stands, and none is drawn
    again for the notification."""
    connection.execute(
        update(codes)
        .where(codes.c.notification_id == notification_id, codes.c.issued == number)
        .values(sms_provider_id=provider_id)
    )


def enter_code(
    connection: Connection,
    notification_id: str,
    entered: str,
    at: datetime,
    cipher: SecretCipher,
) -> CodeOutcome:
    """Check an entered code against the notification's, and count it: the right one confirms;
    the last wrong one of `CODE_ATTEMPTS` fails. A repeated report of an entry, or any entry
    once the re-verification has its result, is ignored. Compare-and-set on the entries as read,
    so that two entries reported at once both count and only one of them may end it."""
    for _ in range(ENTRY_TRIES):
        kept = fetch_code(connection, notification_id)
        if kept is None or kept["result"] is not None:
            return CodeOutcome.IGNORED
        try:
            issued = IssuedCode(cipher.decrypt(kept["salt"]), kept["digest"])
        except SecretKeyError:
            # sealed under a key the service no longer has (dropped before `clients reseal`
            # resealed it): no entry can be checked; the notification ends by its TTL
            log.error(
                "the code of %s is sealed under a secret key this service lacks: its entries "
                "are ignored",
                notification_id,
            )
            return CodeOutcome.IGNORED
        mark = entry_fingerprint(issued, entered, at)
        seen: list[str] = list(kept["entered"] or [])
        if mark in seen:
            return CodeOutcome.IGNORED
        outcome = judge(matches(issued, entered), int(kept["attempts"]))
        result = outcome.value if outcome is not CodeOutcome.WRONG else None
        moved = connection.execute(
            update(codes)
            .where(codes.c.notification_id == notification_id)
            .where(codes.c.issued == kept["issued"], codes.c.attempts == kept["attempts"])
            .where(codes.c.result.is_(None))
            .values(attempts=int(kept["attempts"]) + 1, entered=[*seen, mark], result=result)
        )
        if moved.rowcount == 1:
            return outcome
    return CodeOutcome.IGNORED
