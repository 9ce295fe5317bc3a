"""Why a rule's conditions held or not for one signal: every node with the value it read and its result.

Pure, and evaluated by ``triggers.conditions.evaluate`` itself, so a trace can never disagree with
the matcher.

>>> from triggers.conditions import Comparison
>>> node = trace(Comparison(field="signal.slip_hours", op=">=", value=24), {"signal": {"slip_hours": 30}})
>>> node["text"], node["actual"], node["result"]
('signal.slip_hours >= 24', 30, True)
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from triggers.conditions import AllOf, AnyOf, Comparison, Not, evaluate, resolve

_MISSING_TEXT = "(missing)"


def _literal(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def trace(condition: Any, context: Mapping[str, Any]) -> dict[str, Any] | None:
    """The condition tree as nested ``{"kind", "text", "actual", "result", "children"}`` (None: no conditions)."""
    if condition is None:
        return None
    result = evaluate(condition, context)
    if isinstance(condition, (AllOf, AnyOf)):
        kind = "all" if isinstance(condition, AllOf) else "any"
        children = condition.all_ if isinstance(condition, AllOf) else condition.any_
        return {"kind": kind, "text": f"{kind} of", "actual": None, "result": result,
                "children": [trace(child, context) for child in children]}
    if isinstance(condition, Not):
        return {"kind": "not", "text": "not", "actual": None, "result": result,
                "children": [trace(condition.not_, context)]}
    assert isinstance(condition, Comparison)
    actual = resolve(context, condition.field)
    value = "" if condition.op in ("exists", "missing") else f" {_literal(condition.value)}"
    return {"kind": "compare", "text": f"{condition.field} {condition.op}{value}",
            "actual": actual if isinstance(actual, (str, int, float, bool, list, dict, type(None))) else _MISSING_TEXT,
            "result": result, "children": []}
