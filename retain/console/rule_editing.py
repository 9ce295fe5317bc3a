"""Editing one rule in the console: its YAML text, validation with line numbers, and saving to its file.

The console edits one rule at a time as a YAML mapping. Validation wraps that text into a
one-rule file and runs the real loader (``triggers.loader.parse_rule_text``), so the console and
``retain rules check`` can never disagree; line numbers are shifted back to the editor's text.
Saving rewrites the rule's own file (keeping its leading comment lines and the other rules in it)
atomically, staged first and renamed into place only once the database holds the audit row; the
worker's ``RuleReloader`` then picks the change up and writes the rule version and audit rows, and
the console adds who made the change to its own audit log.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra.settings import Settings
from triggers.loader import check_rules, load_yaml, parse_rule_text
from triggers.rule import MAX_RULE_VERSION, Rule
from triggers.ruleset import RuleSet

EDITOR_FILE = "(editor)"
MAX_RULE_TEXT_CHARS = 20_000  # one rule is about 1 kB; the bound keeps a validate call cheap


class RulesUnavailable(Exception):
    """The rule folder cannot be loaded (its errors are the message)."""


def load(settings: Settings) -> RuleSet:
    """The rules as the files hold them now; RulesUnavailable when they do not load."""
    ruleset, errors = check_rules(settings.rules_dir)
    if ruleset is None:
        raise RulesUnavailable("; ".join(str(e) for e in errors))
    return ruleset


def rule_yaml(rule: Rule | dict[str, Any]) -> str:
    """The rule as the YAML mapping the editor shows (canonical field order)."""
    content = rule.canonical() if isinstance(rule, Rule) else rule
    return yaml.safe_dump(content, sort_keys=False, allow_unicode=True, width=100)


def _as_rule_file(text: str) -> str:
    lines = text.splitlines() or [""]
    # "rules:" + "- " puts the mapping one line down and two columns right; nothing else changes.
    return "rules:\n" + "\n".join(("- " if i == 0 else "  ") + line for i, line in enumerate(lines)) + "\n"


def validate_rule_text(text: str, *, expected_id: str | None = None) -> tuple[Rule | None, list[dict[str, Any]]]:
    """Parse and validate one rule's YAML: the rule (None on errors) and errors as {line, field, message}."""
    if not text.strip():
        return None, [{"line": 1, "field": "(rule)", "message": "the rule is empty"}]
    if len(text) > MAX_RULE_TEXT_CHARS:
        return None, [{"line": 1, "field": "(rule)", "message": f"longer than {MAX_RULE_TEXT_CHARS} characters"}]
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return None, [{"line": (mark.line + 1) if mark else 1, "field": "(yaml)",
                       "message": str(getattr(exc, "problem", None) or exc)}]
    if not isinstance(data, dict):
        return None, [{"line": 1, "field": "(rule)", "message": "a rule is a mapping of fields (id, version, ...)"}]
    rules, errors = parse_rule_text(_as_rule_file(text), EDITOR_FILE)
    found = []
    for error in errors:
        field = error.field
        if field.startswith("rules[0]"):
            field = field.split(".", 1)[1] if "." in field else "(rule)"
        found.append({"line": max(error.line - 1, 1), "field": field, "message": error.message})
    if found:
        return None, found
    rule = rules[0]
    if expected_id is not None and rule.id != expected_id:
        return None, [{"line": 1, "field": "id", "message": f"the id cannot change here (it is {expected_id!r})"}]
    return rule, []


def with_version_bump(new: Rule, old: Rule | None) -> Rule:
    """``new``, its version raised past ``old``'s when the content changed but the version was not raised.

    When nothing but the version differs, ``old`` is returned: there is nothing to save.
    """
    if old is None:
        return new
    strip = lambda rule: {k: v for k, v in rule.canonical().items() if k != "version"}  # noqa: E731
    if strip(new) == strip(old):
        return old
    if new.version > old.version:
        return new
    # At the highest version a column holds, the content changes under the same number (as unbumped edits do).
    return Rule.model_validate({**new.canonical(), "version": min(old.version + 1, MAX_RULE_VERSION)})


def text_diff(old: str, new: str, *, old_name: str = "before", new_name: str = "after") -> str:
    """A unified diff of two rule texts ('' when they are equal)."""
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        fromfile=old_name, tofile=new_name))


def _header_comments(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines) + "\n" if lines else ""


def file_text_with(existing: str | None, rule: Rule) -> str:
    """The text of a rule file with ``rule`` replacing the rule of the same id (or appended)."""
    data = load_yaml(existing) if existing else None
    data = data if isinstance(data, dict) else {}
    rules = [r for r in data.get("rules") or [] if isinstance(r, dict)]
    content = rule.canonical()
    for index, current in enumerate(rules):
        if current.get("id") == rule.id:
            rules[index] = content
            break
    else:
        rules.append(content)
    body = yaml.safe_dump({"schema_version": 1, "rules": rules}, sort_keys=False, allow_unicode=True, width=100)
    header = _header_comments(existing or "") or "# yaml-language-server: $schema=../schemas/rule.schema.json\n"
    return header + body


@dataclass(frozen=True)
class StagedFile:
    """A rule file written beside its target, put in place by ``apply`` (after the database commit)."""

    path: Path
    temp: Path

    def apply(self) -> Path:
        """Rename the staged text over the rule file (atomic: the reloader never reads half a file)."""
        os.replace(self.temp, self.path)
        return self.path

    def discard(self) -> None:
        """Forget the staged text (the database refused the change)."""
        self.temp.unlink(missing_ok=True)


def stage_rule(rules_dir: Path, ruleset: RuleSet, rule: Rule) -> StagedFile:
    """Write the file that puts ``rule`` in its place (a new rule gets ``<id>.yaml``) beside it, not yet live."""
    source = ruleset.sources.get(rule.id)
    path = Path(source) if source else Path(rules_dir) / f"{rule.id}.yaml"
    existing = path.read_text(encoding="utf-8") if path.exists() else None
    text = file_text_with(existing, rule)
    _, errors = parse_rule_text(text, str(path))
    if errors:  # cannot happen for a validated rule; refuse rather than write a file the worker rejects
        raise ValueError("; ".join(str(e) for e in errors))
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temporary name does not end in .yaml, so the reloader ignores it until the rename.
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".console-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return StagedFile(path=path, temp=Path(temp))


def save_rule(rules_dir: Path, ruleset: RuleSet, rule: Rule) -> Path:
    """Write ``rule`` into its file under ``rules_dir`` atomically, at once."""
    return stage_rule(rules_dir, ruleset, rule).apply()
