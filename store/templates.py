"""Message templates in the store: submission, look-up, listing and a moderator's decision.

Functions take the caller's session and never commit: the caller's transaction also holds
what the decision sets off (the `template.status` webhook's outbox row).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ownership.moderation import (
    Category,
    Decision,
    Finding,
    ModerationReason,
    ModerationResult,
    Part,
    TemplateDraft,
    TemplateStatus,
)
from store.tables_templates import TemplateRow

ID_PREFIX = "tpl_"
AUTOMATIC = "moderation"  # `decided_by` of a rejection by the automatic moderation
LIST_LIMIT = 1_000


class TemplateNotFoundError(LookupError):
    """No template has this id (for this client)."""


class TemplateAlreadyDecidedError(ValueError):
    """A decision on a template that no longer waits for one."""


@dataclass(frozen=True)
class TemplateRecord:
    """A stored template, as the routes, the CLI, the notify path and webhooks read it."""

    id: str
    client_key: str
    draft: TemplateDraft
    status: TemplateStatus
    reasons: tuple[Finding, ...]
    rules_version: str
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    note: str | None

    @property
    def approved(self) -> bool:
        return self.status is TemplateStatus.APPROVED


def new_template_id() -> str:
    return ID_PREFIX + secrets.token_hex(8)


def add_template(
    session: Session,
    client_key: str,
    draft: TemplateDraft,
    result: ModerationResult,
    rules_version: str,
    now: datetime,
) -> TemplateRecord:
    """Store a submitted template: rejected at once with the findings, if any, else waiting
    for a moderator."""
    rejected = bool(result.findings)
    row = TemplateRow(
        id=new_template_id(),
        client_key=client_key,
        text=draft.text,
        category=str(draft.category),
        samples={name: list(values) for name, values in draft.samples.items()},
        tail=draft.tail,
        status=TemplateStatus.REJECTED if rejected else TemplateStatus.PENDING_MODERATION,
        reasons=[_finding_json(finding) for finding in result.findings],
        rules_version=rules_version,
        created_at=now,
        decided_at=now if rejected else None,
        decided_by=AUTOMATIC if rejected else None,
        note=None,
    )
    session.add(row)
    session.flush()
    return _record(row)


def find_template(
    session: Session, template_id: str, client_key: str | None = None
) -> TemplateRecord | None:
    """The template with this id; with `client_key`, only if that client submitted it."""
    statement = select(TemplateRow).where(TemplateRow.id == template_id)
    if client_key is not None:
        statement = statement.where(TemplateRow.client_key == client_key)
    row = session.scalar(statement)
    return None if row is None else _record(row)


def list_templates(
    session: Session, status: TemplateStatus | None = None, limit: int = LIST_LIMIT
) -> list[TemplateRecord]:
    """Templates oldest first (the moderator's queue, with `pending_moderation`)."""
    statement = select(TemplateRow).order_by(TemplateRow.created_at, TemplateRow.id).limit(limit)
    if status is not None:
        statement = statement.where(TemplateRow.status == str(status))
    return [_record(row) for row in session.scalars(statement)]


def decide_template(
    session: Session,
    template_id: str,
    decision: Decision,
    *,
    note: str | None,
    by: str,
    at: datetime,
) -> TemplateRecord:
    """Approve or reject a template waiting for a moderator.

    One conditional UPDATE (`… WHERE status = 'pending_moderation'`) decides, so of two
    moderators deciding at once exactly one wins, on PostgreSQL and SQLite alike (a SELECT
    first would let both read `pending_moderation` on SQLite, which has no FOR UPDATE).
    """
    values: dict[str, Any] = {
        "status": str(decision.status),
        "decided_at": at,
        "decided_by": by,
        "note": note,
    }
    if decision is Decision.REJECT:
        rejection = Finding(
            ModerationReason.MODERATOR_REJECTED,
            ModerationReason.MODERATOR_REJECTED,
            note or "rejected by a moderator",
            Part.TEMPLATE,
        )
        values["reasons"] = [_finding_json(rejection)]
    decided = session.execute(
        update(TemplateRow)
        .where(
            TemplateRow.id == template_id,
            TemplateRow.status == str(TemplateStatus.PENDING_MODERATION),
        )
        .values(**values)
        .returning(TemplateRow.id)
        .execution_options(synchronize_session=False)
    ).first()
    row = session.scalar(
        select(TemplateRow)
        .where(TemplateRow.id == template_id)
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise TemplateNotFoundError(f"no template {template_id!r}")
    if decided is None:
        raise TemplateAlreadyDecidedError(f"template {template_id} is already {row.status}")
    return _record(row)


def _finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "reason": str(finding.reason),
        "rule": str(finding.rule),
        "explanation": finding.explanation,
        "part": str(finding.part),
        "matched": finding.matched,
        "start": finding.start,
        "end": finding.end,
    }


def _finding(data: Mapping[str, Any]) -> Finding:
    return Finding(
        ModerationReason(data["reason"]),
        data["rule"],
        data["explanation"],
        Part(data["part"]),
        data.get("matched", ""),
        data.get("start"),
        data.get("end"),
    )


def _record(row: TemplateRow) -> TemplateRecord:
    return TemplateRecord(
        id=row.id,
        client_key=row.client_key,
        draft=TemplateDraft(
            row.text,
            Category(row.category),
            MappingProxyType({name: tuple(values) for name, values in row.samples.items()}),
            row.tail,
        ),
        status=TemplateStatus(row.status),
        reasons=tuple(_finding(item) for item in row.reasons),
        rules_version=row.rules_version,
        created_at=row.created_at,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
        note=row.note,
    )
