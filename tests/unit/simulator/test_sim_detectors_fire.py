"""A simulated batch history gives every detector something to find."""

from __future__ import annotations

from collections import Counter

from simulator import Simulator
from signals.customer_fold import replay
from signals.events import parse_event
from signals.signal import SIGNAL_KINDS


def test_replaying_a_small_simulated_history_fires_every_detector_kind():
    events = [parse_event(e) for e in Simulator(150, 45, seed=12).run()]
    signals = list(replay(events))
    kinds = Counter(s.kind for s in signals)
    assert set(kinds) == set(SIGNAL_KINDS)
    reasons = {s.reason for s in signals if s.kind == "shipping_delay"}
    assert reasons == {"not_shipped", "eta_slip", "exception"}
    # Signals are rare moments, not noise: far fewer than customers x days.
    assert sum(kinds.values()) < 150 * 45 * 0.1
