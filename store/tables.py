"""The store's tables, on one `Base` metadata that Alembic migrates (DESIGN §8)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# constraint names are fixed here, not left to each database, so migrations can name them
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC time on every database (SQLite keeps no zone: it stores UTC, naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"the store keeps aware times only, got {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ClientRow(Base):
    """A client back end allowed to call the API (DESIGN §6)."""

    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    consumer_key: Mapped[str] = mapped_column(String(64), unique=True)
    # Fernet tokens (store.secrets): the key that opens them is not in the database
    secret_encrypted: Mapped[str] = mapped_column(Text)
    # the consumer secret a rotation replaced, which also verifies the client's calls until
    # `…_until` so the client can deploy the new one (store.client_access.rotate_secret)
    previous_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    previous_secret_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    # the webhook secret a renewal replaced, which also signs until `…_until` so the client
    # can deploy the new one without failing a delivery (store.clients.renew_webhook_secret)
    previous_webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    previous_webhook_secret_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # where the client's webhooks go unless a notification names its own callback_url
    webhook_url: Mapped[str | None] = mapped_column(Text)
    # CIDR strings, e.g. ["203.0.113.0/24", "2001:db8::/32"]
    allowed_cidrs: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    disabled: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # how old a user action its notifications may answer, in days; null: the service's 3
    max_action_age_days: Mapped[int | None] = mapped_column(Integer)
    # its own notify policy, its file's validated document (ownership.client_policy); null:
    # the service's
    # SQL NULL, not JSON's null, for the service's policy: `notify_policy is null` says so
    notify_policy: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))


class NonceRow(Base):
    """A nonce seen with a client's valid signature; the primary key refuses its reuse."""

    __tablename__ = "nonces"

    consumer_key: Mapped[str] = mapped_column(
        String(64), ForeignKey("clients.consumer_key", ondelete="CASCADE"), primary_key=True
    )
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    # the request's oauth_timestamp, seconds since the epoch; old ones are purged by it
    timestamp: Mapped[int] = mapped_column(BigInteger, primary_key=True)

    __table_args__ = (Index(None, "timestamp"),)
