"""What the rule builder offers for a condition: known fields, their operators and value pickers.

Conditions may name any ``signal.*``, ``customer.*`` or ``risk.*`` path (``triggers.conditions``);
the catalog only makes the common ones easy: a suggestion list of fields, the operators that fit
a field's type first, and a picker for the value (a number box, a choice, ticks for a list). A
value the friendly pickers cannot hold exactly is shown as JSON, so every valid rule has a form.

>>> value_kind("risk.bucket", "in", ["high"]), widget_for("risk.bucket", "in", ["high"])
('list', 'checks')
>>> value_kind("signal.slip_hours", ">=", 24), value_kind("signal.reason", "==", "a\\nb")
('number', 'json')
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from models.scorer import DEFAULT_BUCKETS
from signals.events import GOAL_EVENT_TYPES
from signals.signal import SIGNAL_KINDS

OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "not_in", "exists", "missing")
OP_LABELS = {"==": "is", "!=": "is not", "<": "<", "<=": "≤", ">": ">", ">=": "≥", "in": "is one of",
             "not_in": "is none of", "exists": "is known", "missing": "is unknown"}
OPS_BY_TYPE = {
    "number": ("==", "!=", "<", "<=", ">", ">=", "exists", "missing"),
    "choice": ("==", "!=", "in", "not_in", "exists", "missing"),
    "text": ("==", "!=", "in", "not_in", "exists", "missing"),
    "bool": ("==", "!=", "exists", "missing"),
}
VALUE_KINDS = ("none", "number", "text", "bool", "list", "json")
DURATION_EXAMPLES = ("30m", "1h", "12h", "24h", "48h", "72h", "1d", "2d", "3d", "7d", "14d", "30d")


@dataclass(frozen=True)
class FieldInfo:
    """One field a condition can read: its dotted path, type, label, choices and the signals carrying it."""

    path: str
    type: str  # number | choice | text | bool
    label: str
    choices: tuple[str, ...] = ()
    signals: tuple[str, ...] = ()  # signal kinds whose attributes hold it (signal.* fields only)


_SHIPPING, _IDLE, _USAGE = ("shipping_delay",), ("checkout_idle",), ("usage_drop",)
FIELDS: tuple[FieldInfo, ...] = (
    FieldInfo("signal.kind", "choice", "signal kind", SIGNAL_KINDS),
    FieldInfo("signal.reason", "choice", "signal reason",
              ("not_shipped", "eta_slip", "exception", "idle", "usage_drop")),
    FieldInfo("signal.slip_hours", "number", "hours late", signals=_SHIPPING),
    FieldInfo("signal.amount", "number", "order amount", signals=_SHIPPING),
    FieldInfo("signal.currency", "text", "currency", signals=_SHIPPING + _IDLE),
    FieldInfo("signal.carrier", "text", "carrier", signals=_SHIPPING),
    FieldInfo("signal.exception_code", "text", "carrier exception code", signals=_SHIPPING),
    FieldInfo("signal.cart_value", "number", "cart value", signals=_IDLE),
    FieldInfo("signal.items", "number", "items in the cart", signals=_IDLE),
    FieldInfo("signal.idle_seconds", "number", "seconds idle", signals=_IDLE),
    FieldInfo("signal.drop_pct", "number", "usage drop (%)", signals=_USAGE),
    FieldInfo("signal.recent_avg", "number", "recent daily usage", signals=_USAGE),
    FieldInfo("signal.baseline_avg", "number", "usual daily usage", signals=_USAGE),
    FieldInfo("risk.probability", "number", "churn risk (0-1)"),
    FieldInfo("risk.bucket", "choice", "risk bucket", tuple(DEFAULT_BUCKETS)),
    FieldInfo("customer.country", "text", "customer country (ISO code)"),
    FieldInfo("customer.region", "text", "customer region"),
    FieldInfo("customer.locale", "text", "customer locale"),
    FieldInfo("customer.time_zone", "text", "customer time zone"),
    FieldInfo("customer.has_email", "bool", "customer has an e-mail address"),
    FieldInfo("customer.consent.email_marketing", "bool", "e-mail marketing consent (upstream)"),
    FieldInfo("customer.consent.sms_marketing", "bool", "SMS marketing consent (upstream)"),
    FieldInfo("customer.consent.email_service", "bool", "e-mail service consent (upstream)"),
    FieldInfo("customer.consent.sms_service", "bool", "SMS service consent (upstream)"),
)
BY_PATH = {f.path: f for f in FIELDS}
GOAL_EVENTS: tuple[str, ...] = tuple(GOAL_EVENT_TYPES)
_INT = re.compile(r"^[+-]?\d+$")


def field_info(path: Any) -> FieldInfo | None:
    """The catalog entry of a field path, or None for a path the catalog does not know."""
    return BY_PATH.get(path) if isinstance(path, str) else None


def ops_for(path: Any, current: Any = None) -> list[str]:
    """The operators offered for a field: those fitting its type (all for unknown fields), plus ``current``."""
    info = field_info(path)
    ops = list(OPS_BY_TYPE[info.type]) if info else list(OPS)
    if isinstance(current, str) and current not in ops:
        ops.append(current)
    return ops


def format_number(value: int | float) -> str:
    """A number as the form shows it: ints plainly, floats by ``repr`` (so ``24.0`` stays a float)."""
    return str(value) if isinstance(value, int) else repr(value)


def parse_number(text: str) -> int | float | None:
    """The number a form box holds (an int when written as one), or None when it is not a number."""
    text = text.strip()
    if _INT.match(text):
        return int(text)
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _plain_text(value: Any) -> bool:
    return isinstance(value, str) and "\n" not in value and "\r" not in value


def _list_item(value: Any) -> bool:
    # One per line or one tick each: no line breaks, nothing a strip would lose, not empty.
    return _plain_text(value) and value == value.strip() and value != ""


def value_kind(path: Any, op: Any, value: Any) -> str:
    """The kind of picker that holds ``value`` exactly: none, number, text, bool, list or json."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number" if math.isfinite(value) else "json"
    if _plain_text(value):
        return "text"
    if isinstance(value, list) and all(_list_item(v) for v in value):
        return "list"
    return "json"


def widget_for(path: Any, op: Any, value: Any) -> str:
    """How the value is shown: number, select, text, bool, checks, lines, json or none."""
    kind = value_kind(path, op, value)
    info = field_info(path)
    if kind == "list":
        known = info is not None and info.choices and all(v in info.choices for v in value)
        return "checks" if known and len(set(value)) == len(value) else "lines"
    if kind == "text" and info is not None and info.choices and value in info.choices:
        return "select"
    return kind


def list_choices(path: Any, value: list[str]) -> list[str]:
    """Tick boxes in the order the value lists them first (the order is kept), then the other choices."""
    info = field_info(path)
    return list(value) + [c for c in (info.choices if info else ()) if c not in value]


def render_value(kind: str, value: Any) -> str | list[str]:
    """The text(s) a value's picker posts (``parse_value`` reads them back)."""
    if kind == "none":
        return ""
    if kind == "bool":
        return "true" if value else "false"
    if kind == "number":
        return format_number(value)
    if kind == "text":
        return value
    if kind == "list":
        return list(value)
    return json.dumps(value, ensure_ascii=False)


def parse_value(kind: str, posted: list[str]) -> tuple[Any, str | None]:
    """The value a picker posted, and a problem when it does not read as its kind."""
    first = posted[0] if posted else ""
    if kind == "none":
        return None, None
    if kind == "bool":
        return (first == "true", None) if first in ("true", "false") else (first, "choose true or false")
    if kind == "number":
        number = parse_number(first)
        return (first, "write a number, like 24 or 0.5") if number is None else (number, None)
    if kind == "text":
        return first, None
    if kind == "list":
        return [item.strip() for text in posted for item in text.splitlines() if item.strip()], None
    if kind == "json":
        try:
            return json.loads(first), None
        except ValueError:
            return first, "not valid JSON (write text in quotes, lists in [ ])"
    return first, f"unknown value kind {kind!r}"


def retyped(path: Any, op: Any, value: Any) -> Any:
    """The value carried over when the field or operator changes: a list for in/not_in, a number for <, ..."""
    info = field_info(path)
    if op in ("exists", "missing"):
        return None
    if op in ("in", "not_in"):
        if isinstance(value, list):
            return value
        return [] if value is None or value == "" else [value if isinstance(value, str) else json.dumps(value)]
    if isinstance(value, list):
        value = value[0] if value else None
    if op in ("<", "<=", ">", ">=") or (info is not None and info.type == "number"):
        number = parse_number(str(value)) if value is not None and not isinstance(value, bool) else None
        return number if number is not None else 0
    if info is not None and info.type == "bool":
        return value if isinstance(value, bool) else True
    if info is not None and info.choices:
        return value if value in info.choices else info.choices[0]
    return "" if value is None else value if isinstance(value, str) else json.dumps(value)
