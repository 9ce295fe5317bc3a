"""Builders for detector tests: events at readable times and a runner for event/tick scripts."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any, Iterable

from signals.events import parse_event

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
_ids = itertools.count()


def at(seconds: float = 0, *, minutes: float = 0, hours: float = 0, days: float = 0) -> dt.datetime:
    """T0 plus an offset."""
    return T0 + dt.timedelta(seconds=seconds, minutes=minutes, hours=hours, days=days)


def ev(type_: str, when: dt.datetime, customer: str = "c1", event_id: str | None = None, **props: Any) -> Any:
    """A parsed event; datetimes in ``props`` are serialised for the parser."""
    props = {k: (v.isoformat() if isinstance(v, (dt.datetime, dt.date)) else v) for k, v in props.items()}
    return parse_event({
        "event_id": event_id or f"e{next(_ids)}", "customer_id": customer, "type": type_,
        "occurred_at": when.isoformat(), "properties": props,
    })


class Tick:
    """A script step: call ``on_tick(state, now)``."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __repr__(self) -> str:
        return f"Tick({self.now.isoformat()})"


def run(target: Any, steps: Iterable[Any], state: dict | None = None) -> tuple[dict, list[Any]]:
    """Fold a script of events and ``Tick`` steps through a detector or a fold."""
    state = target.initial_state() if state is None else state
    signals: list[Any] = []
    for step in steps:
        if isinstance(step, Tick):
            state, emitted = target.on_tick(state, step.now)
        else:
            state, emitted = target.on_event(state, step)
        signals.extend(emitted)
    return state, signals


def daily_usage(first: dt.date, sessions: list[int], customer: str = "c1", hour: int = 12,
                tz: dt.tzinfo = UTC) -> list[Any]:
    """One product.usage event per day at local ``hour``, skipping zero days."""
    events = []
    for n, count in enumerate(sessions):
        if count:
            local = dt.datetime.combine(first + dt.timedelta(days=n), dt.time(hour), tzinfo=tz)
            events.append(ev("product.usage", local, customer, sessions=count))
    return events
