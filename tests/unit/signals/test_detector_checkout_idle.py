"""Checkout idle: deadlines pushed by activity, cancelled by completion, lateness and reordering."""

from __future__ import annotations

import datetime as dt

import pytest

from detector_events import Tick, at, ev, run
from signals.detectors.checkout_idle import CheckoutIdleConfig, CheckoutIdleDetector

DETECTOR = CheckoutIdleDetector()  # idle_after 90 s, grace 5 s


def start(s: float, checkout: str = "k1", **props):
    return ev("checkout.started", at(s), checkout_id=checkout, **props)


def activity(s: float, checkout: str = "k1"):
    return ev("checkout.activity", at(s), checkout_id=checkout)


def completed(s: float, checkout: str = "k1"):
    return ev("checkout.completed", at(s), checkout_id=checkout)


def abandoned(s: float, checkout: str = "k1"):
    return ev("checkout.abandoned", at(s), checkout_id=checkout)


# (steps, expected [(checkout_id, idle_seconds, detected_at offset)])
CASES = {
    # idle for idle_after + grace: one signal at the tick
    "idle": ([start(0), Tick(at(95))], [("k1", 95.0, 95)]),
    # still inside the grace: nothing yet
    "inside grace": ([start(0), Tick(at(94.9))], []),
    # activity pushes the deadline to 60 + 90 (+5 grace)
    "activity pushes": ([start(0), activity(60), Tick(at(149)), Tick(at(155))], [("k1", 95.0, 155)]),
    "completed cancels": ([start(0), completed(30), Tick(at(500))], []),
    "abandoned cancels": ([start(0), abandoned(30), Tick(at(500))], []),
    # a late activity (occurred before the deadline, arrives after it, within grace) cancels
    "late activity within grace cancels": ([start(0), Tick(at(94)), activity(60), Tick(at(100))], []),
    # an activity after the deadline does not hide the gap: the checkout WAS idle (0 -> 92)
    "activity after deadline confirms": ([start(0), activity(92), Tick(at(95))], [("k1", 92.0, 95)]),
    # reordered activities: 100 arrives before 50, gaps are 50 and 50, then idle from 100
    "reordered activities": (
        [start(0), activity(100), activity(50), Tick(at(145)), Tick(at(195))], [("k1", 95.0, 195)]
    ),
    # completion after the deadline but before emission still cancels (no nudge once finished)
    "completion in grace cancels": ([start(0), completed(93), Tick(at(95))], []),
    # too late: the completion arrives after the signal went out; nothing is retracted or repeated
    "late completion after emission": (
        [start(0), Tick(at(95)), completed(30), Tick(at(500))], [("k1", 95.0, 95)]
    ),
    # one signal per checkout even if it goes idle again
    "one per checkout": ([start(0), Tick(at(95)), activity(200), Tick(at(400))], [("k1", 95.0, 95)]),
    "two checkouts": (
        [start(0), start(50, "k2"), Tick(at(95)), Tick(at(145))], [("k1", 95.0, 95), ("k2", 95.0, 145)]
    ),
    # activity seen before its start (reordered): the later of the two times counts
    "activity before start": ([activity(10), start(0), Tick(at(104)), Tick(at(105))], [("k1", 95.0, 105)]),
    # events of a closed checkout are ignored, nothing reopens it
    "closed stays closed": ([start(0), completed(10), activity(20), start(21), Tick(at(1000))], []),
    # other event types are none of this detector's business
    "unrelated events": ([ev("product.usage", at(0)), Tick(at(1000))], []),
}


@pytest.mark.parametrize("steps, expected", CASES.values(), ids=CASES.keys())
def test_checkout_idle_cases(steps, expected):
    _, signals = run(DETECTOR, steps)
    got = [(s.attributes["checkout_id"], s.attributes["idle_seconds"], s.detected_at) for s in signals]
    assert got == [(k, idle, at(when)) for k, idle, when in expected]


def test_signal_carries_cart_facts_and_episode_key():
    _, [signal] = run(DETECTOR, [start(0, cart_value=42.5, items=3, currency="EUR"), Tick(at(95))])
    assert signal.kind == "checkout_idle"
    assert signal.episode_key == "checkout_idle:c1:k1"
    assert signal.attributes["cart_value"] == 42.5
    assert signal.attributes["items"] == 3
    assert signal.attributes["currency"] == "EUR"


@pytest.mark.parametrize(
    "steps, deadline",
    [
        ([], None),  # nothing open
        ([start(0)], 95),  # idle_after + grace
        ([start(0), activity(30)], 125),  # pushed by activity
        ([start(0), start(20, "k2")], 95),  # the earliest checkout
        ([start(0), completed(5)], None),  # closed
    ],
)
def test_next_deadline(steps, deadline):
    state, _ = run(DETECTOR, steps)
    assert DETECTOR.next_deadline(state) == (None if deadline is None else at(deadline))


def test_config_changes_timing():
    detector = CheckoutIdleDetector(CheckoutIdleConfig(idle_after=dt.timedelta(seconds=30), grace=dt.timedelta(0)))
    _, signals = run(detector, [start(0), Tick(at(29)), Tick(at(30))])
    assert [s.detected_at for s in signals] == [at(30)]


def test_state_stays_bounded():
    detector = CheckoutIdleDetector(CheckoutIdleConfig(max_open=3, remember_closed=4))
    steps = [start(n, f"k{n}") for n in range(10)] + [completed(20 + n, f"k{n}") for n in range(10)]
    state, _ = run(detector, steps)
    assert len(state["open"]) <= 3
    assert len(state["closed"]) == 4
