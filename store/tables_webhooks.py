"""The webhook outbox (DESIGN §7, §8): one row per event a client is to be told of.

Rows are written in the transaction of the change they report (a status change and its webhook
commit together, or neither does) and sent afterwards by `delivery.webhooks.WebhookDispatcher`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.tables import Base, UtcDateTime


class DeliveryState(StrEnum):
    PENDING = "pending"  # waiting for its next attempt (or being sent under a lease)
    DELIVERED = "delivered"  # the client's endpoint answered 2xx
    GIVEN_UP = "given_up"  # no 2xx within the retry window; kept for the operator


class WebhookDeliveryRow(Base):
    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    # the `webhook-id` header: the same on every attempt, so the client can drop repeats
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    client_key: Mapped[str] = mapped_column(
        String(64), ForeignKey("clients.consumer_key", ondelete="CASCADE")
    )
    url: Mapped[str] = mapped_column(Text)
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # attempts started, counted when a dispatcher claims the row (a crash mid-send counts)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    # due time while pending; while a dispatcher holds the row, the end of its lease
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    state: Mapped[str] = mapped_column(String(16), server_default=DeliveryState.PENDING.value)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        CheckConstraint("state IN ('pending', 'delivered', 'given_up')", name="state"),
        Index(None, "state", "next_attempt_at"),
        # an endpoint's pending events, found without reading the other clients' (a put-off)
        Index(None, "client_key", "state", "next_attempt_at"),
        Index(None, "finished_at"),  # settled rows are forgotten by age
    )


class WebhookEndpointWaitRow(Base):
    """An endpoint (a client's URL) that could not be reached or asked to be left alone, and
    until when its events wait: the events queued meanwhile, and the retries of events in
    flight when it was found so, as well as its backlog. A row whose wait is over means
    nothing; it is forgotten with the settled events."""

    __tablename__ = "webhook_endpoint_waits"

    client_key: Mapped[str] = mapped_column(
        String(64), ForeignKey("clients.consumer_key", ondelete="CASCADE"), primary_key=True
    )
    # the URL's SHA-256: a key of bounded size whatever the URL's (PostgreSQL's B-tree keys
    # are at most about 2.7 kB)
    url_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    until: Mapped[datetime] = mapped_column(UtcDateTime())
    # the end of the part of the wait the endpoint asked for (a Retry-After); None: it did not
    # answer, and is tried again after a first step
    asked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    reason: Mapped[str] = mapped_column(Text)
