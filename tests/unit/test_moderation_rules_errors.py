"""A rules file the loader refuses is named with each fault in one line: where in the file and
what is wrong, without pydantic's own wording around it (its model, a documentation link)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipelines.moderation_rules import MODERATION_RULES, ModerationRulesError, load_moderation_rules

Change = Callable[[dict[str, Any]], None]


def refused(tmp_path: Path, change: Change) -> str:
    """The loader's message for the packaged rules with `change` made to them."""
    document = yaml.safe_load(MODERATION_RULES.read_text("utf-8"))
    change(document)
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")
    with pytest.raises(ModerationRulesError) as error:
        load_moderation_rules(path)
    return str(error.value)


def test_a_value_out_of_range_is_named_by_its_place_in_the_file_in_one_line(
    tmp_path: Path,
) -> None:
    message = refused(tmp_path, lambda doc: doc["length"].update(sms_max_parts=0))

    assert message == (
        f"{tmp_path / 'rules.yaml'}: length.sms_max_parts: "
        "Input should be greater than or equal to 1"
    )


def test_each_fault_is_named_and_no_message_ends_in_a_documentation_link(
    tmp_path: Path,
) -> None:
    def two_faults(doc: dict[str, Any]) -> None:
        doc["promotions"][1]["code"] = "lower case"
        doc["spam_score"] = 3

    message = refused(tmp_path, two_faults)

    assert "promotions[1].code: String should match pattern" in message
    assert "spam_score: Extra inputs are not permitted" in message
    assert "\n" not in message
    assert "errors.pydantic.dev" not in message and "validation error for" not in message


def test_a_fault_a_rule_finds_is_said_in_the_rules_own_words(tmp_path: Path) -> None:
    def a_latin_letter_among_cyrillic(doc: dict[str, Any]) -> None:
        doc["lookalikes"]["cyrillic"] = "a" + doc["lookalikes"]["cyrillic"][1:]

    message = refused(tmp_path, a_latin_letter_among_cyrillic)

    assert message.endswith("lookalikes.cyrillic: not cyrillic letters: 'a' (LATIN SMALL LETTER A)")


def test_a_category_the_rules_do_not_know_is_named_by_its_key(tmp_path: Path) -> None:
    message = refused(tmp_path, lambda doc: doc["categories"].update(newsletter={}))

    assert message.endswith(
        "categories.newsletter: Input should be 'otp', 'transaction', 'order_status' or 'service'"
    )


@pytest.mark.parametrize("text", ["", "- a list\n- of rules\n"], ids=["empty", "a list"])
def test_a_rules_file_that_is_no_mapping_says_so_without_naming_a_model(
    tmp_path: Path, text: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(text)

    with pytest.raises(ModerationRulesError) as refused:
        load_moderation_rules(rules)

    assert (
        str(refused.value) == f"{rules}: holds no rules: expected a mapping of the rules' sections"
    )


def test_a_yaml_error_in_the_rules_is_one_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: 1\nlength: [unclosed\n")

    with pytest.raises(ModerationRulesError) as refused:
        load_moderation_rules(rules)

    assert "\n" not in str(refused.value) and str(rules) in str(refused.value)


@pytest.mark.parametrize(
    "text",
    [
        # the shipped rules, with a repetition `re` cannot count
        MODERATION_RULES.read_text().replace("{0,31}", "{0,4294967296}"),
        "[" * 3000 + "]" * 3000,  # nested past what the YAML reader recurses
    ],
    ids=["a repetition too large", "nested too deep"],
)
def test_a_rules_file_past_the_readers_limits_is_one_line(tmp_path: Path, text: str) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(text)

    with pytest.raises(ModerationRulesError) as refused:
        load_moderation_rules(rules)

    assert "\n" not in str(refused.value) and str(rules) in str(refused.value)
