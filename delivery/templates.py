"""The template desk: submission with automatic moderation, and a moderator's decision, each
in one transaction with the `TemplateDecisions` port that tells the client (DESIGN §7).

The API's lifespan and the CLI's `main()` each build one with `build_template_desk`; tests
build one with a `RecordingTemplateDecisions` and a virtual clock.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from delivery.clock import Clock, SystemClock
from delivery.ports import TemplateProblem, TemplateProblemError
from delivery.webhooks.events import TemplateModerated, utc_text
from delivery.webhooks.outbox import enqueue_event
from ownership.moderation import (
    Decision,
    Finding,
    ModerationReason,
    ModerationRules,
    TemplateDraft,
    TemplateStatus,
    moderate,
    moderate_message,
    placeholder_names,
    render_message,
)
from ownership.notifications import check_params
from pipelines.moderation_rules import load_moderation_rules
from pipelines.settings import Settings
from store.clients import client_names, client_webhook_url
from store.templates import (
    PAGE_SIZE,
    TemplatePage,
    TemplateRecord,
    add_template,
    decide_template,
    find_template,
    list_templates,
)


class TemplateDecisions(Protocol):
    """What happens once a template is decided, by a moderator or at once by the automatic
    moderation: the client is told by a `template.status` webhook. Called inside the
    decision's transaction, so the outbox row commits (or rolls back) with the decision."""

    def template_decided(self, session: Session, template: TemplateRecord) -> None: ...


class NoTemplateDecisions:
    """Tells no one: the default until the webhook outbox is wired in."""

    def template_decided(self, session: Session, template: TemplateRecord) -> None:
        return None


class RecordingTemplateDecisions:
    """A fake that remembers every decided template, in order."""

    def __init__(self) -> None:
        self.decided: list[TemplateRecord] = []

    def template_decided(self, session: Session, template: TemplateRecord) -> None:
        self.decided.append(template)


class TemplateDesk:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        rules: ModerationRules,
        decisions: TemplateDecisions | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._sessions = sessions
        self.rules = rules
        self._decisions = decisions or NoTemplateDecisions()
        self._clock = clock or SystemClock()

    def submit(self, client_key: str, draft: TemplateDraft) -> TemplateRecord:
        """Moderate and store `draft`: rejected at once (and the client told) when the
        moderation found reasons, else waiting for a moderator."""
        result = moderate(draft, self.rules)
        with self._sessions.begin() as session:
            record = add_template(
                session, client_key, draft, result, self.rules.version, self._clock.now()
            )
            if record.status is TemplateStatus.REJECTED:
                self._decisions.template_decided(session, record)
        return record

    def find(self, template_id: str, client_key: str | None = None) -> TemplateRecord | None:
        with self._sessions() as session:
            return find_template(session, template_id, client_key)

    def list(
        self,
        status: TemplateStatus | None = None,
        *,
        limit: int = PAGE_SIZE,
        after: str | None = None,
    ) -> TemplatePage:
        """A page of templates oldest first; `TemplateNotFoundError` for an unknown `after`."""
        with self._sessions() as session:
            return list_templates(session, status, limit, after)

    def client_names(self, keys: Iterable[str]) -> dict[str, str]:
        """The names of the clients with these keys, for a moderator who knows clients by
        name: a key no client holds is left out."""
        with self._sessions() as session:
            return client_names(session, keys)

    def decide(
        self, template_id: str, decision: Decision, *, note: str | None, by: str
    ) -> TemplateRecord:
        """A moderator's decision; `TemplateNotFoundError` or `TemplateAlreadyDecidedError`
        when there is nothing to decide."""
        with self._sessions.begin() as session:
            record = decide_template(
                session, template_id, decision, note=note, by=by, at=self._clock.now()
            )
            self._decisions.template_decided(session, record)
        return record


class OutboxTemplateDecisions:
    """Tells the client of a decision by a `template.status` webhook, queued in the decision's
    transaction, to the client's default webhook URL (a client without one is not told)."""

    def template_decided(self, session: Session, template: TemplateRecord) -> None:
        url = client_webhook_url(session, template.client_key)
        if not url:
            return
        now = template.decided_at or template.created_at
        decided = TemplateModerated(template.id, now, template_public(template))
        enqueue_event(session, client_key=template.client_key, url=url, event=decided, now=now)


def template_public(template: TemplateRecord) -> dict[str, Any]:
    """What `GET /v1/message_template/{id}` answers (`TemplatePublic`: the findings with their
    explanations, the moderator's note), which the `template.status` webhook carries so that
    the client learns why without asking."""
    draft = template.draft
    return {
        "id": template.id,
        "status": template.status.value,
        "reasons": [_finding_payload(finding) for finding in template.reasons],
        "category": draft.category.value,
        "text": draft.text,
        "samples": {name: list(values) for name, values in draft.samples.items()},
        "tail": draft.tail or None,
        "created_at": utc_text(template.created_at),
        "decided_at": utc_text(template.decided_at) if template.decided_at else None,
        "note": template.note,
    }


def _finding_payload(finding: Finding) -> dict[str, Any]:
    return {
        "code": finding.reason.value,
        "rule": finding.rule,
        "explanation": finding.explanation,
        "part": finding.part.value,
        "matched": finding.matched,
        "start": finding.start,
        "end": finding.end,
    }


def build_template_desk(
    settings: Settings,
    sessions: sessionmaker[Session],
    decisions: TemplateDecisions | None = None,
    clock: Clock | None = None,
) -> TemplateDesk:
    """The desk as a process runs it, with the rules at `settings.moderation_rules_path`
    (`ModerationRulesError` if they cannot be used), telling clients of decisions by webhook,
    for the API and the CLI alike. On the service's clock (`clock`, or the settings'): a
    decision stamped in real time while the webhooks go by the demo's faster clock would wait
    until that clock caught up with it."""
    from delivery.clock import build_clock

    return TemplateDesk(
        sessions,
        load_moderation_rules(settings.moderation_rules_path),
        decisions or OutboxTemplateDecisions(),
        clock or build_clock(settings),
    )


class ApprovedTemplates:
    """The notify service's `Templates` port on the desk: approved templates, filled.

    An approval is final, so approved templates are kept in memory for `cache_seconds`: a
    notification then costs no template query.
    """

    def __init__(self, desk: TemplateDesk, cache_seconds: float = 60.0) -> None:
        self.desk = desk
        self.cache_seconds = cache_seconds
        self._approved: dict[tuple[str, str], tuple[float, TemplateRecord]] = {}

    def message(self, client_key: str, template_id: str, params: dict[str, str]) -> str:
        record = self._find(client_key, template_id)
        names = placeholder_names(record.draft, self.desk.rules)
        check_params(names, params)
        # params are text the moderator never saw: the filled message is held to the rules
        # the template was, or a param could carry an advertisement or a hundred SMS parts
        findings = moderate_message(record.draft, params, self.desk.rules).findings
        if findings:
            raise _message_problem(template_id, findings)
        return render_message(record.draft, params, self.desk.rules)

    def _find(self, client_key: str, template_id: str) -> TemplateRecord:
        cached = self._approved.get((client_key, template_id))
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        record = self.desk.find(template_id, client_key)
        if record is None:
            raise TemplateProblemError(
                TemplateProblem.TEMPLATE_NOT_FOUND, f"this client has no template {template_id}"
            )
        if not record.approved:
            raise TemplateProblemError(
                TemplateProblem.TEMPLATE_NOT_APPROVED,
                f"template {template_id} is {record.status.value}; only an approved template "
                "can be sent",
            )
        self._approved[(client_key, template_id)] = (
            time.monotonic() + self.cache_seconds,
            record,
        )
        return record


def _message_problem(template_id: str, findings: tuple[Finding, ...]) -> TemplateProblemError:
    if findings[0].reason is ModerationReason.TOO_LONG:
        said = "; ".join(finding.explanation for finding in findings)
        return TemplateProblemError(
            TemplateProblem.MESSAGE_TOO_LONG,
            f"template {template_id} filled with these params: {said}",
        )
    said = "; ".join(f"at {finding.matched!r}, {finding.explanation}" for finding in findings)
    return TemplateProblemError(
        TemplateProblem.PROMOTIONAL_PARAMS,
        f"template {template_id} filled with these params is promotional: {said}. "
        "Advertising belongs in an approved template's tail",
    )
