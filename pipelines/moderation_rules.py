"""The moderation rules (`data/moderation_rules.yaml`), read, validated and handed to the core
as values (`ownership.moderation.ModerationRules`)."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from types import MappingProxyType

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from ownership.message_text import Lookalikes
from ownership.moderation import (
    Category,
    CategoryRule,
    LengthLimits,
    ModerationRules,
    PromotionRule,
)
from pipelines.paths import DATA_DIR

MODERATION_RULES = DATA_DIR / "moderation_rules.yaml"


class ModerationRulesError(ValueError):
    """The rules file cannot be used; the message names the file and the fault."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Placeholder(_Strict):
    name: str


class _Length(_Strict):
    sms_max_parts: int = Field(ge=1)
    social_max_chars: int = Field(ge=1)
    tail_separator: str = "\n"


class _Category(_Strict):
    required_placeholders: list[str] = []
    tail_allowed: bool = True
    explanation: str = ""


class _Promotion(_Strict):
    code: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    explanation: str = Field(min_length=1)
    patterns: list[str] = Field(min_length=1)
    exceptions: list[str] = []


class _Lookalikes(_Strict):
    latin: str
    cyrillic: str

    @field_validator("latin", "cyrillic")
    @classmethod
    def _letters_of_their_script(cls, letters: str, info: ValidationInfo) -> str:
        # the two lines look the same to a reader: the names tell a Latin "a" from a Cyrillic
        script = str(info.field_name).upper()
        strays = [char for char in letters if not unicodedata.name(char, "").startswith(script)]
        if strays:
            names = ", ".join(f"{char!r} ({unicodedata.name(char, '?')})" for char in strays)
            raise ValueError(f"not {info.field_name} letters: {names}")
        return letters


class _Document(_Strict):
    version: str = Field(min_length=1)
    placeholder: _Placeholder
    length: _Length
    min_fixed_letters: int = Field(0, ge=0)
    categories: dict[Category, _Category] = {}
    promotions: list[_Promotion]
    lookalikes: _Lookalikes | None = None
    offer_words: list[str] = []

    @field_validator("promotions")
    @classmethod
    def _codes_are_unique(cls, promotions: list[_Promotion]) -> list[_Promotion]:
        codes = [promotion.code for promotion in promotions]
        if len(codes) != len(set(codes)):
            raise ValueError(f"promotion codes repeat: {sorted(codes)}")
        return promotions


def load_moderation_rules(path: Path = MODERATION_RULES) -> ModerationRules:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(loaded, dict):  # empty, or a list: pydantic would name its model
            raise ValueError("holds no rules: expected a mapping of the rules' sections")
        document = _Document.model_validate(loaded)
        name = re.compile(document.placeholder.name)
        return ModerationRules(
            version=document.version,
            placeholder_name=name,
            limits=LengthLimits(document.length.sms_max_parts, document.length.social_max_chars),
            promotions=tuple(
                PromotionRule.of(rule.code, rule.explanation, rule.patterns, rule.exceptions)
                for rule in document.promotions
            ),
            categories=MappingProxyType(
                {
                    category: CategoryRule(
                        frozenset(rule.required_placeholders), rule.tail_allowed, rule.explanation
                    )
                    for category, rule in document.categories.items()
                }
            ),
            min_fixed_letters=document.min_fixed_letters,
            tail_separator=document.length.tail_separator,
            lookalikes=Lookalikes(**document.lookalikes.model_dump())
            if document.lookalikes
            else Lookalikes(),
            offer_words=ModerationRules.compile_offer_words(document.offer_words),
        )
    except ValidationError as error:  # before ValueError, which it is
        raise ModerationRulesError(f"{path}: {_faults(error)}") from error
    # OverflowError: a repetition past what `re` counts; RecursionError: YAML nested too deep
    except (OSError, yaml.YAMLError, ValueError, re.error, OverflowError, RecursionError) as error:
        # one line: a YAML error points at its place over several
        raise ModerationRulesError(f"{path}: {' '.join(str(error).split())}") from error


def _faults(error: ValidationError) -> str:
    """Each fault as its place in the file and what is wrong (`length.sms_max_parts: Input
    should be ...`), in one line: pydantic's own text adds its model's name, the input's type
    and a link to its documentation, none of which helps whoever edits the file."""
    faults = []
    for fault in error.errors(include_url=False):
        # a bad key (a category's) is placed at the key, without pydantic's "[key]" after it
        place = [part for part in fault["loc"] if part != "[key]"]
        where = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in place
        ).removeprefix(".")
        what = fault["msg"].removeprefix("Value error, ")
        faults.append(f"{where}: {what}" if where else what)
    return "; ".join(faults)
