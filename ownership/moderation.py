"""Automatic moderation of message templates (DESIGN §7, "Templates").

A template is a body with `#name#` placeholders, a category, sample values for every
placeholder and an optional advertising tail. `moderate` gives every reason to refuse it, each
with where in the text it fired; a template without findings goes on to a human moderator.

The rules are data (`data/moderation_rules.yaml`, read by `pipelines.reference`): this module
holds only what the rules mean, so moderators extend them without touching code.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

DELIMITER = "#"  # DESIGN §7 writes placeholders as #name#
ESCAPED_DELIMITER = "##"  # a literal "#" in a template

# SMS sizes (3GPP TS 23.038 and TS 23.040): a message carries 140 octets, i.e. 160 GSM 7-bit
# characters or 70 UCS-2 code units; a part of a concatenated message loses 6 octets to its
# header, leaving 153 or 67.
GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")  # each is sent as an escape and a character


class Category(StrEnum):
    OTP = "otp"
    TRANSACTION = "transaction"
    ORDER_STATUS = "order_status"
    SERVICE = "service"


class ModerationReason(StrEnum):
    # the body is empty or only white space
    EMPTY = "EMPTY"
    # a placeholder is malformed (`#na me#`, `#Имя#`) or a "#" has no partner
    INVALID_FORMAT = "INVALID_FORMAT"
    # the text uses a placeholder the samples do not declare
    UNDECLARED_PLACEHOLDER = "UNDECLARED_PLACEHOLDER"
    # a declared placeholder has no sample value, or only blank ones
    MISSING_SAMPLE = "MISSING_SAMPLE"
    # the samples declare a placeholder the text never uses (usually a typo in one of them)
    UNUSED_SAMPLE = "UNUSED_SAMPLE"
    # with the longest samples filled in, body and tail do not fit a channel's limit
    TOO_LONG = "TOO_LONG"
    # the body (or a body placeholder's sample) matches a promotional rule with no exception
    PROMOTIONAL = "PROMOTIONAL"
    # the body has too few letters of its own: the placeholders would carry the message
    NO_FIXED_TEXT = "NO_FIXED_TEXT"
    # the category needs a placeholder the body lacks (an otp template carries the code)
    MISSING_REQUIRED_PLACEHOLDER = "MISSING_REQUIRED_PLACEHOLDER"
    # the category allows no advertising tail (otp)
    TAIL_NOT_ALLOWED = "TAIL_NOT_ALLOWED"
    # a moderator rejected the template; the finding's explanation is the moderator's note
    MODERATOR_REJECTED = "MODERATOR_REJECTED"


class Part(StrEnum):
    """Where a finding is: the body, the tail, the samples of a placeholder, or the whole."""

    BODY = "body"
    TAIL = "tail"
    SAMPLES = "samples"
    TEMPLATE = "template"


class Outcome(StrEnum):
    PASSED = "passed"  # no finding: a moderator decides
    REJECTED = "rejected"  # at least one finding: refused without a moderator


class TemplateStatus(StrEnum):
    PENDING_MODERATION = "pending_moderation"  # passed the automatic moderation; a person decides
    APPROVED = "approved"  # may be used by /v1/notify
    REJECTED = "rejected"  # by the automatic moderation (with findings) or by a moderator


class Decision(StrEnum):
    """A moderator's decision on a template waiting for one."""

    APPROVE = "approve"
    REJECT = "reject"

    @property
    def status(self) -> TemplateStatus:
        return TemplateStatus.APPROVED if self is Decision.APPROVE else TemplateStatus.REJECTED


@dataclass(frozen=True)
class TemplateDraft:
    """A template as submitted. `samples` maps each placeholder to one or more example values;
    the longest one is what the length limits are measured with."""

    text: str
    category: Category
    samples: Mapping[str, tuple[str, ...]]
    tail: str = ""

    @classmethod
    def of(
        cls,
        text: str,
        category: Category | str,
        samples: Mapping[str, str | Sequence[str]] | None = None,
        tail: str | None = None,
    ) -> TemplateDraft:
        frozen = {
            name: (values,) if isinstance(values, str) else tuple(values)
            for name, values in (samples or {}).items()
        }
        return cls(text, Category(category), MappingProxyType(frozen), tail or "")


@dataclass(frozen=True)
class Finding:
    """One reason to refuse a template, with the words at fault and where they are
    (`start`/`end` index `part`'s text; None when the finding is about the whole of it)."""

    reason: ModerationReason
    rule: str  # the data rule that fired (a promotion code such as DISCOUNT), else the reason
    explanation: str
    part: Part
    matched: str = ""
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True)
class ModerationResult:
    findings: tuple[Finding, ...]

    @property
    def outcome(self) -> Outcome:
        return Outcome.REJECTED if self.findings else Outcome.PASSED

    @property
    def reasons(self) -> tuple[ModerationReason, ...]:
        """The distinct reasons, in the order they were first found."""
        return tuple(dict.fromkeys(finding.reason for finding in self.findings))


@dataclass(frozen=True)
class PromotionRule:
    """Promotional wording: a match in the body rejects the template unless the match lies
    inside a match of one of the exceptions (a discount already applied to a purchase)."""

    code: str
    explanation: str
    patterns: tuple[re.Pattern[str], ...]
    exceptions: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def of(
        cls, code: str, explanation: str, patterns: Iterable[str], exceptions: Iterable[str] = ()
    ) -> PromotionRule:
        return cls(code, explanation, _compile_all(code, patterns), _compile_all(code, exceptions))

    def matches(self, text: str) -> Iterator[re.Match[str]]:
        excused = [m.span() for pattern in self.exceptions for m in pattern.finditer(text)]
        for pattern in self.patterns:
            for match in pattern.finditer(text):
                if not any(s <= match.start() and match.end() <= e for s, e in excused):
                    yield match


def _compile_all(code: str, patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern, re.IGNORECASE))
        except re.error as error:
            raise ValueError(f"rule {code}: pattern {pattern!r} is not valid: {error}") from error
    return tuple(compiled)


@dataclass(frozen=True)
class CategoryRule:
    # the body must use at least one of these placeholders (none: no such requirement)
    required_placeholders: frozenset[str] = frozenset()
    tail_allowed: bool = True
    explanation: str = ""


@dataclass(frozen=True)
class LengthLimits:
    sms_max_parts: int  # parts of a concatenated SMS (the SMS fallback carries the same text)
    social_max_chars: int  # characters of a VK or OK message

    def problems(self, message: str) -> Iterator[str]:
        parts = sms_parts(message)
        if parts > self.sms_max_parts:
            yield f"{parts} SMS parts, at most {self.sms_max_parts}"
        if len(message) > self.social_max_chars:
            yield f"{len(message)} characters, at most {self.social_max_chars} in VK and OK"


@dataclass(frozen=True)
class ModerationRules:
    version: str
    placeholder_name: re.Pattern[str]
    limits: LengthLimits
    promotions: tuple[PromotionRule, ...]
    categories: Mapping[Category, CategoryRule] = field(
        default_factory=lambda: MappingProxyType({})
    )
    min_fixed_letters: int = 0
    tail_separator: str = "\n"


@dataclass(frozen=True)
class Placeholder:
    name: str
    start: int
    end: int


def sms_parts(text: str) -> int:
    """How many SMS `text` is sent as: GSM 7-bit when every character has a 7-bit code,
    UCS-2 otherwise (any Cyrillic letter), counted in code units."""
    if all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text):
        units = sum(2 if char in GSM7_EXTENSION else 1 for char in text)
        single, part = GSM7_SINGLE, GSM7_PART
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part = UCS2_SINGLE, UCS2_PART
    return 1 if units <= single else math.ceil(units / part)


def scan_placeholders(
    text: str, name: re.Pattern[str], part: Part = Part.BODY
) -> tuple[tuple[Placeholder, ...], tuple[Finding, ...]]:
    """The placeholders of `text` and its format findings. Read left to right: "##" is a
    literal "#" (a hashtag in a tail: "##скидки"); any other "#" opens a placeholder that the
    next "#" closes, and what lies between must be a name."""
    found: list[Placeholder] = []
    problems: list[Finding] = []
    cursor = text.find(DELIMITER)
    while cursor >= 0:
        if text.startswith(ESCAPED_DELIMITER, cursor):
            cursor = text.find(DELIMITER, cursor + 2)
            continue
        closing = text.find(DELIMITER, cursor + 1)
        if closing < 0:
            problems.append(
                _format_problem(part, text, cursor, cursor + 1, "a # without its partner")
            )
            break
        candidate = text[cursor + 1 : closing]
        if name.fullmatch(candidate):
            found.append(Placeholder(candidate, cursor, closing + 1))
        else:
            problems.append(
                _format_problem(
                    part, text, cursor, closing + 1, f"a name between #…# matches {name.pattern}"
                )
            )
        cursor = text.find(DELIMITER, closing + 1)
    return tuple(found), tuple(problems)


def _format_problem(part: Part, text: str, start: int, end: int, what: str) -> Finding:
    return Finding(
        ModerationReason.INVALID_FORMAT,
        ModerationReason.INVALID_FORMAT,
        f"{what}; a placeholder is #name#, a literal # is written ##",
        part,
        text[start:end],
        start,
        end,
    )


def fill(text: str, values: Mapping[str, str], name: re.Pattern[str]) -> str:
    """`text` as sent: every placeholder that `values` has replaced by its value, every "##"
    outside placeholders by "#"; placeholders without a value stay as written."""
    placeholders, _ = scan_placeholders(text, name)
    pieces, cursor = [], 0
    for placeholder in placeholders:
        pieces.append(text[cursor : placeholder.start].replace(ESCAPED_DELIMITER, DELIMITER))
        pieces.append(values.get(placeholder.name, text[placeholder.start : placeholder.end]))
        cursor = placeholder.end
    pieces.append(text[cursor:].replace(ESCAPED_DELIMITER, DELIMITER))
    return "".join(pieces)


def placeholder_names(template: TemplateDraft, rules: ModerationRules) -> frozenset[str]:
    """The names of the well-formed placeholders of body and tail: the params a notification
    with this template must give."""
    body, _ = scan_placeholders(template.text, rules.placeholder_name)
    tail, _ = scan_placeholders(template.tail, rules.placeholder_name)
    return frozenset(placeholder.name for placeholder in (*body, *tail))


def render_message(
    template: TemplateDraft, values: Mapping[str, str], rules: ModerationRules
) -> str:
    """The message as sent on every channel: the body, then the tail after the separator,
    filled with `values` (what the length limits are measured on)."""
    message = fill(template.text, values, rules.placeholder_name)
    if template.tail.strip():
        message += rules.tail_separator + fill(template.tail, values, rules.placeholder_name)
    return message


def _masked(text: str, placeholders: Sequence[Placeholder]) -> str:
    """`text` with placeholder names turned into underscores, so `#bonus#` reads as no word
    while offsets and the `#…#` shape (which exceptions may mention) stay."""
    chars = list(text)
    for placeholder in placeholders:
        chars[placeholder.start + 1 : placeholder.end - 1] = "_" * len(placeholder.name)
    return "".join(chars)


def _promotions(text: str, rules: ModerationRules, part: Part) -> Iterator[Finding]:
    for rule in rules.promotions:
        for match in rule.matches(text):
            yield Finding(
                ModerationReason.PROMOTIONAL,
                rule.code,
                rule.explanation,
                part,
                match.group(),
                match.start(),
                match.end(),
            )


def moderate(template: TemplateDraft, rules: ModerationRules) -> ModerationResult:
    """Every reason to refuse `template` under `rules`; none means a moderator decides."""
    if not template.text.strip():
        return ModerationResult(
            (Finding(ModerationReason.EMPTY, "EMPTY", "the body is empty", Part.BODY),)
        )
    body, body_problems = scan_placeholders(template.text, rules.placeholder_name, Part.BODY)
    tail, tail_problems = scan_placeholders(template.tail, rules.placeholder_name, Part.TAIL)
    findings = [*body_problems, *tail_problems]

    used = {placeholder.name for placeholder in (*body, *tail)}
    for part, placeholders in ((Part.BODY, body), (Part.TAIL, tail)):
        for placeholder in placeholders:
            if placeholder.name not in template.samples:
                findings.append(_about(ModerationReason.UNDECLARED_PLACEHOLDER, part, placeholder))
    for name, values in template.samples.items():
        if name not in used:
            findings.append(
                Finding(
                    ModerationReason.UNUSED_SAMPLE,
                    "UNUSED_SAMPLE",
                    "a sample for a placeholder the text does not use",
                    Part.SAMPLES,
                    name,
                )
            )
        elif not any(value.strip() for value in values):
            findings.append(
                Finding(
                    ModerationReason.MISSING_SAMPLE,
                    "MISSING_SAMPLE",
                    "every placeholder needs a sample value",
                    Part.SAMPLES,
                    name,
                )
            )

    rule = rules.categories.get(template.category, CategoryRule())
    names_in_body = {placeholder.name for placeholder in body}
    if rule.required_placeholders and not rule.required_placeholders & names_in_body:
        wanted = ", ".join(f"#{name}#" for name in sorted(rule.required_placeholders))
        findings.append(
            Finding(
                ModerationReason.MISSING_REQUIRED_PLACEHOLDER,
                "MISSING_REQUIRED_PLACEHOLDER",
                rule.explanation or f"a {template.category} body uses one of {wanted}",
                Part.BODY,
            )
        )
    if template.tail.strip() and not rule.tail_allowed:
        findings.append(
            Finding(
                ModerationReason.TAIL_NOT_ALLOWED,
                "TAIL_NOT_ALLOWED",
                rule.explanation or f"a {template.category} template has no advertising tail",
                Part.TAIL,
                template.tail,
            )
        )

    fixed = re.sub(r"[^\w]|[\d_]", "", _masked(template.text, body).replace("#", ""))
    if len(fixed) < rules.min_fixed_letters:
        findings.append(
            Finding(
                ModerationReason.NO_FIXED_TEXT,
                "NO_FIXED_TEXT",
                f"the body needs at least {rules.min_fixed_letters} letters of its own, "
                "or its placeholders could carry any message past moderation",
                Part.BODY,
            )
        )

    # the tail may advertise; the body, and whatever its placeholders say they carry, may not
    findings += _promotions(_masked(template.text, body), rules, Part.BODY)
    for name in sorted(names_in_body & set(template.samples)):
        for value in template.samples[name]:
            for finding in _promotions(value, rules, Part.SAMPLES):
                findings.append(
                    Finding(
                        finding.reason,
                        finding.rule,
                        f"{finding.explanation} (in a sample of #{name}#)",
                        Part.SAMPLES,
                        finding.matched,
                        finding.start,
                        finding.end,
                    )
                )

    longest = {name: max(values, key=len) for name, values in template.samples.items() if values}
    message = render_message(template, longest, rules)
    for problem in rules.limits.problems(message):
        findings.append(
            Finding(
                ModerationReason.TOO_LONG,
                "TOO_LONG",
                f"with the longest samples the message has {problem}",
                Part.BODY,
            )
        )
    return ModerationResult(tuple(findings))


def _about(reason: ModerationReason, part: Part, placeholder: Placeholder) -> Finding:
    return Finding(
        reason,
        reason,
        "a placeholder needs a sample value declaring it",
        part,
        f"{DELIMITER}{placeholder.name}{DELIMITER}",
        placeholder.start,
        placeholder.end,
    )
