"""Structured rule conditions and their safe evaluation (no ``eval``, no attribute access).

A condition is plain data, so it validates, diffs and renders in an editor::

    all:
      - {field: signal.slip_hours, op: ">=", value: 24}
      - any:
          - {field: risk.bucket, op: in, value: [high, medium]}
          - {field: customer.lifetime_value, op: ">", value: 500}
      - not: {field: customer.country, op: "==", value: CA}

``field`` is a dotted path rooted at ``signal`` (the signal's attributes, plus ``kind``,
``reason``, ``customer_id`` and ``episode_key``), ``customer`` (the customer facts) or ``risk``
(``probability``, ``bucket``, ``uplift`` in probability points: a rule using it must keep a
holdout, see ``rule.Rule``). A missing field makes every comparison false except
``missing``; a value of the wrong type (text compared with ``>``) is false too, never an error,
so one odd signal cannot stop the stream.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Mapping, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

FIELD_PATTERN = r"^(signal|customer|risk)(\.[A-Za-z_][A-Za-z0-9_]*)+$"
Op = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not_in", "exists", "missing"]
_ORDERED = {"<", "<=", ">", ">="}
_MISSING = object()


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Comparison(_Node):
    """``{field, op, value}``: compare one field with a literal value."""

    field: str = Field(pattern=FIELD_PATTERN, description="signal.<attr>, customer.<fact> or risk.<probability|bucket|uplift>")
    op: Op
    value: Any = None

    @model_validator(mode="after")
    def _value_fits_op(self) -> "Comparison":
        if self.op in ("in", "not_in") and not isinstance(self.value, list):
            raise ValueError(f"op {self.op!r} needs a list value")
        if self.op in _ORDERED and (isinstance(self.value, bool) or not isinstance(self.value, (int, float))):
            raise ValueError(f"op {self.op!r} needs a number value")
        return self


class AllOf(_Node):
    """``{all: [...]}``: true when every child is true (and when the list is empty)."""

    all_: list["Condition"] = Field(alias="all")


class AnyOf(_Node):
    """``{any: [...]}``: true when at least one child is true."""

    any_: list["Condition"] = Field(alias="any", min_length=1)


class Not(_Node):
    """``{not: {...}}``: negates its child."""

    not_: "Condition" = Field(alias="not")


def _condition_tag(value: Any) -> str | None:
    # Pick the node type from its keys, so an error points into the right branch.
    if isinstance(value, BaseModel):
        return {AllOf: "all", AnyOf: "any", Not: "not", Comparison: "compare"}.get(type(value))
    if isinstance(value, Mapping):
        for key in ("all", "any", "not"):
            if key in value:
                return key
        return "compare"
    return None


Condition = Annotated[
    Union[
        Annotated[AllOf, Tag("all")],
        Annotated[AnyOf, Tag("any")],
        Annotated[Not, Tag("not")],
        Annotated[Comparison, Tag("compare")],
    ],
    Discriminator(_condition_tag, custom_error_type="condition", custom_error_message=(
        "a condition is a mapping: {all: [...]}, {any: [...]}, {not: {...}} or {field, op, value}"
    )),
]

AllOf.model_rebuild()
AnyOf.model_rebuild()
Not.model_rebuild()


def resolve(context: Mapping[str, Any], path: str) -> Any:
    """Value at a dotted ``path`` in nested mappings, or the ``_MISSING`` sentinel."""
    current: Any = context
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return _MISSING
        current = current[part]
    return current


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if op == "exists":
        return actual is not _MISSING and actual is not None
    if op == "missing":
        return actual is _MISSING or actual is None
    if actual is _MISSING:
        return False
    if op == "==":
        return actual == expected
    if op == "!=":
        return actual != expected
    if op == "in":
        return actual in expected
    if op == "not_in":
        return actual not in expected
    if not _is_number(actual):
        return False
    if op == "<":
        return actual < expected
    if op == "<=":
        return actual <= expected
    if op == ">":
        return actual > expected
    return actual >= expected


UPLIFT_FIELD = "risk.uplift"


def fields_of(condition: Condition | None) -> set[str]:
    """Every field a condition tree reads."""
    if condition is None:
        return set()
    if isinstance(condition, AllOf):
        return set().union(*(fields_of(child) for child in condition.all_)) if condition.all_ else set()
    if isinstance(condition, AnyOf):
        return set().union(*(fields_of(child) for child in condition.any_))
    if isinstance(condition, Not):
        return fields_of(condition.not_)
    return {condition.field}


def evaluate(condition: Condition | None, context: Mapping[str, Any]) -> bool:
    """Evaluate a condition tree over ``{"signal": ..., "customer": ..., "risk": ...}``."""
    if condition is None:
        return True
    if isinstance(condition, AllOf):
        return all(evaluate(child, context) for child in condition.all_)
    if isinstance(condition, AnyOf):
        return any(evaluate(child, context) for child in condition.any_)
    if isinstance(condition, Not):
        return not evaluate(condition.not_, context)
    return _compare(condition.op, resolve(context, condition.field), condition.value)
