"""Hostile rule text: an alias bomb or an oversized file is refused at once with a clear error, everywhere rules load."""

from __future__ import annotations

import time

import pytest

from retain.console.rule_editing import MAX_RULE_TEXT_CHARS, validate_rule_text
from triggers.loader import MAX_RULE_FILE_CHARS, check_rules, parse_rule_text

LEVELS = 8  # each level multiplies by 9: about 10 s of CPU per call before aliases were refused


def alias_bomb(levels: int = LEVELS, *, indent: str = "") -> str:
    """A ~400-byte 'billion laughs' document: 9**levels strings behind a few aliases."""
    lines = ["x0: &x0 [" + ",".join(['"lol"'] * 9) + "]"]
    lines += [f"x{i}: &x{i} [" + ",".join([f"*x{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "".join(f"{indent}{line}\n" for line in lines)


RULE_HEAD = "id: bomb\nversion: 1\nsignals: [usage_drop]\ntopic: marketing\naction: {channels: [email], brief: x}\n"


def test_the_console_refuses_an_alias_bomb_quickly_naming_the_problem():
    started = time.process_time()
    rule, errors = validate_rule_text(RULE_HEAD + alias_bomb())
    assert time.process_time() - started < 1.0  # CPU time of this process, not wall time
    assert rule is None
    assert errors[0]["field"] == "(yaml)" and "alias" in errors[0]["message"]
    assert errors[0]["line"] == 6  # the first anchor


def test_rule_files_refuse_anchors_and_aliases_with_file_and_line(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text("rules: []\n" + alias_bomb(), encoding="utf-8")
    started = time.process_time()
    ruleset, errors = check_rules(path)
    assert time.process_time() - started < 1.0
    assert ruleset is None and [(e.line, e.field) for e in errors] == [(2, "(yaml)")]
    assert "anchors and aliases" in errors[0].message


@pytest.mark.parametrize("text", ["a: &only 1\n", "a: 1\nb: *nowhere\n", "base: &b {x: 1}\nrule: {<<: *b}\n"])
def test_any_anchor_or_alias_is_refused_even_a_harmless_one(text):
    # Rule files have no use for them, and refusing all is simpler to state than a budget.
    _, errors = parse_rule_text(text, "r.yaml")
    assert [e.field for e in errors] == ["(yaml)"]


def test_an_oversized_rule_file_is_refused_before_it_is_parsed():
    _, errors = parse_rule_text("#" * (MAX_RULE_FILE_CHARS + 1), "big.yaml")
    assert [(e.line, e.field) for e in errors] == [(1, "(file)")]
    assert str(MAX_RULE_FILE_CHARS) in errors[0].message


def test_the_console_refuses_rule_text_over_its_bound():
    rule, errors = validate_rule_text(RULE_HEAD + "description: " + "x" * MAX_RULE_TEXT_CHARS + "\n")
    assert rule is None and errors[0]["field"] == "(rule)" and str(MAX_RULE_TEXT_CHARS) in errors[0]["message"]
