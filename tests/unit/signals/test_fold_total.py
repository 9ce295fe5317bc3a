"""The fold is total: no event the envelope accepts, and no ``now``, makes it raise.

Issue 10 finding 1: ``occurred_at`` 9999-12-31T23:59:59+00:00 made ``next_deadline`` raise
``OverflowError``. The table below pins the reported cases; the property tests try arbitrary
event sequences with extreme times and values. A state the fold produced must also survive the
worker's changelog codec and keep folding afterwards. The feature properties run over the
compiled built-in spec and over a spec that uses every declared metric kind.
"""

from __future__ import annotations

import datetime as dt
import math

import orjson
import pytest
from hypothesis import HealthCheck, given, settings

from event_strategies import SCRIPTS, TIME, Tick
from signals import features
from signals.customer_fold import CustomerFold
from signals.events import parse_event
from signals.features import CompiledSpec, parse_spec

FOLD = CustomerFold()
# Every declared metric kind, over numeric, text and dict properties, windows from 1 day to the
# longest allowed, and per-feature usage; no core features (the declared-only path of the fold).
EVERY_KIND = CompiledSpec(parse_spec({
    "core": False,
    "windows": {"1d": 1, "7d": 7, "28d": 28, "max": 3660},
    "metrics": [
        {"name": "orders_7d", "kind": "count", "event": "order.placed", "window": "7d"},
        {"name": "uses_a_28d", "kind": "count", "event": "product.usage", "property": "feature_counts.a",
         "window": "28d"},
        {"name": "clicks", "kind": "count", "event": "message.response", "where": {"response": "clicked"},
         "window": "max"},
        {"name": "spend", "kind": "sum", "event": "order.placed", "property": "amount", "window": "max"},
        {"name": "sessions_1d", "kind": "sum", "event": "product.usage", "property": "sessions", "window": "1d"},
        {"name": "carrier_sum", "kind": "sum", "event": "order.shipped", "property": "carrier", "window": "7d"},
        {"name": "cart_items", "kind": "sum", "event": "checkout.started", "property": "items", "window": "28d"},
        {"name": "breadth_7d", "kind": "distinct", "event": "product.usage", "property": "feature_counts",
         "window": "7d"},
        {"name": "carriers", "kind": "distinct", "event": "order.shipped", "property": "carrier", "window": "max"},
        {"name": "since_abandon", "kind": "last_seen", "event": "checkout.abandoned"},
        {"name": "since_opt_out", "kind": "last_seen", "event": "message.response",
         "where": {"response": "opted_out"}},
        {"name": "sessions_trend", "kind": "trend", "event": "product.usage", "property": "sessions",
         "recent": "1d", "baseline": "max"},
        {"name": "orders_trend", "kind": "trend", "event": "order.placed", "recent": "7d", "baseline": "28d"},
        {"name": "dropped", "kind": "dropped", "event": "product.usage", "property": "feature_counts",
         "recent": "7d", "baseline": "28d"},
        {"name": "spend_per_order", "kind": "ratio", "numerator": "spend", "denominator": "orders_7d"},
        {"name": "carrier_per_cart", "kind": "ratio", "numerator": "carrier_sum", "denominator": "cart_items"},
    ],
    "usage_features": {"names": ["a", "b"], "window": "28d", "recent": "1d", "baseline": "max"},
}))
# The compiled specs every property below runs over (the module itself is the built-in spec).
SPECS = {"builtin": features.compiled(), "every-kind": EVERY_KIND}
FOLDS = {name: CustomerFold(features=spec) for name, spec in SPECS.items()}
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
@pytest.mark.parametrize("spec", SPECS)
def test_extreme_times_fold_tick_and_schedule(script, spec):
    fold = FOLDS[spec]
    state = None
    for e in script:
        state, _ = fold.on_event(state, e)
        fold.next_deadline(state)
    for now in (dt.datetime.min.replace(tzinfo=UTC), dt.datetime.max.replace(tzinfo=UTC)):
        after, _ = fold.on_tick(state, now)
        fold.next_deadline(after)
        fold.features.vector(after["features"], now)


def run(script: list, state: dict | None = None, fold: CustomerFold = FOLD) -> dict | None:
    """Apply a script of events and ticks the way the worker does, through its codec."""
    for step in script:
        if isinstance(step, Tick):
            state, _ = fold.on_tick(state, step.now)
        else:
            state, _ = fold.on_event(state, step)
        deadline = fold.next_deadline(state)
        assert deadline is None or deadline.tzinfo is not None
        try:
            encoded = orjson.dumps(state, option=orjson.OPT_NON_STR_KEYS)
        except TypeError:
            continue  # not storable (e.g. a 10**40 count): the worker dead-letters that event instead
        state = orjson.loads(encoded)  # what the next batch (or another worker) reads back
    return state


@pytest.mark.parametrize("spec", SPECS)
@BOUNDED
@given(script=SCRIPTS)
def test_arbitrary_events_and_ticks_never_raise(spec, script):
    run(script, fold=FOLDS[spec])


@BOUNDED
@given(SCRIPTS, TIME)
def test_ticking_any_state_at_any_time_never_raises_and_moves_the_deadline_on(script, now):
    state = run(script)
    after, _ = FOLD.on_tick(state, now)
    deadline = FOLD.next_deadline(after)
    # The detector contract, where ``now`` can be represented at all.
    assert deadline is None or deadline > min(now, FOLD.latest)


@pytest.mark.parametrize("spec", SPECS)
@BOUNDED
@given(script=SCRIPTS, now=TIME)
def test_feature_vector_of_any_state_at_any_time_never_raises(spec, script, now):
    fold = FOLDS[spec]
    state = run(script, fold=fold)
    values = fold.features.vector((state or fold.initial_state())["features"], now)
    assert len(values) == len(fold.features.FEATURE_NAMES)
    assert not any(math.isinf(v) for v in values), dict(zip(fold.features.FEATURE_NAMES, values))


@pytest.mark.parametrize("spec", SPECS)
@BOUNDED
@given(script=SCRIPTS, now=TIME)
def test_features_alone_fold_any_event_unclamped_and_stay_storable(spec, script, now):
    """The compiled spec by itself, fed the events as the envelope gave them (no clamping by the fold)."""
    compiled = SPECS[spec]
    state = compiled.initial_state()
    for step in script:
        if not isinstance(step, Tick):
            state = compiled.on_event(state, step)
            stored = orjson.loads(orjson.dumps(state, option=orjson.OPT_NON_STR_KEYS))
            assert stored == state  # no inf or nan (JSON null) that the next fold would trip over
            state = stored
    values = compiled.vector(state, now)
    assert len(values) == len(compiled.FEATURE_NAMES)
    assert not any(math.isinf(v) for v in values), dict(zip(compiled.FEATURE_NAMES, values))


@BOUNDED
@given(SCRIPTS, TIME)
def test_advancing_to_any_time_fires_every_deadline_up_to_it(script, until):
    state = run(script) or FOLD.initial_state()
    after, signals = FOLD.advance(state, until)
    deadline = FOLD.next_deadline(after)
    assert deadline is None or deadline > min(until, FOLD.latest)
    assert all(s.detected_at <= max(until, FOLD.earliest) for s in signals)
