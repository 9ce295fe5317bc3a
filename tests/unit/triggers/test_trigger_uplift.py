"""Rules can target by ``risk.uplift`` (points); such rules keep a holdout; decisions record the uplift."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from triggers.conditions import fields_of
from triggers.decision import Decision, decide
from triggers.policy import ContactHistory, InMemoryConsent, Outcome
from triggers.risk import Risk
from triggers.signal_context import score_context

from .conftest import NOON_ISH, build_rule

UPLIFT_OVER_2 = {"field": "risk.uplift", "op": ">", "value": 2}


@pytest.mark.parametrize(
    ("when", "holdout_pct", "refused"),
    [
        (UPLIFT_OVER_2, 0, True),
        ({"all": [{"field": "risk.probability", "op": ">", "value": 0.3}, UPLIFT_OVER_2]}, 0, True),
        ({"not": {"any": [UPLIFT_OVER_2]}}, 0, True),  # nested anywhere still targets by uplift
        (UPLIFT_OVER_2, 5, False),
        ({"field": "risk.probability", "op": ">", "value": 0.3}, 0, False),  # risk alone needs no holdout
    ],
)
def test_a_rule_targeting_by_uplift_must_keep_its_holdout(when, holdout_pct, refused):
    if refused:
        with pytest.raises(ValidationError, match="must keep a holdout: set holdout_pct above 0"):
            build_rule(when=when, holdout_pct=holdout_pct)
    else:
        assert build_rule(when=when, holdout_pct=holdout_pct).holdout_pct == holdout_pct


def test_fields_of_walks_the_tree():
    condition = build_rule(when={"all": [{"any": [UPLIFT_OVER_2]}, {"not": {"field": "customer.country",
                                                                           "op": "==", "value": "CA"}}]},
                           holdout_pct=5).when
    assert fields_of(condition) == {"risk.uplift", "customer.country"}


@pytest.mark.parametrize(
    ("uplift", "outcome"),
    [(3.5, Outcome.ENGAGE), (1.0, Outcome.SUPPRESSED), (-4.0, Outcome.SUPPRESSED), (None, Outcome.SUPPRESSED)],
)
def test_uplift_condition_and_the_decision_records_it(make_signal, make_customer, uplift, outcome):
    rule = build_rule(when=UPLIFT_OVER_2, holdout_pct=0.001)  # a tiny holdout; c1 is not in it
    risk = Risk(probability=0.4, bucket="medium", uplift=uplift)
    (decision,) = decide(make_signal(), [rule], make_customer(), risk, ContactHistory(), InMemoryConsent(), NOON_ISH)
    assert decision.outcome == outcome
    assert decision.uplift == uplift
    assert Decision.from_dict(decision.to_dict()) == decision


class _Scorer:
    feature_names = ["a", "b"]

    def score(self, vector):
        return SimpleNamespace(probability=0.5, bucket="medium", drivers=[])

    def uplift_points(self, vector):
        return 10 * vector[0] - vector[1]


def test_score_context_fills_uplift_from_a_scorer_that_serves_one():
    risk = score_context(_Scorer(), {"features": {"a": 1.0, "b": 2.0}})
    assert (risk.probability, risk.uplift) == (0.5, 8.0)
    plain = SimpleNamespace(feature_names=["a"], score=lambda v: SimpleNamespace(probability=0.1, bucket="low"))
    assert score_context(plain, {"features": {"a": 1.0}}).uplift is None
