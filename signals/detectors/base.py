"""The detector contract and the time conventions every detector shares.

A detector is a small, deterministic, pure object working in EVENT time. Its state is plain
JSON-able data (dicts, lists, str, int, float) so it fits in a Faust table; datetimes are stored
as UTC ISO strings in one fixed format (``2026-11-22T10:00:00.000000+00:00``), so two stored
instants compare correctly as strings.

Time semantics shared by the absence detectors (shipping_delay, usage_drop, checkout_idle):

* Each pending absence has a *deadline* in event time (promised ship-by, day end, idle timeout).
* An event of the episode with ``occurred_at`` BEFORE the deadline cancels or pushes it, even when
  it arrives late, as long as the signal has not been emitted yet.
* An event of the episode with ``occurred_at`` AT OR AFTER the deadline proves the deadline
  passed, so it confirms the signal (emitted by ``on_event``), unless the detector documents that
  this event type ends the episode (checkout completion, order delivery/cancellation).
* ``on_tick(state, now)`` emits once ``now >= deadline + grace``; the per-detector grace is how
  long we wait for late, cancelling events. ``next_deadline`` returns exactly ``deadline + grace``.
* An emitted signal is never retracted: an event arriving later than the grace is still folded
  (it updates the episode) but cannot undo what was sent. ``detected_at`` is the event-time
  moment of proof: ``now`` for a tick, ``occurred_at`` for a confirming event.

Contract (checked for every detector by ``tests/unit/signals/test_detector_contract.py``): same
inputs give the same outputs, input state is never mutated, state survives ``json.dumps/loads``
at any point, ``on_tick`` on the initial state emits nothing, and after ``on_tick(state, now)``
the next deadline is strictly later than ``now`` (or ``None``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol, runtime_checkable

from signals.signal import Signal

UTC = dt.timezone.utc
_ZERO = dt.timedelta(0)


@runtime_checkable
class Detector(Protocol):
    """A pure fold over one customer's events that emits ``Signal`` objects."""

    kind: str
    event_types: frozenset[str]  # the event types on_event reacts to (the fold routes only these)

    def initial_state(self) -> dict[str, Any]:
        """The state before any event."""
        ...

    def on_event(self, state: dict[str, Any], event: Any) -> tuple[dict[str, Any], list[Signal]]:
        """Fold one event; returns the new state (input untouched) and the signals it proves."""
        ...

    def on_tick(self, state: dict[str, Any], now: dt.datetime) -> tuple[dict[str, Any], list[Signal]]:
        """Emit the absence signals whose deadline plus grace is at or before ``now``."""
        ...

    def next_deadline(self, state: dict[str, Any]) -> dt.datetime | None:
        """The earliest ``now`` at which ``on_tick`` could emit, or ``None`` if nothing is pending."""
        ...


_last_iso: tuple[dt.datetime | None, str] = (None, "")


def iso(value: dt.datetime) -> str:
    """The stored form of an aware datetime: UTC, microsecond precision, fixed width."""
    global _last_iso
    # The fold and then each detector format the same ``occurred_at`` object: formatting is
    # the hot path's most expensive step, so the last result is reused (a pure memo by identity).
    last = _last_iso
    if value is last[0]:
        return last[1]
    text = (value if value.utcoffset() == _ZERO else value.astimezone(UTC)).isoformat(timespec="microseconds")
    _last_iso = (value, text)
    return text


def from_iso(text: str) -> dt.datetime:
    """Parse a stored ISO string back into an aware UTC datetime."""
    return dt.datetime.fromisoformat(text)


def hours(delta: dt.timedelta) -> float:
    """A duration in hours, rounded to minutes' precision for readable attributes."""
    return round(delta.total_seconds() / 3600, 2)
