"""Load rule files into a ``RuleSet``, reporting every problem as ``file:line: field: message``.

YAML is composed into nodes first (they keep line numbers), then constructed and validated by the
pydantic ``RuleFile``; each validation error's ``loc`` is walked down the node tree to the line
of the offending key. Duplicate keys inside a mapping and duplicate rule ids across files are
errors too (YAML itself would silently keep the last one).

Rule text may come from anyone with the console's read role (``/api/rules/validate``), so the
loader bounds its work: anchors and aliases are refused (rule files have no use for them, and each
level of aliases multiplies every later walk of the document: 400 bytes can cost minutes), and a
file over ``MAX_RULE_FILE_CHARS`` is refused before it is parsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from triggers.rule import Rule, RuleFile
from triggers.ruleset import RuleSet

RULE_FILE_SUFFIXES = (".yaml", ".yml")
MAX_RULE_FILE_CHARS = 1_000_000  # a rule is about 1 kB; a thousand of them still fit


@dataclass(frozen=True)
class RuleError:
    """One problem in one rule file."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class RuleLoadError(Exception):
    """Raised by ``load_rules`` when any file is invalid; ``errors`` lists all problems."""

    def __init__(self, errors: list[RuleError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class RuleYamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader without anchors and aliases (``&name``, ``*name``, ``<<: *name``)."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        """Refuse an anchor or alias before composing the node that carries it."""
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases (&name, *name) are not allowed in rule files", event.start_mark)
        return super().compose_node(parent, index)


def load_yaml(text: str) -> Any:
    """One YAML document as plain data, anchors and aliases refused (``yaml.YAMLError`` says where)."""
    return yaml.load(text, Loader=RuleYamlLoader)  # noqa: S506 - a SafeLoader subclass


def rule_files(path: Path) -> list[Path]:
    """The rule files at ``path``: the file itself, or every *.yaml / *.yml below a folder, sorted."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in RULE_FILE_SUFFIXES and p.is_file())
    return [path]


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int:
    # Follow loc through mappings (by key) and sequences (by index). Elements that match nothing
    # are pydantic union tags ("compare") and are skipped; a missing key points at its parent.
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
                    line = key_node.start_mark.line + 1
                    node = value_node
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
    return line


_CONDITION_TAGS = ("compare", "all", "any", "not")


def _field_name(loc: tuple[Any, ...], data: Any) -> str:
    """Readable field path such as ``rules[0](shipping-notice).when.all[1].op``."""
    text = ""
    rules = data.get("rules") if isinstance(data, dict) else None
    expect_tag = False  # pydantic puts the union tag right after each condition position
    previous: Any = None
    for i, part in enumerate(loc):
        if expect_tag and part in _CONDITION_TAGS:
            expect_tag = False
            continue
        expect_tag = False
        if isinstance(part, int):
            text += f"[{part}]"
            if i == 1 and loc[0] == "rules" and isinstance(rules, list) and part < len(rules):
                rule_id = rules[part].get("id") if isinstance(rules[part], dict) else None
                text += f"({rule_id})" if isinstance(rule_id, str) else ""
            expect_tag = previous in ("all", "any")
        else:
            text += f".{part}" if text else str(part)
            expect_tag = part in ("when", "not")
        previous = part
    return text or "(file)"


def _duplicate_keys(node: yaml.Node | None, file: str, path: str = "") -> list[RuleError]:
    errors: list[RuleError] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = getattr(key_node, "value", None)
            field = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and key in seen:
                errors.append(RuleError(file, key_node.start_mark.line + 1, field, "duplicate key"))
            seen.add(key)
            errors += _duplicate_keys(value_node, file, field)
    elif isinstance(node, yaml.SequenceNode):
        for index, child in enumerate(node.value):
            errors += _duplicate_keys(child, file, f"{path}[{index}]")
    return errors


def parse_rule_text(text: str, file: str) -> tuple[list[Rule], list[RuleError]]:
    """Parse one rule file's text: its rules and its errors (rules are empty when errors exist)."""
    if len(text) > MAX_RULE_FILE_CHARS:
        return [], [RuleError(file, 1, "(file)", f"longer than {MAX_RULE_FILE_CHARS} characters")]
    loader = RuleYamlLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        return [], [RuleError(file, line, "(yaml)", str(getattr(exc, "problem", None) or exc))]
    finally:
        loader.dispose()
    errors = _duplicate_keys(node, file)
    if data is None:
        data = {}
    try:
        parsed = RuleFile.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            errors.append(RuleError(file, _line_of(node, loc), _field_name(loc, data), message))
        return [], sorted(errors, key=lambda e: e.line)
    return (list(parsed.rules), errors) if not errors else ([], errors)


def check_rules(path: str | Path) -> tuple[RuleSet | None, list[RuleError]]:
    """Load every rule file at ``path``: the ``RuleSet`` (None on any error) and all errors."""
    root = Path(path)
    if not root.exists():
        return None, [RuleError(str(root), 0, "(path)", "no such file or folder")]
    files = rule_files(root)
    if not files:
        return None, [RuleError(str(root), 0, "(path)", "no *.yaml or *.yml rule files")]
    errors: list[RuleError] = []
    rules: list[Rule] = []
    sources: dict[str, str] = {}
    for file in files:
        name = str(file)
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(RuleError(name, 0, "(file)", f"cannot read: {exc}"))
            continue
        file_rules, file_errors = parse_rule_text(text, name)
        errors += file_errors
        for index, rule in enumerate(file_rules):
            if rule.id in sources:
                line = _rule_line(file, index)
                errors.append(RuleError(name, line, f"rules[{index}].id", f"duplicate rule id {rule.id!r} (first in {sources[rule.id]})"))
                continue
            sources[rule.id] = name
            rules.append(rule)
    if errors:
        return None, errors
    return RuleSet.of(rules, sources=sources), []


def _rule_line(file: Path, index: int) -> int:
    node = yaml.compose(file.read_text(encoding="utf-8"), Loader=RuleYamlLoader)
    return _line_of(node, ("rules", index, "id"))


def load_rules(path: str | Path) -> RuleSet:
    """Load and validate the rules at ``path``; raise ``RuleLoadError`` listing every problem."""
    ruleset, errors = check_rules(path)
    if errors or ruleset is None:
        raise RuleLoadError(errors)
    return ruleset
