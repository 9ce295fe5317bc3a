"""Reading customer facts, consent and features from a signal's context."""

from __future__ import annotations

import math

import pytest

from triggers.signal_context import (
    UpstreamConsent,
    customer_facts,
    feature_vector,
    score_context,
    signal_context,
)


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({}, {}),  # no context from an older producer: no facts
        ({"customer": None}, {}),
        # presence flags become has_email; the address itself is never needed
        ({"customer": {"email_present": True, "time_zone": "UTC"}}, {"has_email": True, "time_zone": "UTC"}),
        ({"customer": {"email": "a@b.co"}}, {"has_email": True}),
        ({"customer": {"email_present": False, "phone": "+12125550143"}}, {"phone": "+12125550143"}),
        # unknown consent flags are dropped, known ones kept
        ({"customer": {"consent": {"sms_marketing": True, "email_marketing": None}}},
         {"consent": {"sms_marketing": True}}),
    ],
)
def test_customer_facts(context, expected):
    assert customer_facts(context) == expected


@pytest.mark.parametrize(
    ("flags", "channel", "topic", "expected"),
    [
        ({"sms_marketing": True}, "sms", "marketing", "opted_in"),
        ({"sms_marketing": False}, "sms", "marketing", "opted_out"),
        ({"sms_marketing": True}, "sms", "service", "unknown"),  # topics are separate
        ({}, "email", "service", "unknown"),
    ],
)
def test_upstream_consent(flags, channel, topic, expected):
    assert UpstreamConsent({"c1": flags}).status("c1", channel, topic).value == expected
    assert UpstreamConsent({"c1": flags}).status("other", channel, topic).value == "unknown"


def test_feature_vector_fills_missing_with_nan():
    vector = feature_vector({"a": 1, "b": "x", "c": None}, ["a", "b", "c", "d"])
    assert vector[0] == 1.0 and all(math.isnan(v) for v in vector[1:])


class FakeScorer:
    feature_names = ("a", "b")

    def __init__(self) -> None:
        self.seen: list = []

    def score(self, vector):
        self.seen.append(vector)
        return {"probability": 0.6, "bucket": "high", "drivers": [("a", 0.2)]}


def test_score_context_uses_the_scorer_feature_order(make_signal):
    scorer = FakeScorer()
    risk = score_context(scorer, {"features": {"b": 2.0, "a": 1.0}})
    assert (risk.probability, risk.bucket, risk.drivers) == (0.6, "high", (("a", 0.2),))
    assert scorer.seen == [[1.0, 2.0]]
    assert score_context(scorer, {}).probability is None  # no features: no score, no call
    assert score_context(None, {"features": {"a": 1}}).probability is None
    assert len(scorer.seen) == 1
    assert signal_context(make_signal(context={"features": {"a": 1}})) == {"features": {"a": 1}}
