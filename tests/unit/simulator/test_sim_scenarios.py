"""Scenarios: a product whose churn depends on the features used, a shop with orders only; the
default scenario's output is untouched by either."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import pytest

from simulator import Simulator, scenarios
from simulator.population import build_customer
from signals.events import parse_event

import datetime as dt

START = dt.datetime(2026, 9, 1, tzinfo=dt.timezone.utc)


def digest(events):
    return hashlib.sha256("".join(json.dumps(e, sort_keys=True) for e in events).encode()).hexdigest()


def test_the_default_scenario_is_the_simulator_it_always_was():
    # The same draws in the same order: a customer's default traits are the same in every scenario.
    for index in range(30):
        default = build_customer(3, index, START)
        product = build_customer(3, index, START, "product")
        assert default.plan == product.plan and default.base_hazard == product.base_hazard
        assert default.usage_baseline == product.usage_baseline and "product_use" in product.extras
    assert digest(Simulator(60, 20, seed=2).run()) == digest(Simulator(60, 20, seed=2, scenario="default").run())


def test_the_shop_has_orders_and_checkouts_but_no_plans_usage_or_subscriptions():
    types = Counter()
    for raw in Simulator(200, 60, seed=4, scenario="shop").run():
        event = parse_event(raw)
        types[event.type] += 1
        if event.type == "customer.profile":
            assert event.properties.plan is None
    assert types["order.placed"] > 100 and types["checkout.started"] > 100
    assert not {"product.usage", "subscription.changed", "subscription.cancelled"} & set(types)


def test_product_usage_reports_the_features_each_customer_uses():
    sim = Simulator(150, 40, seed=6, scenario="product")
    at_start = {life.customer.customer_id: set(life.customer.extras["product_use"].propensity) for life in sim.lives}
    seen: dict[str, set] = {}
    for raw in sim.run():
        if raw["type"] == "product.usage":
            seen.setdefault(raw["customer_id"], set()).update(raw["properties"]["feature_counts"])
    assert set().union(*seen.values()) <= {"dashboard", *scenarios.PRODUCT_FEATURES}
    pairs = [(c, f) for c, features in at_start.items() if c in seen for f in features]
    assert len(pairs) > 100
    assert sum(f in seen[c] for c, f in pairs) > 0.9 * len(pairs)  # what they use shows up in the events
    never = [(c, f) for c in seen for f in scenarios.PRODUCT_FEATURES if f not in at_start[c]]
    assert sum(f in seen[c] for c, f in never) < 0.2 * len(never)  # adoption during the run is rare


@pytest.mark.parametrize(
    ("in_use", "expected"),
    [
        ({}, pytest.approx(2.718 ** scenarios.MEAN_RELIEF, rel=1e-3)),  # nothing sticky: more churn than average
        ({"integrations": 0.5, "api": 0.5}, pytest.approx(2.718 ** (scenarios.MEAN_RELIEF - 1.75), rel=1e-3)),
    ],
)
def test_features_in_use_lower_the_hazard_by_their_own_effect(in_use, expected):
    assert scenarios.ProductUse(dict(in_use)).hazard_factor() == expected


def test_dropping_a_sticky_feature_raises_the_true_churn_probability():
    sim = Simulator(1, 1, seed=1, scenario="product")
    life = sim.lives[0]
    life.customer.extras["product_use"] = scenarios.ProductUse({"integrations": 0.5, "reports": 0.5})
    at = sim.start + dt.timedelta(days=1)
    sticky = sim.true_churn_probability(life.customer.customer_id, at, 30)
    del life.customer.extras["product_use"].propensity["integrations"]
    assert sim.true_churn_probability(life.customer.customer_id, at, 30) > 1.5 * sticky


def test_an_unknown_scenario_is_refused():
    with pytest.raises(ValueError, match="scenario must be one of"):
        Simulator(1, 1, scenario="bank")
