"""``replay``: the offline runner ticks each customer at its deadline as the watermark advances."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from detector_events import at, ev
from signals.customer_fold import CustomerFold, ReplayFeatures, replay
from signals.detectors.checkout_idle import CheckoutIdleDetector
from signals.events import parse_event

GOLDEN_STREAM = Path(__file__).resolve().parents[2] / "golden" / "detector_stream.jsonl"


def start(s, customer="c1", checkout="k1"):
    return ev("checkout.started", at(s), customer, checkout_id=checkout)


def usage(s, customer="c1"):
    return ev("product.usage", at(s), customer)


def test_ticks_at_the_exact_deadline_once_the_watermark_passes_it():
    signals = list(replay([start(0), usage(500, "other")], CustomerFold()))
    assert [(s.episode_key, s.detected_at) for s in signals] == [("checkout_idle:c1:k1", at(95))]


def test_ends_at_the_last_event_time():
    # The checkout's deadline (95 s) is after the last event (60 s): replay does not invent time.
    assert list(replay([start(0), usage(60, "other")], CustomerFold())) == []


def test_signals_come_out_in_event_time_order_across_customers():
    events = [start(0, "a"), start(10, "b"), start(5, "c"), usage(1000, "z")]
    signals = list(replay(events, CustomerFold()))
    assert [(s.customer_id, s.detected_at) for s in signals] == [("a", at(95)), ("c", at(100)), ("b", at(105))]


def test_nothing_is_sorted_late_arrivals_are_folded_where_they_arrive():
    # c1's activity at 60 s arrives after another customer's event at 94 s: it pushes the
    # deadline to 155 s.
    events = [start(0), usage(94, "other"), ev("checkout.activity", at(60), checkout_id="k1"), usage(1000, "other")]
    assert [s.detected_at for s in replay(events, CustomerFold())] == [at(155)]
    # Another customer's clock does not make c1's events late: the partitions of a topic advance
    # independently, so the worker has no clock shared by all customers either.
    events = [start(0), usage(96, "other"), ev("checkout.activity", at(60), checkout_id="k1"), usage(1000, "other")]
    assert [s.detected_at for s in replay(events, CustomerFold())] == [at(155)]
    # c1's own later event is what proves its deadline passed: it fires before that event is folded.
    events = [start(0), usage(96), ev("checkout.activity", at(60), checkout_id="k1"), usage(1000, "other")]
    assert [s.detected_at for s in replay(events, CustomerFold())] == [at(95)]


def test_deadlines_fire_before_the_customer_event_that_passes_them():
    # Issue 11 finding 3: a checkout abandoned after its idle deadline, in the same load, was
    # never signalled live; in event time the deadline passed first.
    events = [start(0), ev("checkout.abandoned", at(200), checkout_id="k1")]
    assert [(s.episode_key, s.detected_at) for s in replay(events, CustomerFold())] == [("checkout_idle:c1:k1", at(95))]
    # Abandoned before the deadline: no signal.
    events = [start(0), ev("checkout.abandoned", at(60), checkout_id="k1"), usage(1000)]
    assert list(replay(events, CustomerFold())) == []


def test_until_advances_every_customer_past_the_last_event():
    signals = list(replay([start(0), usage(60, "other")], CustomerFold(), until=at(100)))
    assert [s.detected_at for s in signals] == [at(95)]


@pytest.mark.parametrize(
    "tick_every, detected",
    [
        (dt.timedelta(seconds=1), 95),
        (dt.timedelta(seconds=60), 120),  # the next full minute after 10:01:35
        (dt.timedelta(minutes=10), 600),
    ],
)
def test_periodic_timer(tick_every, detected):
    signals = list(replay([start(0), usage(900, "other")], CustomerFold(), tick_every=tick_every))
    assert [s.detected_at for s in signals] == [at(detected)]


def test_duplicates_in_the_stream_are_harmless():
    events = [start(0), start(0), usage(500, "other")]
    events[1] = events[0]
    assert len(list(replay(events, CustomerFold()))) == 1


def test_default_fold_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("RETAIN_CHECKOUT_IDLE_SECONDS", "30")
    signals = list(replay([start(0), usage(500, "other")]))
    assert [s.detected_at for s in signals] == [at(35)]


def test_rejects_a_non_positive_timer():
    with pytest.raises(ValueError, match="tick_every"):
        list(replay([start(0)], CustomerFold(), tick_every=dt.timedelta(0)))


def test_a_detector_whose_deadline_does_not_advance_is_reported():
    class Stuck(CheckoutIdleDetector):
        def on_tick(self, state, now):
            return state, []  # never clears the due checkout

    with pytest.raises(RuntimeError, match="did not advance"):
        list(replay([start(0), usage(500, "other")], CustomerFold([Stuck()])))


def test_on_fold_sees_every_event_the_fold_takes_and_no_duplicate():
    events = [start(0), start(0), usage(500, "other")]
    events[1] = events[0]
    taken = []
    list(replay(events, CustomerFold(features=None), on_fold=lambda customer, e: taken.append((customer, e.event_id))))
    assert taken == [("c1", events[0].event_id), ("other", events[2].event_id)]


def test_features_kept_aside_are_the_values_the_fold_attaches():
    # The golden stream: four customers, every detector, a redelivered (duplicate) ETA update.
    events = [parse_event(json.loads(line)) for line in GOLDEN_STREAM.read_text().splitlines() if line.strip()]
    eager = [(s.episode_key, s.context["features"]) for s in replay(events, CustomerFold())]
    aside = ReplayFeatures()
    lean = [(s.episode_key, aside.values(s.customer_id, s.detected_at))
            for s in replay(events, CustomerFold(features=None), on_fold=aside.on_fold)]
    assert len(eager) == 4
    assert lean == eager
