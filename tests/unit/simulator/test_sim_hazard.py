"""The latent hazard: bad experiences raise it, time heals, helpful messages lower it."""

from __future__ import annotations

import pytest

from simulator.hazard import (
    HazardState,
    Reaction,
    apply_message,
    choose_reaction,
    churn_probability,
    daily_hazard,
)


def _state(**scores: float) -> HazardState:
    return HazardState(**scores)


@pytest.mark.parametrize(
    ("worse", "better"),
    [
        (_state(late=1.0), _state()),  # a late shipment hurts
        (_state(late=2.0), _state(late=1.0)),  # two hurt more than one
        (_state(abandon=1.0), _state()),  # an abandoned checkout hurts a little
        (_state(decline=0.8), _state(decline=0.2)),  # collapsing usage hurts most
        (_state(late=1.0), _state(late=1.0, relief=1.0)),  # goodwill offsets it
        (_state(annoyance=0.3), _state()),  # unwanted messages annoy
    ],
)
def test_hazard_orders_experiences(worse, better):
    assert daily_hazard(0.001, 1.0, worse) > daily_hazard(0.001, 1.0, better)


def test_bad_experiences_fade_and_relief_fades_too():
    state = _state(late=2.0, relief=1.0)
    later = state.decayed_to(21.0)  # one half-life of bad experiences
    assert later.late == pytest.approx(1.0)
    assert 0.5 < later.relief < 1.0  # goodwill lasts longer
    with pytest.raises(ValueError):
        later.decayed_to(1.0)


def test_churn_probability_grows_with_horizon_and_badness():
    calm, hurt = _state(), _state(late=2.0)
    assert 0 < churn_probability(0.001, 1.0, calm, 7) < churn_probability(0.001, 1.0, calm, 30) < 1
    assert churn_probability(0.001, 1.0, hurt, 30) > churn_probability(0.001, 1.0, calm, 30)
    # A customer already disengaging is far likelier to leave than a healthy one.
    assert churn_probability(0.001, 1.0, calm, 30, declining=True) > 2 * churn_probability(0.001, 1.0, calm, 30)


@pytest.mark.parametrize(
    ("persuadable", "u", "expected"),
    [
        (True, 0.0, Reaction.IGNORED),
        (True, 0.70, Reaction.PURCHASED),  # 0.66 .. 0.91
        (True, 0.999, Reaction.COMPLAINED),
        (False, 0.81, Reaction.PURCHASED),  # 0.80 .. 0.83
        (False, 0.85, Reaction.REPLIED_STOP),  # 0.83 .. 0.90
    ],
)
def test_choose_reaction_follows_the_weights(persuadable, u, expected):
    assert choose_reaction(persuadable, u) is expected


@pytest.mark.parametrize(
    ("persuadable", "reaction", "falls"),
    [
        (True, Reaction.IGNORED, True),  # even an unanswered helpful message helps the persuadable
        (True, Reaction.PURCHASED, True),
        (False, Reaction.IGNORED, False),  # the rest are mildly annoyed
        (True, Reaction.COMPLAINED, False),
        (False, Reaction.UNSUBSCRIBED, False),
    ],
)
def test_apply_message(persuadable, reaction, falls):
    state = _state(late=1.0)
    before = daily_hazard(0.001, 1.0, state)
    apply_message(state, persuadable, reaction)
    assert (daily_hazard(0.001, 1.0, state) < before) is falls
