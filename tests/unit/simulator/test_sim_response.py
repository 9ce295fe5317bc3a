"""The response model: four uplift types, correlated with what events show, and their effect on churn."""

import datetime as dt
import random
from collections import Counter

import pytest

from simulator.engine import Simulator
from simulator.hazard import HazardState, Reaction, apply_message, churn_probability
from simulator.population import build_population
from simulator.response import (
    LOST_CAUSE,
    PERSUADABLE,
    RESPONSE_TYPES,
    SLEEPING_DOG,
    SURE_THING,
    draw_response_type,
    response_weights,
)

START = dt.datetime(2026, 9, 1, tzinfo=dt.timezone.utc)


def _share(weights, kind):
    return weights[kind] / sum(weights.values())


@pytest.mark.parametrize(
    ("plan", "tenure", "usage", "likelier", "than_in"),
    [
        # new free customers: lost causes
        ("free", 30, 4.0, LOST_CAUSE, ("basic", 200, 4.0)),
        # long-tenured light users: sleeping dogs
        ("basic", 800, 1.0, SLEEPING_DOG, ("basic", 200, 4.0)),
        ("free", 800, 1.0, SLEEPING_DOG, ("free", 800, 8.0)),
        # heavy users on pro: sure things
        ("pro", 400, 9.0, SURE_THING, ("basic", 400, 4.0)),
        # engaged basic customers of middling tenure: persuadable
        ("basic", 200, 4.0, PERSUADABLE, ("free", 30, 4.0)),
    ],
)
def test_response_type_follows_observable_behaviour(plan, tenure, usage, likelier, than_in):
    assert _share(response_weights(plan, tenure, usage), likelier) > _share(response_weights(*than_in), likelier)


@pytest.mark.parametrize(
    ("response_type", "reaction", "hazard_moves"),
    [
        (PERSUADABLE, Reaction.IGNORED, "down"),
        (SURE_THING, Reaction.IGNORED, "up a little"),
        (LOST_CAUSE, Reaction.IGNORED, "up a little"),
        (SLEEPING_DOG, Reaction.IGNORED, "up a lot"),
        (SLEEPING_DOG, Reaction.UNSUBSCRIBED, "up a little"),  # objectors are annoyed whoever they are
    ],
)
def test_a_message_moves_churn_probability_by_response_type(response_type, reaction, hazard_moves):
    state = HazardState(late=0.5)
    before = churn_probability(0.0015, 1.0, state, 30)
    apply_message(state, response_type, reaction)
    change = churn_probability(0.0015, 1.0, state, 30) - before
    expected = {"down": change < 0, "up a little": 0 < change < 0.01, "up a lot": change > 0.02}
    assert expected[hazard_moves], change


def test_draws_are_seeded_and_cover_every_type():
    draws = [draw_response_type(random.Random(i), "basic", 400, 4.0) for i in range(2000)]
    assert draws == [draw_response_type(random.Random(i), "basic", 400, 4.0) for i in range(2000)]
    assert set(draws) == set(RESPONSE_TYPES)


def test_population_shares_and_persuadable_flag():
    population = build_population(3000, 5, START)
    shares = Counter(c.response_type for c in population)
    assert 0.28 < shares[PERSUADABLE] / 3000 < 0.42  # the reaction rates are calibrated to ~35 %
    assert all(shares[t] > 0.08 * 3000 for t in RESPONSE_TYPES)
    assert all(c.persuadable == (c.response_type == PERSUADABLE) for c in population)


def test_labels_carry_the_true_individual_effect():
    sim = Simulator(400, 50, seed=3, horizon_days=20)
    list(sim.run())
    rows = sim.labels()
    assert rows
    by_type = {t: [r["true_effect"] for r in rows if r["response_type"] == t] for t in RESPONSE_TYPES}
    assert all(e > 0 for e in by_type[PERSUADABLE])
    assert all(e < 0 for e in by_type[SLEEPING_DOG])
    assert all(e <= 0 for e in by_type[SURE_THING] + by_type[LOST_CAUSE])
    for r in rows:
        assert r["true_effect"] == pytest.approx(r["true_probability"] - r["true_probability_if_messaged"], abs=2e-6)
    # not identical to risk: the riskiest tenth is not simply the most persuadable tenth
    risky = sorted(rows, key=lambda r: -r["true_probability"])[:len(rows) // 10]
    assert any(r["true_effect"] <= 0 for r in risky)
