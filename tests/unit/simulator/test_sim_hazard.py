"""The latent hazard: bad experiences raise it, time heals, helpful messages lower it."""

from __future__ import annotations

import pytest

from simulator.hazard import (
    HazardState,
    Reaction,
    apply_message,
    choose_reaction,
    reaction_weights,
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
    ("persuadable", "u", "channel", "kind", "expected"),
    [
        (True, 0.0, "email", "checkout_idle", Reaction.PURCHASED),  # rare reactions first: 0 .. 0.09
        (True, 0.095, "email", "checkout_idle", Reaction.IGNORED),
        (False, 0.0125, "email", "checkout_idle", Reaction.UNSUBSCRIBED),  # 0.012 .. 0.01454
        (False, 0.0146, "email", "checkout_idle", Reaction.COMPLAINED),  # 0.01454 .. 0.014794
        (False, 0.02, "sms", "checkout_idle", Reaction.REPLIED_STOP),  # 0.012 .. 0.0374
        (False, 0.02, "email", "checkout_idle", Reaction.IGNORED),  # e-mail has no STOP reply
        (False, 0.05, "email", "checkout_idle", Reaction.IGNORED),
    ],
)
def test_choose_reaction_follows_the_weights(persuadable, u, channel, kind, expected):
    assert choose_reaction(persuadable, u, channel=channel, kind=kind) is expected


def _population_rate(reaction, *, channel, kind="checkout_idle", unwanted=False, persuadable_share=0.35):
    return sum(share * reaction_weights(p, channel=channel, kind=kind, unwanted=unwanted).get(reaction, 0.0)
               for p, share in ((True, persuadable_share), (False, 1 - persuadable_share)))


@pytest.mark.parametrize(
    ("reaction", "channel", "low", "high"),
    [
        (Reaction.UNSUBSCRIBED, "email", 0.001, 0.003),  # e-mail unsubscribes per delivered message
        (Reaction.COMPLAINED, "email", 0.0001, 0.0005),  # spam complaints
        (Reaction.REPLIED_STOP, "sms", 0.01, 0.03),  # SMS opt-outs per campaign
        (Reaction.COMPLAINED, "sms", 0.0, 0.0),  # a text has no spam button: STOP says it
    ],
)
def test_population_rates_match_the_published_ranges(reaction, channel, low, high):
    for kind in ("checkout_idle", "usage_drop", "shipping_delay", "other"):
        assert low <= _population_rate(reaction, channel=channel, kind=kind) <= high


def test_conversion_varies_by_signal_and_persuadability():
    cart, winback, late = (_population_rate(Reaction.PURCHASED, channel="email", kind=k)
                           for k in ("checkout_idle", "usage_drop", "shipping_delay"))
    assert 0.024 <= cart <= 0.052  # abandoned-cart messages: 2.4-5.2 % order rate
    assert cart > winback > late
    for kind in ("checkout_idle", "usage_drop", "shipping_delay"):
        persuadable, rest = (reaction_weights(p, kind=kind)[Reaction.PURCHASED] for p in (True, False))
        assert persuadable > 3 * rest


def test_an_unwanted_message_draws_objections_far_above_the_guards_limits():
    assert _population_rate(Reaction.COMPLAINED, channel="email", unwanted=True) >= 10 * 0.003
    assert _population_rate(Reaction.UNSUBSCRIBED, channel="email", unwanted=True) >= 5 * 0.01
    assert _population_rate(Reaction.REPLIED_STOP, channel="sms", unwanted=True) >= 2 * 0.06


@pytest.mark.parametrize("channel", ["email", "sms"])
@pytest.mark.parametrize("unwanted", [False, True])
def test_weights_are_probabilities(channel, unwanted):
    for persuadable in (True, False):
        weights = reaction_weights(persuadable, channel=channel, kind="checkout_idle", unwanted=unwanted)
        assert all(0.0 <= w <= 1.0 for w in weights.values()) and sum(weights.values()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("response_type", "reaction", "falls"),
    [
        ("persuadable", Reaction.IGNORED, True),  # even an unanswered helpful message helps the persuadable
        ("persuadable", Reaction.PURCHASED, True),
        ("sure_thing", Reaction.IGNORED, False),  # the rest are mildly annoyed
        ("lost_cause", Reaction.IGNORED, False),
        ("sleeping_dog", Reaction.IGNORED, False),
        ("persuadable", Reaction.COMPLAINED, False),
        ("sure_thing", Reaction.UNSUBSCRIBED, False),
    ],
)
def test_apply_message(response_type, reaction, falls):
    state = _state(late=1.0)
    before = daily_hazard(0.001, 1.0, state)
    apply_message(state, response_type, reaction)
    assert (daily_hazard(0.001, 1.0, state) < before) is falls
