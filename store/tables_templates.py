"""The templates area of the store: message templates and their moderation (DESIGN §7)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.tables import Base, UtcDateTime


class TemplateRow(Base):
    """A client's message template: submitted, moderated automatically, then decided by a
    moderator (or rejected at once when the automatic moderation found reasons)."""

    __tablename__ = "templates"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # "tpl_" and 16 hex digits
    client_key: Mapped[str] = mapped_column(
        String(64), ForeignKey("clients.consumer_key", ondelete="CASCADE")
    )
    text: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(20))
    # {"name": ["sample", ...]}: one or more sample values for every placeholder
    samples: Mapped[dict[str, list[str]]] = mapped_column(JSON)
    tail: Mapped[str] = mapped_column(Text)  # "" when the template has no advertising tail
    status: Mapped[str] = mapped_column(String(20))
    # the findings that rejected it: [{"reason", "rule", "explanation", "part", "matched",
    # "start", "end"}], empty while it waits or once approved
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    rules_version: Mapped[str] = mapped_column(String(40))  # the rules it was checked under
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(100))  # "moderation" when automatic
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("status IN ('pending_moderation', 'approved', 'rejected')", name="status"),
        CheckConstraint(
            "category IN ('otp', 'transaction', 'order_status', 'service')", name="category"
        ),
        Index(None, "client_key", "created_at"),
        Index(None, "status", "created_at"),
    )
