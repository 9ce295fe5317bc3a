"""The per-customer fold: dedup once, lateness accounting, features, settings, routing."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from detector_events import Tick, at, ev, run
from signals import features
from infra.settings import Settings
from signals.customer_fold import CustomerFold, default_fold, event_digest
from signals.detectors.checkout_idle import CheckoutIdleDetector

FOLD = CustomerFold()


def start(s, checkout="k1", **kw):
    return ev("checkout.started", at(s), checkout_id=checkout, **kw)


def test_duplicate_changes_nothing():
    usage = ev("product.usage", at(0), sessions=3)
    once, _ = run(FOLD, [usage])
    again, signals = FOLD.on_event(once, usage)
    assert again is once
    assert signals == []


@pytest.mark.parametrize(
    "script",
    [
        # a redelivered completion must not matter, nor a redelivered start reopen the checkout
        lambda: [start(0, event_id="s"), ev("checkout.completed", at(10), checkout_id="k1", event_id="c"),
                 start(0, event_id="s"), Tick(at(500))],
        # a redelivered usage event is counted once (in the detector and in the features)
        lambda: [ev("product.usage", at(0), event_id="u", sessions=2)] * 3,
    ],
    ids=["checkout", "usage"],
)
def test_duplicates_do_not_reach_detectors_or_features(script):
    steps = script()
    unique = [s for n, s in enumerate(steps) if isinstance(s, Tick) or s.event_id not in
              {p.event_id for p in steps[:n] if not isinstance(p, Tick)}]
    with_dupes, signals_dupes = run(FOLD, steps)
    without, signals = run(FOLD, unique)
    assert with_dupes == without
    assert signals_dupes == signals


@pytest.mark.parametrize("window", [1, 2, 8, 20, 100])
def test_dedup_window_remembers_the_window_and_stays_bounded(window):
    fold = CustomerFold(dedup_window=window)
    events = [ev("product.usage", at(n), event_id=f"u{n}") for n in range(3 * window + 5)]
    state, _ = run(fold, events)
    # The window holds fixed-width digests of the ids, concatenated chunk by chunk.
    text = "".join(state["seen"])
    remembered = [text[i : i + 12] for i in range(0, len(text), 12)]
    assert remembered == [event_digest(e.event_id) for e in events][-len(remembered):]  # most recent, in order
    assert window <= len(remembered) <= window + 2 * max(1, window // 8)
    for recent in events[-window:]:
        assert fold.on_event(state, recent)[0] is state  # still a duplicate
    forgotten = events[0]  # beyond the window: folded again (the window is the memory bound)
    assert fold.on_event(state, forgotten)[0] is not state


@pytest.mark.parametrize(
    "offsets, late",
    [
        ([0, 10, 5], 0),  # reordered within allowed lateness (300 s)
        ([0, 1000, 699], 1),  # 301 s behind the watermark: counted as late, still folded
        ([0, 1000, 700], 0),  # exactly at the allowed lateness: on time
        ([1000, 0, 10], 2),
    ],
)
def test_late_events_are_counted_and_still_folded(offsets, late):
    state, _ = run(FOLD, [ev("product.usage", at(s), sessions=1) for s in offsets])
    assert state["late_events"] == late
    assert state["watermark"] == at(max(offsets)).isoformat(timespec="microseconds")
    assert sum(state["detectors"]["usage_drop"]["buckets"].values()) == len(offsets)


def test_late_cancel_within_grace_reaches_the_detector():
    # start at 0, the fold ticks at 94 s (inside the 5 s grace), a late activity at 60 s arrives.
    _, signals = run(FOLD, [start(0), Tick(at(94)), ev("checkout.activity", at(60), checkout_id="k1"), Tick(at(100))])
    assert signals == []
    _, signals = run(FOLD, [start(0), Tick(at(94)), ev("checkout.activity", at(60), checkout_id="k1"), Tick(at(155))])
    assert [s.kind for s in signals] == ["checkout_idle"]


def test_features_are_folded_from_the_same_events():
    events = [ev("order.placed", at(0), order_id="o1", amount=10.0, promised_ship_by=at(hours=24),
                 promised_delivery_by=at(hours=72)), ev("product.usage", at(5))]
    state, _ = run(FOLD, events)
    expected = features.initial_state()
    for event in events:
        expected = features.on_event(expected, event)
    assert state["features"] == expected


def test_state_is_json_and_knows_its_customer():
    state, _ = run(FOLD, [start(0, customer="c9")])
    assert json.loads(json.dumps(state)) == state
    assert state["customer_id"] == "c9"


def test_on_tick_and_deadline_without_state():
    state, signals = FOLD.on_tick(None, at(0))
    assert signals == [] and state == FOLD.initial_state()
    assert FOLD.next_deadline(FOLD.initial_state()) is None


def test_next_deadline_is_the_earliest_detector_deadline():
    state, _ = run(FOLD, [start(0), ev("order.placed", at(0), order_id="o1", amount=1.0,
                                       promised_ship_by=at(30), promised_delivery_by=at(hours=1))])
    assert FOLD.next_deadline(state) == at(95)  # checkout: idle 90 s + grace 5 s
    state, signals = run(FOLD, [Tick(at(95))], state)
    assert [s.kind for s in signals] == ["checkout_idle"]
    assert FOLD.next_deadline(state) == at(30) + dt.timedelta(minutes=5)  # shipping: ship-by + 5 min grace


def test_default_fold_reads_settings():
    settings = Settings(checkout_idle_seconds=30, shipping_eta_margin_hours=2, usage_recent_days=3,
                        usage_baseline_days=10, allowed_lateness_seconds=60)
    fold = default_fold(settings.detectors)
    configs = {d.kind: d.config for d in fold.detectors}
    assert configs["checkout_idle"].idle_after == dt.timedelta(seconds=30)
    assert configs["shipping_delay"].eta_margin == dt.timedelta(hours=2)
    assert configs["shipping_delay"].grace == dt.timedelta(seconds=60)
    assert (configs["usage_drop"].recent_days, configs["usage_drop"].baseline_days) == (3, 10)
    assert fold.allowed_lateness == dt.timedelta(seconds=60)


def test_detectors_get_only_their_event_types():
    class Recording(CheckoutIdleDetector):
        seen: list[str] = []

        def on_event(self, state, event):
            self.seen.append(event.type)
            return super().on_event(state, event)

    fold = CustomerFold([Recording()])
    run(fold, [start(0), ev("product.usage", at(1)), ev("checkout.activity", at(2), checkout_id="k1")])
    assert Recording.seen == ["checkout.started", "checkout.activity"]


def test_rejects_bad_configuration():
    with pytest.raises(ValueError, match="unique"):
        CustomerFold([CheckoutIdleDetector(), CheckoutIdleDetector()])
    with pytest.raises(ValueError, match="dedup_window"):
        CustomerFold(dedup_window=0)


def test_a_state_with_the_older_id_dict_window_still_deduplicates():
    # States written before the digest window held {event_id: 1} chunks; they keep working.
    fold = CustomerFold(dedup_window=8)
    events = [ev("product.usage", at(n), event_id=f"u{n}") for n in range(5)]
    state, _ = run(fold, events)
    old = {**state, "seen": [{e.event_id: 1 for e in events}]}
    assert fold.on_event(old, events[2])[0] is old  # still a duplicate
    new, _ = fold.on_event(old, ev("product.usage", at(9), event_id="u9"))
    assert "".join(new["seen"]) == "".join(event_digest(i) for i in ["u0", "u1", "u2", "u3", "u4", "u9"])
