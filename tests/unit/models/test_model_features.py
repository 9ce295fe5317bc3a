"""The feature fold: values, purity, bounded JSON-able state, and online == offline parity."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import json
import math
import random

import pytest

from model_event_factory import START, customer_history, event, order, population
from signals import features
from models.dataset import LabelSpec, build_dataset
from models.schedule import observation_dates

D = dt.timedelta(days=1)


def fold(events):
    state = features.initial_state()
    for e in events:
        state = features.on_event(state, e)
    return state


def value(events, name, now):
    return features.vector(fold(events), now)[features.FEATURE_NAMES.index(name)]


@pytest.mark.parametrize(
    ("events", "name", "expected"),
    [
        # two orders 10 days apart, asked 5 days after the second
        ([order("c", START, "o1", 10.0), order("c", START + 10 * D, "o2", 30.0)], "orders_total", 2.0),
        ([order("c", START, "o1", 10.0), order("c", START + 10 * D, "o2", 30.0)], "avg_order_value", 20.0),
        ([order("c", START, "o1"), order("c", START + 10 * D, "o2")], "days_since_last_order", 5.0),
        ([order("c", START, "o1"), order("c", START + 10 * D, "o2")], "order_gap_ratio", 0.5),
        # delivered 2 days after the promise (due_days=3 -> delivered on day 5)
        ([order("c", START, "o1", due_days=3), event("c", "order.delivered", START + 5 * D, order_id="o1")],
         "max_delivery_delay_days", 2.0),
        ([order("c", START, "o1", due_days=3), event("c", "order.delivered", START + 2 * D, order_id="o1")],
         "late_delivery_rate", 0.0),
        # placed, never delivered, promise passed -> overdue
        ([order("c", START, "o1", due_days=3)], "overdue_open_orders", 1.0),
        # never shipped and the ship-by promise (1 day) has passed
        ([order("c", START, "o1")], "late_shipments_pending", 1.0),
        # shipped a day late: a shipping issue, recent
        ([order("c", START, "o1"), event("c", "order.shipped", START + 2 * D, order_id="o1")], "shipping_issues_30d", 1.0),
        # one abandoned of two started
        ([event("c", "checkout.started", START, checkout_id="k1"), event("c", "checkout.abandoned", START + D, checkout_id="k1"),
          event("c", "checkout.started", START + D, checkout_id="k2"), event("c", "checkout.completed", START + D, checkout_id="k2")],
         "checkout_abandon_rate", 0.5),
        # a checkout left open (idle) counts as an abandon
        ([event("c", "checkout.started", START + 10 * D, checkout_id="k1")], "abandons_30d", 1.0),
        # downgrade: 40 -> 10 a month
        ([event("c", "subscription.changed", START, subscription_id="s", plan="pro", monthly_amount=40.0),
          event("c", "subscription.changed", START + D, subscription_id="s", plan="basic", monthly_amount=10.0)],
         "plan_downgrades", 1.0),
        ([event("c", "message.sent", START, message_id="m", rule_id="r", channel="sms"),
          event("c", "message.response", START + D, message_id="m", response="opted_out")], "message_opted_out", 1.0),
        # profile sign-up 100 days before START, asked 15 days after START
        ([event("c", "customer.profile", START, signed_up_at=(START - 100 * D).isoformat())], "tenure_days", 115.0),
    ],
)
def test_feature_values(events, name, expected):
    assert value(events, name, START + 15 * D) == pytest.approx(expected)


def test_usage_trend_compares_the_last_week_with_the_customers_own_baseline():
    # 4 weeks of 4 sessions a day, then a week of 1 a day: the trend falls well below 1
    days = [event("c", "product.usage", START + i * D + dt.timedelta(hours=12), sessions=4 if i < 28 else 1) for i in range(35)]
    vec = dict(zip(features.FEATURE_NAMES, features.vector(fold(days), START + 35 * D)))
    assert vec["usage_sessions_7d"] == 7.0
    assert vec["usage_weekly_baseline"] == 28.0
    assert vec["usage_trend"] == pytest.approx(8 / 29)


def test_unknown_values_are_nan_not_zero():
    vec = dict(zip(features.FEATURE_NAMES, features.vector(features.initial_state(), START)))
    assert math.isnan(vec["days_since_last_order"]) and math.isnan(vec["plan_code"])
    assert len(vec) == len(features.FEATURE_NAMES)


def test_on_event_does_not_mutate_its_input():
    state = fold(customer_history("c", random.Random(1), 40, None))
    before = copy.deepcopy(state)
    for e in customer_history("c", random.Random(2), 40, 20):
        features.on_event(state, e)
    assert state == before


def test_state_is_json_and_bounded():
    state = fold(customer_history("c", random.Random(3), 400, None))
    assert json.loads(json.dumps(state)) == state
    assert len(state["usage_days"]) <= features.USAGE_DAYS
    assert len(state["open_orders"]) <= features.OPEN_LIMIT and len(state["checkouts"]) <= features.OPEN_LIMIT
    assert len(state["order_times"]) <= features.RECENT_LIMIT


def test_plan_codes_are_stable_and_categorical():
    assert features.plan_code("pro") == features.plan_code("pro") != features.plan_code("basic")
    assert set(features.CATEGORICAL_FEATURES) <= set(features.FEATURE_NAMES)


def test_fold_in_place_gives_the_state_on_event_gives():
    history = population(6, 60, seed=9)
    copied, owned = {}, {}
    for e in history:
        copied[e.customer_id] = features.on_event(copied.get(e.customer_id) or features.initial_state(), e)
        features.fold_in_place(owned.setdefault(e.customer_id, features.initial_state()), e)
    assert owned == copied


def usage_on(day_number, sessions=1):
    return event("c", "product.usage", dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + day_number * D,
                 sessions=sessions, day=(dt.date(1970, 1, 1) + day_number * D).isoformat())


@pytest.mark.parametrize("base", [20000, 9990, 99990, 100, 5])  # around powers of ten and near the epoch
def test_usage_days_keep_every_day_within_the_window_of_the_newest_in_day_order(base):
    rng = random.Random(base)
    steps = [rng.choice([1, 1, 1, 0, 2, -1, -5, -40, 50]) for _ in range(300)]
    days = list(itertools.accumulate(steps, initial=base))
    sessions = [rng.randint(0, 3) for _ in days]
    state = fold(usage_on(d, n) for d, n in zip(days, sessions))
    newest = max(days)
    expected = {}
    for d, n in zip(days, sessions):  # every day seen within USAGE_DAYS of the newest, all its sessions
        if d > newest - features.USAGE_DAYS:
            expected[str(d)] = expected.get(str(d), 0) + n
    assert state["usage_days"] == expected
    assert [int(k) for k in state["usage_days"]] == sorted(int(k) for k in expected)


def test_a_state_from_before_the_ordered_usage_days_still_folds_right():
    older = {**features.initial_state(), "usage_days": {"20005": 1, "20001": 2, "20003": 1}}
    del older["usage_days_sorted"]  # states stored before the days were kept in order
    state = features.on_event(older, usage_on(20036))
    assert list(state["usage_days"]) == ["20003", "20005", "20036"]  # 20001 left the 35-day window
    assert state["usage_days_sorted"] is True
    assert "usage_days_sorted" not in older  # the input is untouched


def daily_usage(counts_on_day, days=35):
    """One ``product.usage`` aggregate a day, ``counts_on_day(i)`` its ``feature_counts``."""
    return [event("c", "product.usage", START + i * D + dt.timedelta(hours=12), sessions=5,
                  feature_counts=counts_on_day(i), day=(START + i * D).date().isoformat()) for i in range(days)]


def test_feature_counts_reach_the_features():
    """Finding: ``feature_counts`` was accepted and ignored; which features a customer stops using is signal."""
    steady = daily_usage(lambda i: {"reports": 3, "export": 2})
    stopped_export = daily_usage(lambda i: {"reports": 3, "export": 2} if i < 28 else {"reports": 5})
    now = START + 35 * D
    a = dict(zip(features.FEATURE_NAMES, features.vector(fold(steady), now)))
    b = dict(zip(features.FEATURE_NAMES, features.vector(fold(stopped_export), now)))
    assert (a["usage_breadth_7d"], b["usage_breadth_7d"]) == (2.0, 1.0)
    assert (a["usage_breadth_28d"], b["usage_breadth_28d"]) == (2.0, 2.0)
    assert (a["usage_features_dropped"], b["usage_features_dropped"]) == (0.0, 1.0)


EVERY_KIND = {
    "windows": {"7d": 7, "28d": 28, "90d": 90},
    "metrics": [
        {"name": "orders_7d_declared", "kind": "count", "event": "order.placed", "window": "7d"},
        {"name": "orders_90d_declared", "kind": "count", "event": "order.placed", "window": "90d"},
        {"name": "spend_90d", "kind": "sum", "event": "order.placed", "property": "amount", "window": "90d"},
        {"name": "spend_per_order_90d", "kind": "ratio", "numerator": "spend_90d", "denominator": "orders_90d_declared"},
        {"name": "responses_90d", "kind": "distinct", "event": "message.response", "property": "response", "window": "90d"},
        {"name": "days_since_opened", "kind": "last_seen", "event": "message.response", "where": {"response": "opened"}},
        {"name": "abandons_28d_declared", "kind": "count", "event": "checkout.abandoned", "window": "28d"},
        {"name": "sessions_trend", "kind": "trend", "event": "product.usage", "property": "sessions", "recent": "7d",
         "baseline": "28d"},
        {"name": "checkouts_trend", "kind": "trend", "of": "count", "event": "checkout.started", "recent": "7d",
         "baseline": "28d"},
        {"name": "features_dropped_90d", "kind": "dropped", "event": "product.usage", "property": "feature_counts",
         "recent": "7d", "baseline": "90d"},
    ],
    "usage_features": {"names": ["reports", "export"]},
}


def with_feature_counts(events):
    """The factory's usage events with a deterministic, varied ``feature_counts``."""
    import hashlib

    from signals.events import event_to_dict, parse_event

    out = []
    for e in events:
        if e.type == "product.usage":
            h = int(hashlib.sha256(e.event_id.encode()).hexdigest(), 16)
            raw = event_to_dict(e)
            raw["properties"]["feature_counts"] = {"reports": h % 4, "export": (h >> 8) % 3, "search": (h >> 16) % 2}
            e = parse_event(raw)
        out.append(e)
    return out


@pytest.mark.parametrize("spec_data", [None, EVERY_KIND], ids=["builtin", "every-metric-kind"])
def test_online_fold_with_json_round_trips_equals_offline_dataset_for_every_declared_metric(spec_data):
    """The worker's path (state JSON-encoded between events) and the dataset builder agree on every column."""
    spec = features.BUILTIN if spec_data is None else features.CompiledSpec(features.parse_spec(spec_data))
    events = with_feature_counts(population(25, 80, seed=5))
    dates = observation_dates(START + 14 * D, START + 40 * D, 7)
    table = build_dataset(events, dates, LabelSpec("activity", 30), progress=False, spec=spec)
    assert list(table.columns[2:-1]) == list(spec.FEATURE_NAMES) and len(table) > 50
    declared = [m.name for m in spec.spec.all_metrics()]
    for name in declared:  # every declared metric takes several values here, so the comparison means something
        assert table[name].nunique() >= 2, name
    by_customer = {}
    for e in events:
        by_customer.setdefault(e.customer_id, []).append(e)
    for (customer, observed_at), row in table.set_index(["customer_id", "observed_at"]).iterrows():
        stored = json.dumps(spec.initial_state())
        for e in by_customer[customer]:
            if e.occurred_at >= observed_at:
                break
            stored = json.dumps(spec.on_event(json.loads(stored), e))
        online = spec.vector(json.loads(stored), observed_at)
        offline = row[list(spec.FEATURE_NAMES)].to_numpy(dtype=float).tolist()
        assert [round(v, 12) if v == v else "nan" for v in online] == [round(v, 12) if v == v else "nan" for v in offline]
