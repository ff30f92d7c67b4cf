"""The notify path's tables (DESIGN §7, §8): notifications and their history, verification
results, the live overlay of numbers, and the billing ledger."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from store.tables import Base, UtcDateTime

# the verification results that are the person's own answer to a prompt
ONE_ANSWER = "result in ('confirmed', 'denied')"
# what expired and waits for its SMS (the rest of `expired` is final), in the words of the
# sweeper's read, which a partial index's condition must match; `status || ''` keeps SQLite
# from reading it by the index of statuses, which would read every `expired` notification
WAITING_FOR_SMS = "status || '' = 'expired' AND fallback = 'sms'"
_WAITING_FOR_SMS = text(WAITING_FOR_SMS)  # the class below names a column `text`
# an SMS claimed or handed over and not settled: its report is awaited until the time-out past
# its deadline, by which the sweeper reads those overdue, not every SMS awaiting its report (and
# those claimed before there were deadlines, by their last move, among the few with none); in
# the words of its read, as `WAITING_FOR_SMS`
SMS_SENT = "status || '' = 'sms_sent'"
# and a claim for SMS its gateway has not confirmed (in flight, left by a crash, or held by a
# gateway whose answer never came), by its last move: a few among them all, but every one
# held while a gateway is down (55,000 held: 2 to 24 ms a read on SQLite)
SMS_UNCONFIRMED = f"{SMS_SENT} AND coalesce(provider_id, '') = ''"
_SMS_SENT, _SMS_UNCONFIRMED = text(SMS_SENT), text(SMS_UNCONFIRMED)
# the notifications whose client asked for a code by SMS should the policy re-verify (only
# those get codes), in the words of the read that counts a number's code SMS, as
# `WAITING_FOR_SMS`
ASKS_A_CODE = "reverify = 'sms_code'"
_ASKS_A_CODE = text(ASKS_A_CODE)


class NotificationRow(Base):
    """One notification, from acceptance to its outcome."""

    __tablename__ = "notifications"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_key: Mapped[str] = mapped_column(
        String(64), ForeignKey("clients.consumer_key", ondelete="CASCADE")
    )
    # the client's idempotency key, and a hash of its request body to tell a true repeat
    request_id: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(8))
    template_id: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    action_type: Mapped[str] = mapped_column(String(32))
    action_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sensitive: Mapped[bool] = mapped_column(Boolean)
    mobile_only: Mapped[bool] = mapped_column(Boolean)
    fallback: Mapped[str] = mapped_column(String(8))
    callback_url: Mapped[str | None] = mapped_column(Text)
    # the policy's answer and why: deliver | reverify | sms, the table's row, the number's status
    decision: Mapped[str] = mapped_column(String(16))
    policy_case: Mapped[str] = mapped_column(String(32))
    number_status: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))
    # the channel that carries it now (vk, ok, sms) and that channel's message id
    channel: Mapped[str | None] = mapped_column(String(8))
    provider_id: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # how a re-verification asks the person (ownership.codes.ReverifyMethod): null, the Yes/No
    # prompt of the notifications accepted before there was a choice
    reverify: Mapped[str | None] = mapped_column(String(8))
    # how long its SMS stays worth delivering once handed over, in seconds, as its client
    # chose it (`sms_validity`); null, the service's own (OWNERSHIP_SMS_VALIDITY_SECONDS), as
    # for the notifications accepted before there was a choice
    sms_validity_seconds: Mapped[int | None] = mapped_column(Integer)
    # the moment its SMS stops being worth delivering, set once, when it is first claimed for
    # SMS (that moment plus its validity; never moved by a later claim or retry): the gateway
    # is told it at every hand-over, none is made after it, and the SMS's report is awaited
    # until the report timeout past it. Null while it was never claimed for SMS, and for an
    # SMS claimed before there was a column (its report is awaited from its last move)
    sms_valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # when a No its number's holder said to another notification ended this one, held by a
    # social network (delivery.records.cut_short_after_a_no): the sweeper says `denied`
    ended_by_no_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # when the dispatcher tries again one it could not carry (its networks or the SMS gateway
    # unreachable): meanwhile its rounds reach those behind it; null, at once
    next_try_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # the first answer, returned as it was to a repeated request
    answer: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (
        UniqueConstraint("client_key", "request_id"),
        # the sweeper's index: what still waits, by when it expires
        Index(None, "status", "expires_at"),
        # the retention's: the oldest moves first, from where the last batch ended
        Index(None, "updated_at", "id"),
        Index(None, "provider_id"),
        # and what expired and waits for its SMS, without what expired for good
        Index(
            "ix_notifications_expired_waiting_for_sms",
            "expires_at",
            sqlite_where=_WAITING_FOR_SMS,
            postgresql_where=_WAITING_FOR_SMS,
        ),
        # the SMS awaiting their reports, by when the wait ends; and the unconfirmed claims
        Index(
            "ix_notifications_sms_report_due",
            "sms_valid_until",
            sqlite_where=_SMS_SENT,
            postgresql_where=_SMS_SENT,
        ),
        Index(
            "ix_notifications_sms_unconfirmed",
            "updated_at",
            sqlite_where=_SMS_UNCONFIRMED,
            postgresql_where=_SMS_UNCONFIRMED,
        ),
        # a number's notifications that ask for a code, by when their TTL ends: the code SMS
        # it was sent lately are among them (delivery.code_records.code_sms_sent_to)
        Index(
            "ix_notifications_code_phone",
            "phone",
            "expires_at",
            sqlite_where=_ASKS_A_CODE,
            postgresql_where=_ASKS_A_CODE,
        ),
    )


class NotificationEventRow(Base):
    """A status a notification took, with its time: the history `GET /v1/notifications/{id}`
    shows."""

    __tablename__ = "notification_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    notification_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("notifications.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class VerificationRow(Base):
    """A re-verification result, in the `verifications` input format (DESIGN §3) for the batch."""

    __tablename__ = "verifications"
    # a prompt takes one answer, however many reports of it come, and at once
    __table_args__ = (
        Index(
            "uq_verifications_one_answer",
            "notification_id",
            unique=True,
            sqlite_where=text(ONE_ANSWER),
            postgresql_where=text(ONE_ANSWER),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), index=True)
    ts: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    method: Mapped[str] = mapped_column(String(16))
    result: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[str | None] = mapped_column(String(80))
    notification_id: Mapped[str | None] = mapped_column(String(40))
    # when the store took it, by the wall clock: the nightly export reads on from it, as a
    # result can be recorded long after its `ts` (a late report of an answer); the store's
    # clock for a writer that names none (the release before, during a rolling upgrade)
    recorded_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), index=True, server_default=func.current_timestamp()
    )


class VerificationCodeRow(Base):
    """The SMS code a notification's re-verification asks for: its keyed hash (never the code),
    and the entries the person made (ownership.codes)."""

    __tablename__ = "verification_codes"

    notification_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True
    )
    # HMAC-SHA256 of the code under a salt drawn for it, hex; the salt sealed with the store's
    # secret key (store.secrets), so that the row alone does not give the code away: six
    # digits are a million tries
    salt: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    # how many codes were drawn for the notification: a code whose SMS the gateway may not have
    # taken (it could not be reached) is replaced by a new one, in an SMS of its own
    issued: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # the SMS gateway's id of the code's SMS, once it took it: no new code is drawn after that
    sms_provider_id: Mapped[str | None] = mapped_column(String(80))
    # codes entered, and a keyed mark of each (a gateway's repeated report counts once)
    attempts: Mapped[int] = mapped_column(Integer)
    entered: Mapped[list[str]] = mapped_column(JSON)
    # confirmed | failed, once the re-verification has its result; null while it runs
    result: Mapped[str | None] = mapped_column(String(16))


class NumberOverlayRow(Base):
    """What the notify path learnt of a number since the last batch run: a denial makes it
    owner_changed at once, a confirmation fresh for F. Every check and notify sees it."""

    __tablename__ = "number_overlay"

    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    denied_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # when the row last changed, by the wall clock: what each process's copy reads on from
    recorded_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)


class LedgerRow(Base):
    """One billed delivery: at most one per notification, at the price for its country and
    channel. The bill: kept when its notification is forgotten after the retention, so no
    foreign key to it."""

    __tablename__ = "billing_ledger"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    notification_id: Mapped[str] = mapped_column(String(40), unique=True)
    client_key: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(8))
    country: Mapped[str | None] = mapped_column(String(8))
    price: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    currency: Mapped[str] = mapped_column(String(3))
    delivered_at: Mapped[datetime] = mapped_column(UtcDateTime())
    month: Mapped[str] = mapped_column(String(7), index=True)
