"""Wire schemas of message templates (DESIGN §7), named by role and mapped to core values here.

`TemplatePublic` is also the body of the `template.status` webhook (with `at` and `template_id`
added; delivery/templates.py builds it without the API, and a test keeps the two alike), so a
client reads one shape whether it asks or is told.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from api.schemas import Strict, examples, refuse_lone_surrogates
from ownership.message_text import refuse_unshowable, visible_text
from ownership.moderation import (
    Category,
    Decision,
    Finding,
    ModerationReason,
    Part,
    TemplateDraft,
    TemplateStatus,
)
from store.templates import TemplateRecord

# hard bounds on what is stored at all; the moderation's length limits are far below them
MAX_TEXT = 10_000
MAX_PLACEHOLDERS = 50
MAX_SAMPLES = 20


def _printable(text: str) -> str:
    # PostgreSQL stores no NUL, which is a control character too
    refuse_unshowable(text)
    refuse_lone_surrogates(text)
    return text


Text = Annotated[str, StringConstraints(max_length=MAX_TEXT), AfterValidator(_printable)]
PlaceholderName = Annotated[
    str, StringConstraints(min_length=1, max_length=64), AfterValidator(_printable)
]


def _one_as_a_list(values: object) -> object:
    if isinstance(values, str):
        return [values]
    if not isinstance(values, list):
        raise ValueError("give a sample as a string, or a list of them")
    return values


# one sample or a list of them, read as a list: a refused value is then told of once, not
# once for each of the two shapes it could have had
Samples = Annotated[
    list[Text],
    Field(max_length=MAX_SAMPLES),
    BeforeValidator(
        _one_as_a_list,
        json_schema_input_type=Text | Annotated[list[Text], Field(max_length=MAX_SAMPLES)],
    ),
]


class TemplateCreate(Strict):
    text: Text = Field(
        description="The body, with `#name#` placeholders. No advertising here.",
    )
    category: Category
    samples: dict[PlaceholderName, Samples] = Field(
        default_factory=dict,
        max_length=MAX_PLACEHOLDERS,
        description=(
            f"Sample values for every placeholder, one or a list of at most {MAX_SAMPLES}. "
            "The body filled with each is checked for promotion, and the costliest (in SMS "
            "parts and in characters) must fit an SMS and a social-network message."
        ),
    )
    tail: Text | None = Field(
        None,
        description="An optional advertising tail, sent after the body; counts toward length.",
    )

    def draft(self) -> TemplateDraft:
        return TemplateDraft.of(self.text, self.category, dict(self.samples), self.tail)


class FindingPublic(BaseModel):
    code: ModerationReason
    rule: str = Field(description="The moderation rule that fired, e.g. `DISCOUNT`.")
    explanation: str
    part: Part = Field(description="Where: `body`, `tail`, `samples` or the whole `template`.")
    matched: str = Field(description="The words at fault, as written (may be empty).")
    start: int | None = Field(description="Offset of `matched` in the part's text.")
    end: int | None

    @classmethod
    def of(cls, finding: Finding) -> FindingPublic:
        return cls(
            code=finding.reason,
            rule=finding.rule,
            explanation=finding.explanation,
            part=finding.part,
            matched=finding.matched,
            start=finding.start,
            end=finding.end,
        )


class TemplatePublic(BaseModel):
    id: str = Field(examples=["tpl_3f9a0c1d2e4b5a69"])
    status: TemplateStatus
    reasons: list[FindingPublic] = Field(
        description="Why it was rejected; empty while it waits and once approved."
    )
    category: Category
    text: str
    samples: dict[str, list[str]]
    tail: str | None
    created_at: datetime
    decided_at: datetime | None
    note: str | None = Field(description="The moderator's note, if any.")

    @classmethod
    def of(cls, record: TemplateRecord) -> TemplatePublic:
        return cls(
            id=record.id,
            status=record.status,
            reasons=[FindingPublic.of(finding) for finding in record.reasons],
            category=record.draft.category,
            text=record.draft.text,
            samples={name: list(values) for name, values in record.draft.samples.items()},
            tail=record.draft.tail or None,
            created_at=record.created_at,
            decided_at=record.decided_at,
            note=record.note,
        )


class TemplateForModerator(TemplatePublic):
    """A template as a moderator sees it: what its client sees, and which client submitted it."""

    client: str | None = Field(
        description="The name of the client that submitted it (null for a key no client holds)."
    )

    @classmethod
    def of_client(
        cls, record: TemplateRecord, client_names: dict[str, str]
    ) -> TemplateForModerator:
        return cls(
            **TemplatePublic.of(record).model_dump(), client=client_names.get(record.client_key)
        )


MAX_NOTE = 2_000
MAX_MODERATOR = 80  # recorded as `admin:<moderator>` or `cli:<name>`, in 100 characters


class TemplateDecisionCreate(Strict):
    """A moderator's decision, from the admin route or `ownership templates approve|reject`,
    which hold it to the same bounds."""

    decision: Literal["approve", "reject"]
    note: (
        Annotated[str, StringConstraints(max_length=MAX_NOTE), AfterValidator(_printable)] | None
    ) = Field(None, description="Shown to the client; a rejection needs one.")
    moderator: (
        Annotated[str, StringConstraints(max_length=MAX_MODERATOR), AfterValidator(_printable)]
        | None
    ) = Field(None, description="Who decides, recorded as `admin:<moderator>`.")

    @field_validator("note")
    @classmethod
    def _a_note_says_something(cls, note: str | None) -> str | None:
        if note is not None and not visible_text(note)[0].strip():  # a zero-width space too
            raise ValueError("the note is blank: leave it out, or say why")
        return note

    @model_validator(mode="after")
    def _a_rejection_says_why(self) -> TemplateDecisionCreate:
        if self.decision == "reject" and not (self.note or "").strip():
            raise ValueError("a rejection needs a note telling the client why")
        return self

    def chosen(self) -> Decision:
        return Decision(self.decision)


TEMPLATE_EXAMPLES = examples(
    order_ready={
        "text": "Ваш заказ #order# готов к выдаче",
        "category": "order_status",
        "samples": {"order": ["123-456", "1234567890-AB"]},
        "tail": "Скидка 10% на следующий заказ по промокоду OSEN",
    },
    otp={"text": "#code# – ваш код подтверждения", "category": "otp", "samples": {"code": "4821"}},
)
DECISION_EXAMPLES = examples(
    approve={"decision": "approve"},
    reject={"decision": "reject", "note": "the tail promises what the shop does not sell"},
)
