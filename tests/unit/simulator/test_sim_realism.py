"""Realism: bad experiences predict churn, messages help the persuadable, the oracle is calibrated."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest
from sklearn.metrics import roc_auc_score

from simulator import Reaction, Simulator


@pytest.fixture(scope="module")
def halfway():
    """600 customers after 30 simulated days (messages are delivered at the end)."""
    sim = Simulator(600, 31, seed=7)
    for _ in range(30):
        sim.step_day()
    return sim


def test_customers_with_more_bad_experiences_churn_more():
    sim = Simulator(2000, 60, seed=7)
    for _ in range(30):
        sim.step_day()
    t30 = sim.start.timestamp() + 30 * 86400
    group = {life.customer.customer_id: min(life.bad_experiences, 2) for life in sim.lives if life.active_at(t30)}
    for _ in sim.run():
        pass
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for customer_id, g in group.items():
        counts[g][0] += 1
        counts[g][1] += sim.life(customer_id).churned_at is not None
    rate = {g: churned / n for g, (n, churned) in counts.items()}
    assert all(counts[g][0] > 200 for g in (0, 1, 2))  # enough customers in each group
    assert rate[0] < rate[1] < rate[2]
    assert rate[2] > 1.5 * rate[0]


def test_a_message_lowers_the_risk_of_persuadable_customers_only(halfway):
    sim = halfway
    at = sim.start + dt.timedelta(days=30, hours=1)
    seen = defaultdict(int)
    for life in sim.lives[:600]:
        if not life.active_at(at.timestamp()):
            continue
        customer_id = life.customer.customer_id
        before = sim.true_churn_probability(customer_id, at, 30)
        reaction = sim.deliver_message(customer_id, at, "shipping_delay")
        after = sim.true_churn_probability(customer_id, at, 30)
        helped = life.customer.persuadable and reaction in (Reaction.IGNORED, Reaction.PURCHASED)
        assert (after < before) is helped, (customer_id, reaction, before, after)
        seen[helped] += 1
    assert seen[True] > 50 and seen[False] > 50


def test_reactions_are_deterministic_and_varied(halfway):
    sim = halfway
    at = sim.start + dt.timedelta(days=30, hours=2)
    reactions = [sim.react_to_message(c.customer_id, at, "checkout_idle", channel, key=f"m{i}:{c.customer_id}")
                 for i in range(6) for c in sim.customers for channel in ("email", "sms")]
    assert reactions == [sim.react_to_message(c.customer_id, at, "checkout_idle", channel, key=f"m{i}:{c.customer_id}")
                         for i in range(6) for c in sim.customers for channel in ("email", "sms")]
    assert set(reactions) >= set(Reaction) - {Reaction.COMPLAINED}  # spam reports: 0.02 %, too rare for 3600 e-mails
    unwanted = [sim.react_to_message(c.customer_id, at, "checkout_idle", "email", key=c.customer_id, unwanted=True)
                for c in sim.customers]
    assert Reaction.COMPLAINED in unwanted


def test_true_probability_is_calibrated_and_discriminates():
    sim = Simulator(1500, 75, seed=11)
    for _ in sim.run():
        pass
    labels = sim.labels()
    y = [row["churned"] for row in labels]
    p = [row["true_probability"] for row in labels]
    observed, predicted = sum(y) / len(y), sum(p) / len(p)
    assert abs(observed - predicted) < 0.25 * observed
    assert roc_auc_score(y, p) > 0.68
