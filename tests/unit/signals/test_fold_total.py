"""The fold is total: no event the envelope accepts, and no ``now``, makes it raise.

Issue 10 finding 1: ``occurred_at`` 9999-12-31T23:59:59+00:00 made ``next_deadline`` raise
``OverflowError``. The table below pins the reported cases; the property tests try arbitrary
event sequences with extreme times and values. A state the fold produced must also survive the
worker's changelog codec and keep folding afterwards.
"""

from __future__ import annotations

import datetime as dt

import orjson
import pytest
from hypothesis import HealthCheck, given, settings

from event_strategies import SCRIPTS, TIME, Tick
from signals import features
from signals.customer_fold import CustomerFold
from signals.events import parse_event

FOLD = CustomerFold()
UTC = dt.timezone.utc
END = "9999-12-31T23:59:59+00:00"
START = "0001-01-01T00:00:00+14:00"

# Bounded by the number of examples; no per-example deadline (the machine is shared, timings jitter).
BOUNDED = settings(max_examples=120, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow])


def event(type_: str, occurred_at: str, **props) -> object:
    return parse_event({"event_id": f"{type_}-{occurred_at}", "customer_id": "c1", "type": type_,
                        "occurred_at": occurred_at, "properties": props})


@pytest.mark.parametrize("script", [
    # the reported event: a checkout at the end of time (its idle deadline is past year 9999)
    [event("checkout.started", END, checkout_id="k1")],
    [event("checkout.started", START, checkout_id="k1")],  # before 0001-01-01 in UTC
    [event("order.placed", "2026-11-02T10:00:00+00:00", order_id="o1", amount=1.0,
           promised_ship_by=END, promised_delivery_by=START)],
    [event("product.usage", END), event("product.usage", START)],
    [event("product.usage", "2026-11-02T10:00:00+00:00", day="9999-12-31")],
    [event("customer.profile", END, time_zone="Pacific/Kiritimati"), event("product.usage", END)],
    # a late event more than allowed_lateness before a watermark at the start of time
    [event("checkout.started", START, checkout_id="k1"), event("checkout.activity", "0001-01-01T00:00:00+00:00",
                                                               checkout_id="k1")],
], ids=["checkout-end-of-time", "checkout-start-of-time", "promises-at-both-ends", "usage-at-both-ends",
        "usage-day-9999", "profile-zone-at-end", "late-at-start"])
def test_extreme_times_fold_tick_and_schedule(script):
    state = None
    for e in script:
        state, _ = FOLD.on_event(state, e)
        FOLD.next_deadline(state)
    for now in (dt.datetime.min.replace(tzinfo=UTC), dt.datetime.max.replace(tzinfo=UTC)):
        after, _ = FOLD.on_tick(state, now)
        FOLD.next_deadline(after)
        features.vector(after["features"], now)


def run(script: list, state: dict | None = None) -> dict | None:
    """Apply a script of events and ticks the way the worker does, through its codec."""
    for step in script:
        if isinstance(step, Tick):
            state, _ = FOLD.on_tick(state, step.now)
        else:
            state, _ = FOLD.on_event(state, step)
        deadline = FOLD.next_deadline(state)
        assert deadline is None or deadline.tzinfo is not None
        try:
            encoded = orjson.dumps(state, option=orjson.OPT_NON_STR_KEYS)
        except TypeError:
            continue  # not storable (e.g. a 10**40 count): the worker dead-letters that event instead
        state = orjson.loads(encoded)  # what the next batch (or another worker) reads back
    return state


@BOUNDED
@given(SCRIPTS)
def test_arbitrary_events_and_ticks_never_raise(script):
    run(script)


@BOUNDED
@given(SCRIPTS, TIME)
def test_ticking_any_state_at_any_time_never_raises_and_moves_the_deadline_on(script, now):
    state = run(script)
    after, _ = FOLD.on_tick(state, now)
    deadline = FOLD.next_deadline(after)
    # The detector contract, where ``now`` can be represented at all.
    assert deadline is None or deadline > min(now, FOLD.latest)


@BOUNDED
@given(SCRIPTS, TIME)
def test_feature_vector_of_any_state_at_any_time_never_raises(script, now):
    state = run(script)
    values = features.vector((state or FOLD.initial_state())["features"], now)
    assert len(values) == len(features.FEATURE_NAMES)


@BOUNDED
@given(SCRIPTS, TIME)
def test_advancing_to_any_time_fires_every_deadline_up_to_it(script, until):
    state = run(script) or FOLD.initial_state()
    after, signals = FOLD.advance(state, until)
    deadline = FOLD.next_deadline(after)
    assert deadline is None or deadline > min(until, FOLD.latest)
    assert all(s.detected_at <= max(until, FOLD.earliest) for s in signals)
