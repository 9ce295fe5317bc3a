"""The contract every detector (and the fold composing them) must keep.

Pure: same inputs, same outputs; the input state is never mutated; the state is plain JSON and
survives json.dumps/loads at any point with identical results; on_tick before any event is
harmless; after on_tick(state, now) the next deadline is strictly after ``now``.
"""

from __future__ import annotations

import copy
import datetime as dt
import doctest
import json

import pytest

from detector_events import Tick, at, daily_usage, ev
from signals.customer_fold import CustomerFold
from signals.detectors import Detector, base, checkout_idle, shipping_delay, usage_drop
from signals.detectors.checkout_idle import CheckoutIdleDetector
from signals.detectors.shipping_delay import ShippingDelayDetector
from signals.detectors.usage_drop import UsageDropDetector
from signals.events import EVENT_TYPES
from signals.signal import SIGNAL_KINDS

H = dt.timedelta(hours=1)


def checkout_script():
    return [
        ev("checkout.started", at(0), checkout_id="k1", cart_value=10.0),
        ev("checkout.started", at(10), checkout_id="k2"),
        ev("checkout.activity", at(50), checkout_id="k2"),
        Tick(at(96)),
        ev("checkout.completed", at(120), checkout_id="k2"),
        ev("product.usage", at(121)),
        Tick(at(400)),
    ]


def shipping_script():
    promised = {"promised_ship_by": at(hours=24), "promised_delivery_by": at(hours=72)}
    return [
        ev("order.placed", at(0), order_id="o1", amount=5.0, **promised),
        ev("order.placed", at(1), order_id="o2", amount=7.0, **promised),
        ev("order.placed", at(2), order_id="o3", amount=9.0, **promised),
        ev("order.shipped", at(hours=2), order_id="o2", estimated_delivery_at=at(hours=100)),
        ev("order.shipped", at(hours=3), order_id="o3"),
        ev("shipment.updated", at(hours=4), order_id="o3", status="exception"),
        Tick(at(hours=25)),
        ev("order.delivered", at(hours=26), order_id="o1"),
        Tick(at(days=40)),
    ]


def usage_script():
    first = at(0).date()
    steps = [ev("customer.profile", at(0), time_zone="Europe/Berlin")]
    steps += daily_usage(first, [3] * 30 + [0] * 10 + [3] * 10)
    steps += [Tick(at(days=n)) for n in range(0, 70, 3)]
    return steps


def fold_script():
    # Everything at once, with a duplicate (the same event object twice).
    script = checkout_script() + shipping_script() + usage_script()
    script.insert(3, script[2])
    events = sorted((s for s in script if not isinstance(s, Tick)), key=lambda e: e.occurred_at)
    ticks = [Tick(at(days=n)) for n in range(0, 70, 2)]
    return sorted(events + ticks, key=lambda s: s.now if isinstance(s, Tick) else s.occurred_at)


SUBJECTS = {
    "checkout_idle": (CheckoutIdleDetector, checkout_script),
    "shipping_delay": (ShippingDelayDetector, shipping_script),
    "usage_drop": (UsageDropDetector, usage_script),
    "fold": (CustomerFold, fold_script),
}


def apply(target, state, step):
    if isinstance(step, Tick):
        return target.on_tick(state, step.now)
    return target.on_event(state, step)


def play(target, script, roundtrip_at: int | None = None):
    state = target.initial_state()
    signals = []
    for n, step in enumerate(script):
        if n == roundtrip_at:
            state = json.loads(json.dumps(state))
        state, emitted = apply(target, state, step)
        signals += [s.to_dict() for s in emitted]
    return state, signals


@pytest.fixture(params=SUBJECTS.values(), ids=SUBJECTS.keys())
def subject(request):
    factory, script = request.param
    return factory(), script()


def test_scripts_emit_something(subject):
    # Guard against a contract suite that passes because nothing happens.
    target, script = subject
    _, signals = play(target, script)
    assert signals


def test_deterministic(subject):
    target, script = subject
    assert play(target, script) == play(target, script)


def test_input_state_is_never_mutated(subject):
    target, script = subject
    state = target.initial_state()
    for step in script:
        snapshot = copy.deepcopy(state)
        new_state, _ = apply(target, state, step)
        assert state == snapshot, f"state mutated by {step!r}"
        state = new_state


def test_state_round_trips_through_json_mid_stream(subject):
    target, script = subject
    expected = play(target, script)
    for cut in range(0, len(script), max(1, len(script) // 12)):
        assert play(target, script, roundtrip_at=cut) == expected, f"json round trip at step {cut}"


def test_tick_before_any_event_is_harmless(subject):
    target, _ = subject
    state = target.initial_state()
    new_state, signals = target.on_tick(state, at(days=400))
    assert signals == []
    assert new_state == state
    assert target.next_deadline(state) is None


def test_deadline_advances_past_each_tick(subject):
    target, script = subject
    state = target.initial_state()
    for step in script:
        state, _ = apply(target, state, step)
        if isinstance(step, Tick):
            deadline = target.next_deadline(state)
            assert deadline is None or deadline > step.now


def test_ticking_at_the_deadline_is_what_emits(subject):
    # Nothing is emitted by a tick strictly before next_deadline.
    target, script = subject
    state = target.initial_state()
    for step in script:
        if not isinstance(step, Tick):
            state, _ = target.on_event(state, step)
            deadline = target.next_deadline(state)
            if deadline is not None:
                _, signals = target.on_tick(state, deadline - dt.timedelta(microseconds=1))
                assert signals == []


@pytest.mark.parametrize("factory", [CheckoutIdleDetector, ShippingDelayDetector, UsageDropDetector])
def test_detectors_satisfy_the_protocol(factory):
    detector = factory()
    assert isinstance(detector, Detector)
    assert detector.kind in SIGNAL_KINDS
    assert detector.event_types <= set(EVENT_TYPES)


@pytest.mark.parametrize("module", [base, checkout_idle, shipping_delay, usage_drop], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    failures, _ = doctest.testmod(module)
    assert failures == 0
