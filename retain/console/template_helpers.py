"""What the console's templates call: timestamps for the viewer's time zone, and the rule builder's catalog.

``when`` writes a ``<time>`` element in UTC with the UTC reading as its hover title; ``console.js``
rewrites its text into the viewer's own time zone (without JavaScript the UTC text stays).

>>> str(when("2026-12-01T07:05:09+00:00"))
'<time datetime="2026-12-01T07:05:09Z" title="2026-12-01 07:05:09 UTC">2026-12-01 07:05 UTC</time>'
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

from jinja2 import Environment
from markupsafe import Markup, escape

from retain.console import rule_fields
from retain.console.preview_samples import SAMPLE_CUSTOMERS
from retain.console.rule_form import field_text, node_kind
from signals.signal import SIGNAL_KINDS


def _moment(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc)


def when(value: Any) -> Markup:
    """A moment as ``<time>``: UTC text and title, machine-readable ``datetime`` for the script."""
    moment = _moment(value)
    if moment is None:
        return Markup("") if value in (None, "") else escape(str(value))
    return Markup('<time datetime="{}" title="{} UTC">{} UTC</time>').format(
        moment.strftime("%Y-%m-%dT%H:%M:%SZ"), moment.strftime("%Y-%m-%d %H:%M:%S"), moment.strftime("%Y-%m-%d %H:%M"))


def ordered(selected: Any, choices: Iterable[Any]) -> list[Any]:
    """``selected`` first in its own order (repeats once), then the other choices: tick boxes keep the order."""
    chosen = list(dict.fromkeys(selected)) if isinstance(selected, list) else []
    return chosen + [c for c in choices if c not in chosen]


def field_choices(path: Any) -> tuple[str, ...]:
    """The known values of a condition field (empty for free text)."""
    info = rule_fields.field_info(path)
    return info.choices if info else ()


def install(env: Environment) -> None:
    """Register the helpers on the console's Jinja environment."""
    env.globals.update(
        when=when, ordered=ordered, field_text=field_text, node_kind=node_kind, field_choices=field_choices,
        value_kind=rule_fields.value_kind, widget_for=rule_fields.widget_for, render_value=rule_fields.render_value,
        list_choices=rule_fields.list_choices, ops_for=rule_fields.ops_for, op_labels=rule_fields.OP_LABELS,
        fields=rule_fields.FIELDS, signal_kinds=SIGNAL_KINDS, goal_events=rule_fields.GOAL_EVENTS,
        duration_examples=rule_fields.DURATION_EXAMPLES, samples=SAMPLE_CUSTOMERS,
    )
