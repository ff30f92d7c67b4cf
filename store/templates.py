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

from sqlalchemy import and_, or_, select, update
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
PAGE_SIZE = 100  # templates a listing gives unless asked for another number
MAX_PAGE_SIZE = 1_000


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


@dataclass(frozen=True)
class TemplatePage:
    """Templates in the order listed, and whether more follow the last of them: a moderator
    asks again from there (`after`), so no template waits unseen past a page."""

    records: tuple[TemplateRecord, ...]
    more: bool

    @property
    def next_after(self) -> str | None:
        """The id to list after for the next page; None when this one is the last."""
        return self.records[-1].id if self.more and self.records else None


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
    session: Session,
    status: TemplateStatus | None = None,
    limit: int = PAGE_SIZE,
    after: str | None = None,
) -> TemplatePage:
    """At most `limit` templates, oldest first (the moderators' queue, with
    `pending_moderation`, longest waiting first), after the template `after` if given
    (`TemplateNotFoundError` if there is none). Paging by the last template seen, not by an
    offset: a decision that takes a template off the queue moves no other one past a page."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"a page holds 1 to {MAX_PAGE_SIZE} templates, not {limit}")
    statement = select(TemplateRow).order_by(TemplateRow.created_at, TemplateRow.id)
    if status is not None:
        statement = statement.where(TemplateRow.status == str(status))
    if after is not None:
        last = session.execute(
            select(TemplateRow.created_at, TemplateRow.id).where(TemplateRow.id == after)
        ).first()
        if last is None:
            raise TemplateNotFoundError(f"no template {after!r} to list after")
        statement = statement.where(
            or_(
                TemplateRow.created_at > last.created_at,
                and_(TemplateRow.created_at == last.created_at, TemplateRow.id > last.id),
            )
        )
    rows = session.scalars(statement.limit(limit + 1)).all()  # one more tells if more follow
    return TemplatePage(tuple(_record(row) for row in rows[:limit]), len(rows) > limit)


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
