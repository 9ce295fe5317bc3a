"""The rule builder's state: the form and the YAML kept in step, checked by the one rule validator.

``from_form`` reads the posted builder fields (and applies a structural edit), writes the YAML
and validates it; ``from_yaml`` validates YAML typed in the expert view and gives the form's
content. Either way the errors carry the form ``path`` they belong next to. Pure (no I/O).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Collection, Iterable

from retain.console.rule_editing import rule_yaml, validate_rule_text
from retain.console.rule_form import PREFIX, content_of, error_path
from retain.console.rule_form_edits import apply_edit

NEW_RULE: dict[str, Any] = {
    "id": "", "version": 1, "description": "", "enabled": True, "signals": [], "when": None, "topic": "marketing",
    "priority": 0, "cooldown": "1d", "relevance": "1d", "holdout_pct": 0.0, "bypass_caps": False, "goal": None,
    "action": {"channels": ["email"], "brief": "", "tone": "friendly, plain", "offers": [], "requires_approval": False},
}


@dataclass(frozen=True)
class BuilderState:
    """The form's content, the YAML it makes, and every error with the form path it belongs to."""

    content: dict[str, Any] | None  # None: the YAML does not read as a rule, the form keeps what it had
    yaml: str
    valid: bool
    errors: list[dict[str, Any]] = field(default_factory=list)

    def errors_by_path(self) -> dict[str, list[str]]:
        """Messages per form path, for the page rendered without JavaScript."""
        out: dict[str, list[str]] = {}
        for error in self.errors:
            out.setdefault(error["path"], []).append(error["message"])
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for the live builder."""
        return {"yaml": self.yaml, "valid": self.valid, "errors": self.errors}


def _located(errors: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**e, "path": error_path(e["field"])} for e in errors]


def _taken(rule_id: str, existing: Collection[str]) -> list[dict[str, Any]]:
    if rule_id in existing:
        return [{"line": 1, "field": "id", "path": f"{PREFIX}.id",
                 "message": f"a rule {rule_id!r} exists already: edit it on its own page, or choose another id"}]
    return []


def from_form(pairs: Iterable[tuple[str, str]], *, edit: str = "", expected_id: str | None = None,
              existing: Collection[str] = ()) -> BuilderState:
    """The state after the posted form (and one structural ``edit``): YAML written, validated.

    ``expected_id`` pins the id of a rule being edited; ``existing`` are ids a new rule may not take.
    """
    content, problems = content_of(pairs)
    if edit:
        content = apply_edit(content, edit)
    text = rule_yaml(content)
    rule, errors = validate_rule_text(text, expected_id=expected_id)
    if rule is not None:
        text = rule_yaml(rule)  # canonical: what saving stores
        errors = _taken(rule.id, existing)
    located = _located(errors) if rule is None else errors
    located += [{"line": 0, "field": p["path"].removeprefix(f"{PREFIX}."), **p} for p in problems]
    return BuilderState(content=content, yaml=text, valid=not located, errors=located)


def from_yaml(text: str, *, expected_id: str | None = None, existing: Collection[str] = ()) -> BuilderState:
    """The state of YAML typed in the expert view: the form's content when it reads as a rule."""
    rule, errors = validate_rule_text(text, expected_id=expected_id)
    if rule is None:
        return BuilderState(content=None, yaml=text, valid=False, errors=_located(errors))
    taken = _taken(rule.id, existing)
    return BuilderState(content=rule.canonical(), yaml=text, valid=not taken, errors=taken)
