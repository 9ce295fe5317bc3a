"""Loading rule files: every error names file, line and field; the CLI reports them all."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from triggers.cli import app
from triggers.loader import RuleLoadError, check_rules, load_rules, parse_rule_text

VALID_RULE = """\
  - id: {rule_id}
    version: 1
    signals: [usage_drop]
    topic: marketing
    action:
      channels: [email]
      brief: Check in.
"""


def _file(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


# Each case: a broken rule file, and the (line, field, message fragment) the loader must report.
BROKEN = [
    (  # unknown signal kind: the line of the list, the index in the field
        """\
        rules:
          - id: a
            version: 1
            signals: [usage_drop, weather]
            topic: marketing
            action: {channels: [email], brief: x}
        """,
        4, "rules[0](a).signals[1]", "usage_drop",
    ),
    (  # bad value deep inside a condition tree
        """\
        rules:
          - id: a
            version: 1
            signals: [usage_drop]
            topic: marketing
            when:
              all:
                - {field: signal.drop_pct, op: ">=", value: 50}
                - any:
                    - {field: risk.bucket, op: in, value: [high]}
                    - {field: risk.bucket, op: like, value: hi}
            action: {channels: [email], brief: x}
        """,
        11, "rules[0](a).when.all[1].any[1].op", "Input should be",
    ),
    (  # missing required field: the line where the rule starts
        """\
        rules:
          - id: a
            version: 1
            signals: [usage_drop]
            action: {channels: [email], brief: x}
        """,
        2, "rules[0](a).topic", "Field required",
    ),
    (  # a model-level check (bypass only for service) points at the rule
        """\
        rules:
          - id: a
            version: 1
            signals: [usage_drop]
            topic: marketing
            bypass_caps: true
            action: {channels: [email], brief: x}
        """,
        2, "rules[0](a)", "bypass_caps is only allowed",
    ),
    (  # misspelt key
        """\
        rules:
          - id: a
            version: 1
            signals: [usage_drop]
            topic: marketing
            coldown: 3d
            action: {channels: [email], brief: x}
        """,
        6, "rules[0](a).coldown", "Extra inputs",
    ),
    (  # a bad duration in the second rule
        """\
        rules:
          - id: a
            version: 1
            signals: [usage_drop]
            topic: marketing
            action: {channels: [email], brief: x}
          - id: b
            version: 1
            signals: [usage_drop]
            topic: service
            relevance: soon
            action: {channels: [email], brief: x}
        """,
        11, "rules[1](b).relevance", "duration",
    ),
    (  # YAML syntax error: the line the parser stopped at
        """\
        rules:
          - id: a
            version: [1
            signals: [usage_drop]
        """,
        4, "(yaml)", "",
    ),
    (  # YAML keeps the last of two equal keys silently; we do not
        """\
        rules:
          - id: a
            version: 1
            signals: [usage_drop]
            topic: marketing
            topic: service
            action: {channels: [email], brief: x}
        """,
        6, "rules[0].topic", "duplicate key",
    ),
    (  # not a mapping at the top
        """\
        - id: a
        """,
        1, "(file)", "RuleFile",
    ),
]


@pytest.mark.parametrize(("body", "line", "field", "fragment"), BROKEN)
def test_errors_name_file_line_and_field(tmp_path, body, line, field, fragment):
    path = _file(tmp_path, "broken.yaml", body)
    ruleset, errors = check_rules(path)
    assert ruleset is None
    found = [(e.file, e.line, e.field) for e in errors]
    assert (str(path), line, field) in found, errors
    assert any(fragment in e.message for e in errors if e.line == line), errors


def test_every_error_of_a_file_is_reported_not_only_the_first(tmp_path):
    body = VALID_RULE.format(rule_id="Not Valid").replace("version: 1", "version: 0")
    path = _file(tmp_path, "two.yaml", "rules:\n" + body)
    _, errors = check_rules(path)
    assert [(e.line, e.field) for e in errors] == [(2, "rules[0](Not Valid).id"), (3, "rules[0](Not Valid).version")]


def test_duplicate_rule_ids_across_files_are_an_error(tmp_path):
    _file(tmp_path, "a.yaml", "rules:\n" + VALID_RULE.format(rule_id="same"))
    second = _file(tmp_path, "b.yml", "rules:\n" + VALID_RULE.format(rule_id="other") + VALID_RULE.format(rule_id="same"))
    ruleset, errors = check_rules(tmp_path)
    assert ruleset is None
    assert [(e.file, e.line, e.field) for e in errors] == [(str(second), 9, "rules[1].id")]
    assert "a.yaml" in errors[0].message


def test_a_folder_loads_every_yaml_file_below_it(tmp_path):
    _file(tmp_path, "a.yaml", "rules:\n" + VALID_RULE.format(rule_id="one"))
    (tmp_path / "more").mkdir()
    _file(tmp_path / "more", "b.yml", "rules:\n" + VALID_RULE.format(rule_id="two"))
    _file(tmp_path, "notes.txt", "not a rule file")
    ruleset = load_rules(tmp_path)
    assert [r.id for r in ruleset] == ["one", "two"]
    assert ruleset.sources["two"].endswith("b.yml")


def test_load_rules_raises_with_all_errors(tmp_path):
    _file(tmp_path, "a.yaml", "rules:\n  - id: x\n")
    with pytest.raises(RuleLoadError) as info:
        load_rules(tmp_path)
    assert {e.field for e in info.value.errors} >= {"rules[0](x).version", "rules[0](x).signals"}
    assert str(tmp_path / "a.yaml") + ":2:" in str(info.value)


def test_empty_file_is_an_empty_rule_list():
    rules, errors = parse_rule_text("", "empty.yaml")
    assert (rules, errors) == ([], [])


@pytest.mark.parametrize("target", ["missing-folder", "empty-folder"])
def test_nothing_to_load_is_an_error(tmp_path, target):
    if target == "empty-folder":
        (tmp_path / target).mkdir()
    ruleset, errors = check_rules(tmp_path / target)
    assert ruleset is None and errors[0].field == "(path)"


def test_cli_validate_prints_file_line_field_and_exits_non_zero(tmp_path):
    path = _file(tmp_path, "bad.yaml", "rules:\n" + VALID_RULE.format(rule_id="a").replace("usage_drop", "weather"))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}:4: rules[0](a).signals[0]: Input should be" in result.stdout


def test_cli_validate_summarises_valid_rules(tmp_path):
    _file(tmp_path, "a.yaml", "rules:\n" + VALID_RULE.format(rule_id="a") + VALID_RULE.format(rule_id="b"))
    result = CliRunner().invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 0, result.stdout
    assert "ok: 2 rules (2 enabled) in 1 file(s), fingerprint" in result.stdout


def test_cli_schema_writes_the_schema(tmp_path):
    target = tmp_path / "rule.schema.json"
    result = CliRunner().invoke(app, ["schema", "--write", str(target)])
    assert result.exit_code == 0
    assert '"title": "retain trigger rules"' in target.read_text(encoding="utf-8")


def test_an_unreadable_file_is_an_error_not_a_crash(tmp_path):
    (tmp_path / "latin1.yaml").write_bytes("rules: []  # caf\xe9\n".encode("latin-1"))
    ruleset, errors = check_rules(tmp_path)
    assert ruleset is None
    assert (errors[0].line, errors[0].field) == (0, "(file)")
