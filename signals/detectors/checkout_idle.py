"""Checkout idle: a checkout started and then nothing happened for ``idle_after``.

Per open checkout the state keeps its cart facts and a short sorted timeline of event times
(``checkout.started`` and ``checkout.activity``), compacted so that only the first entry may be
followed by a gap of ``idle_after`` or more; the idle deadline is ``timeline[0] + idle_after``.

Event time and lateness (see ``signals.detectors.base``):

* activity pushes the deadline, including a late activity whose ``occurred_at`` is before the
  deadline (it fills the gap, the timeline is re-compacted);
* an activity at or after the deadline does not hide the gap: the checkout WAS idle;
* completion or abandonment closes the checkout without a signal whenever it arrives before the
  signal is emitted, even if it happened after the deadline (nobody needs a nudge about a
  finished checkout); the id is remembered so late events of a closed checkout are ignored;
* ``on_tick`` emits once ``now >= deadline + grace``. The default grace is 5 seconds so the
  detector stays usable in real time; an event later than that cannot retract the signal.

One signal per checkout, ``episode_key = "checkout_idle:{customer}:{checkout_id}"``, attributes
``checkout_id, cart_value, currency, items, idle_seconds, started_at, last_activity_at``.

Example:

>>> import datetime as dt
>>> from signals.events import parse_event
>>> t0 = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.timezone.utc)
>>> start = parse_event({"event_id": "e1", "customer_id": "c1", "type": "checkout.started",
...     "occurred_at": t0.isoformat(), "properties": {"checkout_id": "k1", "cart_value": 42.0}})
>>> detector = CheckoutIdleDetector()
>>> state, _ = detector.on_event(detector.initial_state(), start)
>>> detector.next_deadline(state) == t0 + dt.timedelta(seconds=95)
True
>>> _, signals = detector.on_tick(state, t0 + dt.timedelta(seconds=95))
>>> signals[0].episode_key, signals[0].attributes["idle_seconds"]
('checkout_idle:c1:k1', 95.0)
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass
from typing import Any

from signals.detectors.base import from_iso, iso
from signals.signal import Signal

_TYPES = frozenset({"checkout.started", "checkout.activity", "checkout.completed", "checkout.abandoned"})


@dataclass(frozen=True)
class CheckoutIdleConfig:
    """Checkout idle settings; defaults are the product defaults."""

    idle_after: dt.timedelta = dt.timedelta(seconds=90)  # RETAIN_CHECKOUT_IDLE_SECONDS
    grace: dt.timedelta = dt.timedelta(seconds=5)  # wait for late activity; seconds, not minutes
    max_open: int = 20  # open checkouts kept per customer (oldest dropped beyond)
    remember_closed: int = 50  # closed checkout ids remembered to ignore their late events
    max_timeline: int = 100  # event times kept per checkout


class CheckoutIdleDetector:
    """Emits one ``checkout_idle`` signal per checkout left idle for ``idle_after``."""

    kind = "checkout_idle"

    event_types = _TYPES

    def __init__(self, config: CheckoutIdleConfig | None = None) -> None:
        self.config = config or CheckoutIdleConfig()

    def initial_state(self) -> dict[str, Any]:
        """No open checkouts, nothing closed."""
        return {"customer_id": None, "open": {}, "closed": []}

    def on_event(self, state: dict[str, Any], event: Any) -> tuple[dict[str, Any], list[Signal]]:
        """Open, push or close a checkout; never emits (absence is decided by ``on_tick``)."""
        kind = event.type
        if kind not in _TYPES:
            return state, []
        props = event.properties
        checkout_id = props.checkout_id
        if checkout_id in state["closed"]:
            return state, []
        cfg = self.config
        opened = dict(state["open"])
        new_state = {**state, "customer_id": state["customer_id"] or event.customer_id, "open": opened}
        if kind in ("checkout.completed", "checkout.abandoned"):
            opened.pop(checkout_id, None)
            new_state["closed"] = (state["closed"] + [checkout_id])[-cfg.remember_closed :]
            return new_state, []

        at = iso(event.occurred_at)
        entry = opened.get(checkout_id)
        if entry is None:  # activity before its start (reordered): open it, facts come with the start
            entry = {"times": [], "started_at": None, "cart_value": None, "currency": None, "items": None}
        entry = dict(entry)
        if kind == "checkout.started":
            entry.update(started_at=at, cart_value=props.cart_value, currency=props.currency, items=props.items)
            # Times before the start (clock skew upstream) cannot make the checkout idle.
            times = [t for t in entry["times"] if t >= at]
        else:
            times = list(entry["times"])
            if entry["started_at"] is not None and at < entry["started_at"]:
                return state, []
        bisect.insort(times, at)
        entry["times"] = self._compact(times)
        opened[checkout_id] = entry
        if len(opened) > cfg.max_open:
            oldest = min(opened, key=lambda key: opened[key]["times"][0])
            del opened[oldest]
        return new_state, []

    def _compact(self, times: list[str]) -> list[str]:
        """Drop leading times followed by a short gap: only the first gap can be an idle one."""
        idle_after = self.config.idle_after
        while len(times) > 1 and from_iso(times[1]) - from_iso(times[0]) < idle_after:
            del times[0]
        # Keep the front: it holds the gap that may become the idle episode.
        return times[: self.config.max_timeline] if len(times) > self.config.max_timeline else times

    def on_tick(self, state: dict[str, Any], now: dt.datetime) -> tuple[dict[str, Any], list[Signal]]:
        """Emit for every open checkout whose idle deadline plus grace is at or before ``now``."""
        deadline = self.next_deadline(state)
        if deadline is None or deadline > now:
            return state, []
        cfg = self.config
        opened = state["open"]
        cutoff = iso(now - cfg.idle_after - cfg.grace)
        due = [key for key, entry in opened.items() if entry["times"][0] <= cutoff]
        signals = [self._signal(state["customer_id"], key, opened[key], now) for key in due]
        remaining = {key: entry for key, entry in opened.items() if key not in due}
        closed = (state["closed"] + due)[-cfg.remember_closed :]
        return {**state, "open": remaining, "closed": closed}, signals

    def next_deadline(self, state: dict[str, Any]) -> dt.datetime | None:
        """Earliest idle deadline plus grace over open checkouts."""
        opened = state["open"]
        if not opened:
            return None
        first = min(entry["times"][0] for entry in opened.values())
        return from_iso(first) + self.config.idle_after + self.config.grace

    def _signal(self, customer_id: str, checkout_id: str, entry: dict[str, Any], now: dt.datetime) -> Signal:
        times = entry["times"]
        last = from_iso(times[0])
        resumed = from_iso(times[1]) if len(times) > 1 else now
        return Signal(
            kind="checkout_idle",
            customer_id=customer_id,
            episode_key=f"checkout_idle:{customer_id}:{checkout_id}",
            detected_at=now,
            reason="idle",
            attributes={
                "checkout_id": checkout_id,
                "cart_value": entry["cart_value"],
                "currency": entry["currency"],
                "items": entry["items"],
                "idle_seconds": (resumed - last).total_seconds(),
                "started_at": entry["started_at"],
                "last_activity_at": times[0],
            },
        )
