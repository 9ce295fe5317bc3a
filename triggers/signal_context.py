"""What the trigger stage reads from a signal's ``context``: customer facts, consent, features.

The fold attaches ``signal.context = {"customer": {...}, "features": {name: value}}`` at
detection time, so deciding needs no database read. Everything here is pure and defensive: a
signal without context (older producers) yields empty facts, unknown consent and no features.

>>> facts = customer_facts({"customer": {"time_zone": "Europe/Berlin", "email_present": True}})
>>> facts["has_email"], facts["time_zone"]
(True, 'Europe/Berlin')
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Protocol, Sequence

from triggers.policy.consent import ConsentSource, ConsentStanding, upstream_states
from triggers.risk import Risk

# Facts the policy reads (see triggers.policy.consent / quiet_hours / regions).
_FACT_KEYS = ("time_zone", "locale", "country", "region", "phone", "first_name", "email")
_CONSENT_KEYS = ("email_marketing", "sms_marketing", "email_service", "sms_service")


def signal_context(signal: Any) -> dict[str, Any]:
    """The signal's context dict, or {} when the producer attached none."""
    context = getattr(signal, "context", None)
    if context is None and hasattr(signal, "model_dump"):
        context = signal.model_dump().get("context")
    return dict(context) if isinstance(context, Mapping) else {}


def customer_facts(context: Mapping[str, Any]) -> dict[str, Any]:
    """The customer mapping ``decide`` takes, built from a signal context."""
    customer = context.get("customer") if isinstance(context, Mapping) else None
    if not isinstance(customer, Mapping):
        return {}
    facts = {key: customer[key] for key in _FACT_KEYS if customer.get(key) is not None}
    if customer.get("email_present") or customer.get("has_email") or customer.get("email"):
        facts["has_email"] = True
    facts.pop("email", None)  # presence is all the policy needs; the address stays upstream
    consent = customer.get("consent")
    if isinstance(consent, Mapping):
        facts["consent"] = {key: consent.get(key) for key in _CONSENT_KEYS if consent.get(key) is not None}
    return facts


class UpstreamConsent(ConsentSource):
    """A ``ConsentView`` over the upstream consent flags carried in customer facts.

    True -> opted in, False -> opted out, absent -> unknown; a flag speaks for its base topic, so
    ``sms_marketing`` decides ``marketing:<group>`` too. The outreach consent store (fed by
    unsubscribes and STOP replies) is consulted at send time, with the same rule.

    >>> UpstreamConsent({"c1": {"sms_marketing": False}}).status("c1", "sms", "marketing").value
    'opted_out'
    """

    def __init__(self, flags_by_customer: Mapping[str, Mapping[str, bool | None]]):
        self._flags = flags_by_customer

    @classmethod
    def of(cls, customer_id: str, facts: Mapping[str, Any]) -> "UpstreamConsent":
        """The view for one customer's facts (as ``customer_facts`` returns them)."""
        return cls({customer_id: facts.get("consent") or {}})

    def standing(self, customer_id: str, channel: str, topic: str) -> ConsentStanding:
        """The state rows the upstream flags give (upstream knows no suppressions)."""
        return ConsentStanding(upstream_states(self._flags.get(customer_id) or {}, channel, topic))


class ScorerLike(Protocol):
    """What ``models.scorer.Scorer`` offers: ``feature_names`` and ``score(vector)``.

    One that also has ``uplift_points(vector)`` (``models.uplift.ScorerWithUplift``) fills ``Risk.uplift``."""

    feature_names: Sequence[str]

    def score(self, vector: Sequence[float]) -> Any: ...


def feature_vector(features: Mapping[str, Any], names: Sequence[str]) -> list[float]:
    """Feature values in ``names`` order; missing or non-numeric values are nan (LightGBM's missing)."""
    vector = []
    for name in names:
        value = features.get(name)
        try:
            vector.append(float(value) if value is not None else math.nan)
        except (TypeError, ValueError):
            vector.append(math.nan)
    return vector


def score_context(scorer: ScorerLike | None, context: Mapping[str, Any]) -> Risk:
    """The risk of a signal's customer from its context features; empty ``Risk`` without scorer or features."""
    features = context.get("features") if isinstance(context, Mapping) else None
    if scorer is None or not isinstance(features, Mapping) or not features:
        return Risk()
    vector = feature_vector(features, scorer.feature_names)
    risk = Risk.coerce(scorer.score(vector))
    uplift_points = getattr(scorer, "uplift_points", None)  # a scorer serving an uplift model too
    if callable(uplift_points):
        risk = risk.model_copy(update={"uplift": uplift_points(vector)})
    return risk
