"""Automatic moderation of message templates (DESIGN §7, "Templates").

A template is a body with `#name#` placeholders, a category, sample values for every
placeholder and an optional advertising tail. `moderate` gives every reason to refuse it, each
with where in the text it fired; a template without findings goes on to a human moderator.

The rules are data (`data/moderation_rules.yaml`, read by `pipelines.reference`): this module
holds only what the rules mean, so moderators extend them without touching code.

`moderate_message` holds a notification's message (an approved template filled with the
request's params) to the same length and promotion rules, since params can carry anything.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import accumulate
from types import MappingProxyType

from ownership.message_text import Lookalikes, septets, sms_parts, ucs2_units, visible_text

DELIMITER = "#"  # DESIGN §7 writes placeholders as #name#
ESCAPED_DELIMITER = "##"  # a literal "#" in a template


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
    # with the costliest samples filled in (or a notification's params), body and tail do not
    # fit a channel's limit
    TOO_LONG = "TOO_LONG"
    # the body, a body placeholder's sample, or the body filled with samples (or with a
    # notification's params) matches a promotional rule with no exception
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
    the length limits are measured with the costliest of them."""

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
        excused: _Spans | None = None  # found once a pattern matches: most texts match none,
        for pattern in self.patterns:  # and every notification is checked
            for match in pattern.finditer(text):
                if excused is None:
                    excused = _Spans.of(
                        m.span() for exc in self.exceptions for m in exc.finditer(text)
                    )
                if not excused.cover(match.start(), match.end()):
                    yield match

    def excused_matches(self, text: str) -> Iterator[re.Match[str]]:
        """The matches an exception excuses: a receipt's words."""
        if not self.exceptions:
            return
        excused: _Spans | None = None
        for pattern in self.patterns:
            for match in pattern.finditer(text):
                if excused is None:
                    excused = _Spans.of(
                        m.span() for exc in self.exceptions for m in exc.finditer(text)
                    )
                if excused.cover(match.start(), match.end()):
                    yield match


@dataclass(frozen=True)
class _Spans:
    """Spans sorted by start, with the farthest end reached by each and those before it: a
    text of a thousand matches and a thousand exceptions costs thousands of steps, not a
    million (a long sample of «начислен бонус» repeated, say)."""

    starts: tuple[int, ...]
    reach: tuple[int, ...]

    @classmethod
    def of(cls, spans: Iterable[tuple[int, int]]) -> _Spans:
        ordered = sorted(spans)
        return cls(
            tuple(start for start, _ in ordered),
            tuple(accumulate((end for _, end in ordered), max)),
        )

    def cover(self, start: int, end: int) -> bool:
        """Whether one of the spans holds [start, end)."""
        before = bisect_right(self.starts, start)  # the spans that start at `start` or sooner
        return before > 0 and self.reach[before - 1] >= end


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
        yield from self.sms_problems(message)
        yield from self.social_problems(message)

    def sms_problems(self, message: str) -> Iterator[str]:
        parts = sms_parts(message)
        if parts > self.sms_max_parts:
            yield f"{parts} SMS parts, at most {self.sms_max_parts}"

    def social_problems(self, message: str) -> Iterator[str]:
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
    lookalikes: Lookalikes = field(default_factory=Lookalikes)
    # phrases that offer what stands beside them (получите 500, ко всем товарам, get 20%): a
    # param holding one is refused where the template's own promotional word was excused as a
    # receipt
    offer_words: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def compile_offer_words(cls, patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
        return _compile_all("offer_words", patterns)


@dataclass(frozen=True)
class Placeholder:
    name: str
    start: int
    end: int


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


def _promotional_spans(
    text: str, rules: ModerationRules
) -> Iterator[tuple[PromotionRule, int, int, str]]:
    """Every promotional match in `text`, read past invisible characters and in each script's
    reading, as (rule, start, end, what it read) with offsets into `text`, each once."""
    visible, starts, ends = visible_text(text)
    readings = rules.lookalikes.readings(visible)
    for rule in rules.promotions:
        seen = set()
        for reading in readings:
            for match in rule.matches(reading):
                if match.end() == match.start():
                    continue
                span = (starts[match.start()], ends[match.end() - 1])
                if span not in seen:
                    seen.add(span)
                    yield rule, *span, match.group()


def _promotions(text: str, rules: ModerationRules, part: Part) -> Iterator[Finding]:
    for rule, start, end, _ in _promotional_spans(text, rules):
        yield Finding(
            ModerationReason.PROMOTIONAL,
            rule.code,
            rule.explanation,
            part,
            text[start:end],
            start,
            end,
        )


@dataclass(frozen=True)
class _Traced:
    """A text filled with values, and for each of its characters the span of the template
    text it stands for and the index of the placeholder whose value it is (-1: fixed text)."""

    text: str
    spans: tuple[tuple[int, int], ...]
    owners: tuple[int, ...]


def _fill_traced(text: str, values: Mapping[str, str], name: re.Pattern[str]) -> _Traced:
    """`fill`, keeping where each character came from, so a match in the filled text can be
    told apart by whether a value takes part in it and shown where it is in the template."""
    placeholders, _ = scan_placeholders(text, name)
    chars: list[str] = []
    spans: list[tuple[int, int]] = []
    owners: list[int] = []

    def fixed(start: int, end: int) -> None:
        at = start
        while at < end:
            width = 2 if text.startswith(ESCAPED_DELIMITER, at, end) else 1
            chars.append(text[at])
            spans.append((at, at + width))
            owners.append(-1)
            at += width

    cursor = 0
    for index, placeholder in enumerate(placeholders):
        fixed(cursor, placeholder.start)
        value = values.get(placeholder.name)
        if value is None:
            chars.extend(text[placeholder.start : placeholder.end])
            spans.extend((at, at + 1) for at in range(placeholder.start, placeholder.end))
            owners.extend([-1] * (placeholder.end - placeholder.start))
        else:
            chars.extend(value)
            spans.extend([(placeholder.start, placeholder.end)] * len(value))
            owners.extend([index] * len(value))
        cursor = placeholder.end
    fixed(cursor, len(text))
    return _Traced("".join(chars), tuple(spans), tuple(owners))


def _filled_promotions(
    text: str, values: Mapping[str, str], rules: ModerationRules, *, within_one_value: bool
) -> Iterator[Finding]:
    """Promotion in `text` filled with `values` that a value takes part in: a word split by a
    placeholder (`Ск#x#дка` with x = «и»), or a value that reads as promotion beside the
    fixed text. A match in the fixed text alone is not one: the template's own words are
    judged without values (`_receipts_made_offers` for a value that turns them into an
    offer). `within_one_value`: also a match lying inside a single value (left out where each
    value is checked on its own as well)."""
    traced = _fill_traced(text, values, rules.placeholder_name)
    for rule, start, end, read in _promotional_spans(traced.text, rules):
        owners = set(traced.owners[start:end])
        if owners == {-1} or (not within_one_value and len(owners) == 1):
            continue
        source_start, source_end = traced.spans[start][0], traced.spans[end - 1][1]
        yield Finding(
            ModerationReason.PROMOTIONAL,
            rule.code,
            f"{rule.explanation} (filled in, it reads «{read}»)",
            Part.BODY,
            text[source_start:source_end],
            source_start,
            source_end,
        )


def _receipts_made_offers(
    text: str, values: Mapping[str, str], rules: ModerationRules
) -> Iterator[Finding]:
    """The template's own promotional words that an exception excused as a receipt
    («Начислено #n# бонусов»), once a param of the body makes an offer of them by holding a
    phrase of `offer_words` (n = «0 — получите 500»), however the exception reads the filled
    text. A param that merely breaks an exception's shape (n = «12.5», an address) fills the
    receipt in."""
    placeholders, _ = scan_placeholders(text, rules.placeholder_name)
    offered = next(
        (
            found
            for name in sorted({placeholder.name for placeholder in placeholders})
            if (found := _offer_in(values.get(name, ""), rules)) is not None
        ),
        None,
    )
    if offered is None:  # the common case, with no scan of the template
        return
    masked = _masked(text, placeholders)
    visible, starts, stops = visible_text(masked)
    for rule in rules.promotions:
        seen = set()
        for reading in rules.lookalikes.readings(visible):
            for match in rule.excused_matches(reading):
                span = (starts[match.start()], stops[match.end() - 1])
                if match.end() > match.start() and span not in seen:
                    seen.add(span)
                    yield Finding(
                        ModerationReason.PROMOTIONAL,
                        rule.code,
                        f"{rule.explanation} (a param makes an offer of it: «{offered}»)",
                        Part.BODY,
                        text[span[0] : span[1]],
                        *span,
                    )


def _offer_in(value: str, rules: ModerationRules) -> str | None:
    """The offer phrase a param's value holds, read past invisible characters and in each
    script's reading, as promotion is; None: none."""
    if not value:
        return None
    visible, _, _ = visible_text(value)
    for reading in rules.lookalikes.readings(visible):
        for pattern in rules.offer_words:
            if found := pattern.search(reading):
                return found.group()
    return None


def _sample_sets(samples: Mapping[str, tuple[str, ...]]) -> Iterator[dict[str, str]]:
    """The samples taken in step: the first of each placeholder, then the second (a
    placeholder with fewer samples repeats its last), and so on."""
    declared = {name: values for name, values in samples.items() if values}
    seen = set()
    for index in range(max((len(values) for values in declared.values()), default=0)):
        chosen = {name: values[min(index, len(values) - 1)] for name, values in declared.items()}
        if (key := tuple(chosen.values())) not in seen:  # each regex pass costs, so once each
            seen.add(key)
            yield chosen


def _costliest_sample_sets(template: TemplateDraft) -> Iterator[dict[str, str]]:
    """The sample choices that make the message longest in each measure: characters, GSM
    7-bit septets (an extension character counts two) and UCS-2 code units. Each placeholder
    adds its own value's cost, so the costliest choice is made placeholder by placeholder;
    since one non-GSM character turns the whole message UCS-2, each placeholder with such a
    sample is also tried with its costliest one while the others take theirs."""
    declared = {name: values for name, values in template.samples.items() if values}
    yield {name: max(values, key=len) for name, values in declared.items()}
    yield {name: max(values, key=septets) for name, values in declared.items()}
    most_units = {name: max(values, key=ucs2_units) for name, values in declared.items()}
    yield most_units
    for name, values in declared.items():
        wide = [value for value in values if septets(value) < 0]
        if wide:
            yield most_units | {name: max(wide, key=ucs2_units)}


def _too_long(
    template: TemplateDraft, value_sets: Iterable[Mapping[str, str]], rules: ModerationRules
) -> Iterator[str]:
    """The worst length problem on SMS and the worst on VK and OK among the messages filled
    with each of `value_sets`."""
    messages = [render_message(template, values, rules) for values in value_sets]
    yield from rules.limits.sms_problems(max(messages, key=sms_parts))
    yield from rules.limits.social_problems(max(messages, key=len))


def moderate_message(
    template: TemplateDraft, values: Mapping[str, str], rules: ModerationRules
) -> ModerationResult:
    """The reasons to refuse sending `template` filled with a notification's `values`: the
    message does not fit a channel's limit, or the values make the body promotional (the
    tail may advertise). An approved template's own words are not judged again, so a change
    of rules does not stop its notifications."""
    findings = [
        Finding(ModerationReason.TOO_LONG, "TOO_LONG", f"the message has {problem}", Part.TEMPLATE)
        for problem in _too_long(template, [values], rules)
    ]
    if findings:
        return ModerationResult(tuple(findings))  # scanning an overlong text costs the most
    return ModerationResult(
        (
            *_filled_promotions(template.text, values, rules, within_one_value=True),
            *_receipts_made_offers(template.text, values, rules),
        )
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

    too_long = [
        Finding(
            ModerationReason.TOO_LONG,
            "TOO_LONG",
            f"with the costliest samples the message has {problem}",
            Part.BODY,
        )
        for problem in _too_long(template, _costliest_sample_sets(template), rules)
    ]
    if too_long:
        # promotion is not looked for in an overlong text, as in moderate_message: scanning
        # the samples and the body filled with each set of them costs the most, and a
        # submission at the schema's bounds would hold a worker for minutes
        return ModerationResult((*findings, *too_long))

    # the tail may advertise; the body, and whatever its placeholders say they carry, may not
    findings += _promotions(_masked(template.text, body), rules, Part.BODY)
    for name in sorted(names_in_body & set(template.samples)):
        for value in dict.fromkeys(template.samples[name]):
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
    findings += _promotions_once_filled(template, rules, findings)
    return ModerationResult(tuple(findings))


def _promotions_once_filled(
    template: TemplateDraft, rules: ModerationRules, found: Sequence[Finding]
) -> Iterator[Finding]:
    """Promotion that appears only once the body is filled with each set of samples, and
    that no finding of the same rule already covers."""
    seen = [(f.rule, f.start or 0, f.end or 0) for f in found if f.part is Part.BODY]
    for values in _sample_sets(template.samples):
        for finding in (
            *_filled_promotions(template.text, values, rules, within_one_value=False),
            *_receipts_made_offers(template.text, values, rules),
        ):
            span = (finding.start or 0, finding.end or 0)
            if not any(
                rule == finding.rule and start < span[1] and span[0] < end
                for rule, start, end in seen
            ):
                seen.append((finding.rule, *span))
                yield finding


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
