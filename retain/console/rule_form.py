"""The rule builder's form, both ways: a rule's content <-> the fields a browser posts. Pure.

Every form field is named after the rule path it holds, under ``r.`` (``r.action.offers.0.code``,
``r.when.all.1.op``), so the validator's message for ``action.offers[0].code`` lands next to that
very field (``error_path``). A condition node at path ``P`` posts ``P.type`` (``all``, ``any``,
``not``, ``compare``; ``none`` for a rule without conditions), its children under ``P.all.N`` /
``P.any.N`` / ``P.not``, and a comparison ``P.field``, ``P.op``, ``P.value_kind`` and ``P.value``
(see ``retain.console.rule_fields`` for the value pickers).

The YAML stays the source of truth: ``content_of`` turns posted fields into rule content, which
the one validator (``rule_editing.validate_rule_text``) checks as YAML; ``fields_of`` is what the
rendered form posts for a rule. For every valid rule ``content_of(fields_of(c)) == c`` (tested
with generated rules), so switching between the form and the YAML never changes the rule. Line
breaks are posted as ``\\r\\n`` by browsers and read back as ``\\n``; repeated signal kinds (which
mean nothing) are shown once.

>>> content, problems = content_of([("r.id", "x"), ("r.version", "3"), ("r.when.type", "none")])
>>> content["version"], content["when"], problems
(3, None, [])
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any, Iterable

from retain.console.rule_fields import format_number, parse_number, parse_value, render_value, value_kind, widget_for

PREFIX = "r"
MAX_DEPTH = 24  # conditions nest a few levels; a posted form must not recurse without bound
GROUPS = ("all", "any")
BLANK_COMPARISON = {"field": "risk.bucket", "op": "in", "value": ["high"]}

Fields = dict[str, list[str]]


def posted(pairs: Iterable[tuple[str, str]]) -> Fields:
    """Posted (name, value) pairs as name -> values in posting order, ``\\r\\n`` read as ``\\n``."""
    out: Fields = defaultdict(list)
    for name, value in pairs:
        out[name].append(str(value).replace("\r\n", "\n"))
    return dict(out)


def _one(fields: Fields, name: str) -> str:
    values = fields.get(name) or [""]
    return values[0]


def _number_or_text(text: str, *, integer: bool = False) -> Any:
    number = parse_number(text)
    if number is None or (integer and not isinstance(number, int)):
        return text  # the validator names the field and what it expects
    return number


def _flag(fields: Fields, name: str) -> bool:
    return "true" in fields.get(name, [])


def _children(fields: Fields, path: str, kind: str) -> list[str]:
    # A group's children may still be posted under the other group word (the kind was just switched).
    for word in (kind, *(g for g in GROUPS if g != kind)):
        pattern = re.compile(rf"^{re.escape(path)}\.{word}\.(\d+)\.type$")
        indexes = sorted({int(m.group(1)) for name in fields if (m := pattern.match(name))})
        if indexes:
            return [f"{path}.{word}.{i}" for i in indexes]
    return []


def _node(fields: Fields, path: str, problems: list[dict[str, str]], depth: int = 0) -> Any:
    kind = _one(fields, f"{path}.type")
    if depth > MAX_DEPTH:
        problems.append({"path": path, "message": f"conditions nest deeper than {MAX_DEPTH} levels"})
        return None
    if kind in GROUPS:
        return {kind: [_node(fields, child, problems, depth + 1) for child in _children(fields, path, kind)]}
    if kind == "not":
        return {"not": _node(fields, f"{path}.not", problems, depth + 1)}
    if kind == "compare":
        value, problem = parse_value(_one(fields, f"{path}.value_kind"), fields.get(f"{path}.value", []))
        if problem:
            problems.append({"path": f"{path}.value", "message": problem})
        return {"field": _one(fields, f"{path}.field"), "op": _one(fields, f"{path}.op"), "value": value}
    if kind == "none" and depth == 0:
        return None
    problems.append({"path": path, "message": f"unknown condition type {kind!r}"})
    return None


def content_of(pairs: Iterable[tuple[str, str]] | Fields) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The rule content the posted form describes, and the problems found reading it (``path``, ``message``)."""
    fields = pairs if isinstance(pairs, dict) else posted(pairs)
    p = PREFIX
    problems: list[dict[str, str]] = []
    goal = None
    if _flag(fields, f"{p}.goal.set"):
        goal = {"events": list(fields.get(f"{p}.goal.events", [])), "within": _one(fields, f"{p}.goal.within")}
    offer_indexes = sorted({int(m.group(1)) for name in fields
                            if (m := re.match(rf"^{p}\.action\.offers\.(\d+)\.code$", name))})
    content = {
        "id": _one(fields, f"{p}.id"),
        "version": _number_or_text(_one(fields, f"{p}.version"), integer=True),
        "description": _one(fields, f"{p}.description"),
        "enabled": _flag(fields, f"{p}.enabled"),
        "signals": list(dict.fromkeys(fields.get(f"{p}.signals", []))),
        "when": _node(fields, f"{p}.when", problems),
        "topic": _one(fields, f"{p}.topic"),
        "priority": _number_or_text(_one(fields, f"{p}.priority"), integer=True),
        "cooldown": _one(fields, f"{p}.cooldown"),
        "relevance": _one(fields, f"{p}.relevance"),
        "holdout_pct": _number_or_text(_one(fields, f"{p}.holdout_pct")),
        "bypass_caps": _flag(fields, f"{p}.bypass_caps"),
        "goal": goal,
        "action": {
            "channels": list(fields.get(f"{p}.action.channels", [])),
            "brief": _one(fields, f"{p}.action.brief"),
            "tone": _one(fields, f"{p}.action.tone"),
            "offers": [{"code": _one(fields, f"{p}.action.offers.{i}.code"),
                        "description": _one(fields, f"{p}.action.offers.{i}.description")} for i in offer_indexes],
            "requires_approval": _flag(fields, f"{p}.action.requires_approval"),
        },
    }
    return content, problems


def node_kind(node: Any) -> str:
    """What a condition node is: ``none``, ``all``, ``any``, ``not`` or ``compare``."""
    if node is None:
        return "none"
    for kind in (*GROUPS, "not"):
        if isinstance(node, dict) and kind in node:
            return kind
    return "compare"


def field_text(value: Any) -> str:
    """A content value as the form's text box shows it (numbers as ``format_number``, booleans lower case)."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value).lower()
    return format_number(value) if isinstance(value, (int, float)) else str(value)


def _node_fields(node: Any, path: str) -> list[tuple[str, str]]:
    kind = node_kind(node)
    if kind == "none":
        return [(f"{path}.type", "none")]
    if kind in GROUPS:
        out = [(f"{path}.type", kind)]
        for index, child in enumerate(node[kind]):
            out += _node_fields(child, f"{path}.{kind}.{index}")
        return out
    if kind == "not":
        return [(f"{path}.type", "not"), *_node_fields(node["not"], f"{path}.not")]
    field, op, value = node.get("field"), node.get("op"), node.get("value")
    kind = value_kind(field, op, value)
    out = [(f"{path}.type", "compare"), (f"{path}.field", field_text(field)),
           (f"{path}.op", field_text(op)), (f"{path}.value_kind", kind)]
    shown = render_value(kind, value)
    if widget_for(field, op, value) == "lines":
        shown = "\n".join(shown)  # one text box, one item per line
    if kind != "none":
        out += [(f"{path}.value", v) for v in (shown if isinstance(shown, list) else [shown])]
    return out


def fields_of(content: dict[str, Any]) -> list[tuple[str, str]]:
    """The (name, value) pairs the rendered form posts for ``content`` (ticked boxes only, like a browser)."""
    p = PREFIX
    action = content.get("action") or {}
    goal = content.get("goal")
    out = [(f"{p}.id", field_text(content.get("id"))), (f"{p}.version", field_text(content.get("version"))),
           (f"{p}.description", field_text(content.get("description")))]
    out += [(f"{p}.enabled", "true")] if content.get("enabled") else []
    out += [(f"{p}.signals", s) for s in dict.fromkeys(content.get("signals") or [])]
    out += _node_fields(content.get("when"), f"{p}.when")
    out += [(f"{p}.{name}", field_text(content.get(name)))
            for name in ("topic", "priority", "cooldown", "relevance", "holdout_pct")]
    out += [(f"{p}.bypass_caps", "true")] if content.get("bypass_caps") else []
    if goal is not None:
        out += [(f"{p}.goal.set", "true"), *((f"{p}.goal.events", e) for e in goal.get("events") or [])]
    out += [(f"{p}.goal.within", field_text(goal.get("within")) if goal is not None else "")]
    out += [(f"{p}.action.channels", c) for c in action.get("channels") or []]
    out += [(f"{p}.action.brief", field_text(action.get("brief"))), (f"{p}.action.tone", field_text(action.get("tone")))]
    for index, offer in enumerate(action.get("offers") or []):
        out += [(f"{p}.action.offers.{index}.code", field_text(offer.get("code"))),
                (f"{p}.action.offers.{index}.description", field_text(offer.get("description")))]
    out += [(f"{p}.action.requires_approval", "true")] if action.get("requires_approval") else []
    return out


def error_path(field: str) -> str:
    """The form field a validator error points at: ``action.offers[0].code`` -> ``r.action.offers.0.code``."""
    if field.startswith("("):
        return PREFIX
    return f"{PREFIX}." + re.sub(r"\[(\d+)\]", r".\1", field)
