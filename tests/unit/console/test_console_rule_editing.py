"""Editing one rule: validation with editor line numbers, version bumps, rewriting its file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from retain.console.rule_editing import file_text_with, rule_yaml, text_diff, validate_rule_text, with_version_bump
from triggers.loader import load_rules, parse_rule_text

ROOT = Path(__file__).resolve().parents[3]
RULES = load_rules(ROOT / "rules")
NUDGE = RULES.get("checkout-idle-nudge")
TEXT = rule_yaml(NUDGE)


def line_of(text: str, prefix: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(prefix))


def test_the_shown_text_validates_back_to_the_same_rule():
    rule, errors = validate_rule_text(TEXT, expected_id=NUDGE.id)
    assert errors == [] and rule == NUDGE


@pytest.mark.parametrize(("old", "new", "field", "message"), [
    ("priority: 30", "priority: high", "priority", "valid integer"),  # wrong type
    ("topic: marketing", "topic: spam", "topic", "'service' or 'marketing'"),  # not in the enum
    ("cooldown: 7d", "cooldown: soon", "cooldown", "duration"),  # unparseable duration
    ("holdout_pct: 10.0", "holdout_pct: 150", "holdout_pct", "less than or equal to 100"),  # out of range
])
def test_errors_point_at_the_line_in_the_editor(old, new, field, message):
    text = TEXT.replace(old, new)
    rule, errors = validate_rule_text(text)
    assert rule is None
    assert [(e["field"], e["line"]) for e in errors] == [(field, line_of(text, field + ":"))]
    assert message in errors[0]["message"]


@pytest.mark.parametrize(("text", "field"), [
    ("", "(rule)"),  # nothing typed
    ("- a\n- b\n", "(rule)"),  # a list, not a mapping
    ("id: [unclosed\n", "(yaml)"),  # broken YAML
])
def test_unusable_text(text, field):
    rule, errors = validate_rule_text(text)
    assert rule is None and errors[0]["field"] == field


def test_the_id_cannot_change_on_edit():
    rule, errors = validate_rule_text(TEXT.replace("id: checkout-idle-nudge", "id: other"), expected_id=NUDGE.id)
    assert rule is None and errors[0]["field"] == "id"


def test_changed_content_without_a_version_bump_gets_one():
    edited, _ = validate_rule_text(TEXT.replace("priority: 30", "priority: 35"))
    assert with_version_bump(edited, NUDGE).version == NUDGE.version + 1


def test_an_author_bump_is_kept_and_no_change_saves_nothing():
    edited, _ = validate_rule_text(TEXT.replace("priority: 30", "priority: 35").replace("version: 1", "version: 7"))
    assert with_version_bump(edited, NUDGE).version == 7
    same, _ = validate_rule_text(TEXT.replace("version: 1", "version: 5"))
    assert with_version_bump(same, NUDGE) is NUDGE


def test_rewriting_a_file_keeps_its_other_rules_and_header():
    path = ROOT / "rules" / "shipping_delay.yaml"
    original = path.read_text()
    edited, _ = validate_rule_text(rule_yaml(RULES.get("shipping-delay-goodwill")).replace("priority: 120", "priority: 110"))
    text = file_text_with(original, edited)
    assert text.startswith("# yaml-language-server")
    rules, errors = parse_rule_text(text, "x.yaml")
    assert errors == []
    assert {r.id: r.priority for r in rules} == {"shipping-delay-notice": 100, "shipping-delay-goodwill": 110}


def test_a_new_rule_is_appended():
    edited, _ = validate_rule_text(TEXT.replace("id: checkout-idle-nudge", "id: brand-new"))
    data = yaml.safe_load(file_text_with((ROOT / "rules" / "checkout_idle.yaml").read_text(), edited))
    assert [r["id"] for r in data["rules"]] == ["checkout-idle-nudge", "brand-new"]


def test_text_diff():
    assert text_diff("a\n", "a\n") == ""
    assert "-priority: 30\n+priority: 35" in text_diff(TEXT, TEXT.replace("priority: 30", "priority: 35"))


@pytest.mark.parametrize("text", ["x\x85y", "line\u2028separator", "para\u2029"])
def test_text_with_a_unicode_line_break_survives_the_yaml_view(text):
    # PyYAML writes NEL/LS/PS raw in single quotes and reads NEL back as a space: the YAML view
    # (and the rule file) would have changed the rule silently. Found by the rule form's round trip.
    rule = NUDGE.model_copy(update={"description": text})
    back, errors = validate_rule_text(rule_yaml(rule))
    assert errors == [] and back.description == text
    assert load_rules_text(file_text_with(None, rule)).description == text


def load_rules_text(text: str):
    rules, errors = parse_rule_text(text, "t.yaml")
    assert errors == []
    return rules[0]
