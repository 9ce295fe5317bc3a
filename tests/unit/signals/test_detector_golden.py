"""Golden stream: a handwritten multi-customer stream and exactly the signals it must produce.

tests/golden/detector_stream.jsonl, in arrival order:
  cy   weekly usage (14 sessions) from Oct 1, then only 3 on Oct 29   -> usage drop judged on Oct 29
  dee  3 sessions a week (under the 1/day minimum baseline), stops     -> nothing
  ana  k1 idle after its last activity; k2 completed; k3 gets a late activity (13 s behind, inside
       the 5 s grace because the watermark had not passed the deadline + grace) then completes -> k1 only
  ben  o2 not shipped by noon (ships 14:00); o1's ETA slips 20 h; the ETA update is redelivered;
       o3 cancelled before ship-by; o2's later exception is the same episode     -> o2, o1
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from signals.customer_fold import CustomerFold, replay
from signals.events import parse_event

STREAM = Path(__file__).resolve().parents[2] / "golden" / "detector_stream.jsonl"

EXPECTED = [
    ("usage_drop:cy:2026-10-29", "usage_drop", "2026-10-30T00:05:00+00:00",
     {"recent_avg": 0.43, "baseline_avg": 2.55, "drop_pct": 83.2}),
    ("checkout_idle:ana:k1", "idle", "2026-11-02T10:02:15+00:00",
     {"idle_seconds": 95.0, "cart_value": 59.9, "currency": "EUR", "items": 2}),
    ("shipping_delay:ben:o2", "not_shipped", "2026-11-02T12:05:00+00:00",
     {"slip_hours": 0.08, "amount": 35.0, "shipped_at": None}),
    ("shipping_delay:ben:o1", "eta_slip", "2026-11-03T09:00:00+00:00",
     {"slip_hours": 20.0, "carrier": "DHL", "estimated_delivery_at": "2026-11-07T06:00:00.000000+00:00"}),
]


def load_stream():
    return [parse_event(json.loads(line)) for line in STREAM.read_text().splitlines() if line.strip()]


def summary(signals):
    return [
        (s.episode_key, s.reason, s.detected_at.isoformat(), {k: s.attributes[k] for k in attrs})
        for s, (_, _, _, attrs) in zip(signals, EXPECTED)
    ]


def by_time(signals):
    # Each customer lives in its own event time: cy's last day is judged when the stream ends,
    # after the others' signals (replay yields in the worker's order, not globally sorted).
    return sorted(signals, key=lambda s: s.detected_at)


def test_golden_stream_gives_exactly_the_expected_signals():
    signals = by_time(replay(load_stream(), CustomerFold()))
    assert len(signals) == len(EXPECTED)
    assert summary(signals) == EXPECTED


def test_golden_stream_with_a_one_minute_timer():
    # A periodic timer ticks on the minute grid: same episodes, detected at the next full minute.
    signals = by_time(replay(load_stream(), CustomerFold(), tick_every=dt.timedelta(minutes=1)))
    assert [s.episode_key for s in signals] == [key for key, *_ in EXPECTED]
    assert [s.detected_at.isoformat() for s in signals] == [
        "2026-10-30T00:05:00+00:00", "2026-11-02T10:03:00+00:00", "2026-11-02T12:05:00+00:00",
        "2026-11-03T09:00:00+00:00",
    ]


def fold_without_ticks(events, split=None):
    """Fold each customer's events (no ticks), restoring all states from JSON before ``split``."""
    fold = CustomerFold()
    states: dict[str, dict] = {}
    signals = []
    for n, event in enumerate(events):
        if n == split:
            states = json.loads(json.dumps(states))
        states[event.customer_id], emitted = fold.on_event(states.get(event.customer_id), event)
        signals += [s.to_dict() for s in emitted]
    return states, signals


def test_without_ticks_only_event_driven_signals_appear():
    # No timer: absences never fire, so o2's carrier exception is the first proof of its delay.
    _, signals = fold_without_ticks(load_stream())
    assert [(s["episode_key"], s["reason"]) for s in signals] == [
        ("shipping_delay:ben:o1", "eta_slip"), ("shipping_delay:ben:o2", "exception"),
    ]


@pytest.mark.parametrize("split", [5, 12, 19, 24])
def test_golden_stream_survives_a_restart(split):
    # A worker dies after `split` events; its table (JSON) is restored and the stream resumes.
    events = load_stream()
    assert fold_without_ticks(events, split) == fold_without_ticks(events)
