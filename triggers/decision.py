"""Decisions: what retain does about one signal, per matched rule, and why.

``decide`` is pure: the same inputs (including ``now``) give identical decisions with the same
ids, so a redelivered signal re-derives the same records and the stores can upsert on
``decision_id``. Every outcome is a decision, "do nothing" included (``no_rule_matched``).

>>> import datetime as dt
>>> from signals.signal import Signal
>>> now = dt.datetime(2026, 1, 5, 15, tzinfo=dt.timezone.utc)
>>> signal = Signal(kind="usage_drop", customer_id="c1", episode_key="usage_drop:c1:2026-01-01",
...                 detected_at=now, reason="drop")
>>> [d.reason.value for d in decide(signal, [], {}, None, ContactHistory(), InMemoryConsent(), now)]
['no_rule_matched']
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Iterable, Mapping

from pydantic import AwareDatetime, BaseModel, ConfigDict

from signals.signal import Signal
from triggers.matcher import match_rules
from triggers.policy import (
    ContactHistory,
    ConsentView,
    EscalationView,
    InMemoryConsent,
    PolicyConfig,
    Verdict,
    apply_policy,
)
from triggers.policy.reasons import Outcome, ReasonCode
from triggers.risk import Risk
from triggers.rule import Channel, Rule, Topic
from triggers.ruleset import RuleSet

__all__ = [
    "ContactHistory", "Decision", "DecisionSnapshot", "InMemoryConsent", "Outcome", "ReasonCode", "decide", "decision_id_for",
    "idempotency_key_for",
]

_SEP = "\x1f"  # cannot appear in ids typed by people, so joined keys cannot collide


def decision_id_for(signal_id: str, rule_id: str | None) -> str:
    """Deterministic decision id of (signal, rule); rule None is the no-rule-matched record."""
    return hashlib.sha256(f"decision{_SEP}{signal_id}{_SEP}{rule_id or ''}".encode()).hexdigest()[:32]


def idempotency_key_for(customer_id: str, rule_id: str, episode_key: str) -> str:
    """The outbox key: at most one message per (customer, rule, episode)."""
    return hashlib.sha256(f"send{_SEP}{customer_id}{_SEP}{rule_id}{_SEP}{episode_key}".encode()).hexdigest()[:40]


MESSAGE_OUTCOMES = (Outcome.ENGAGE, Outcome.DEFER)
# The customer facts a message may use (see outreach.drafting.brief); contact details stay out.
_SNAPSHOT_FACTS = ("first_name", "locale", "time_zone")


class DecisionSnapshot(BaseModel):
    """What a message is about, as the decision saw it: the signal's reason and attributes, the customer's facts.

    Carried by every engage/defer decision (to the outbox and through a quiet-hours release), so
    drafting reads the moment that was decided on, with no lookup that could lag behind the stream.
    """

    model_config = ConfigDict(frozen=True)

    signal_reason: str
    signal_attributes: dict[str, Any] = {}
    first_name: str | None = None
    locale: str | None = None
    time_zone: str | None = None

    @classmethod
    def of(cls, signal: Signal, customer: Mapping[str, Any]) -> "DecisionSnapshot":
        """The snapshot of ``signal`` and the customer facts ``decide`` was given."""
        facts = {name: customer[name] for name in _SNAPSHOT_FACTS if customer.get(name) is not None}
        return cls(signal_reason=signal.reason, signal_attributes=dict(signal.attributes), **facts)


class Decision(BaseModel):
    """One stored decision; ``outcome`` engage/defer go on to outreach, the rest are the record of why not."""

    model_config = ConfigDict(frozen=True)

    decision_id: str
    signal_id: str
    signal_kind: str
    episode_key: str
    customer_id: str
    rule_id: str | None
    rule_version: int | None
    ruleset_fingerprint: str | None = None
    topic: Topic | None = None
    outcome: Outcome
    reason: ReasonCode
    detail: str = ""
    channel: Channel | None = None
    defer_until: AwareDatetime | None = None
    expires_at: AwareDatetime | None = None
    idempotency_key: str | None = None
    requires_approval: bool = False
    risk: float | None = None
    risk_bucket: str | None = None
    drivers: tuple[tuple[str, float], ...] = ()
    uplift: float | None = None  # predicted uplift in probability points (None: no uplift model served)
    # Engage/defer/holdout: the features as of the decision (an uplift model's training row; None: not given).
    features: dict[str, float | None] | None = None
    decided_at: AwareDatetime
    # Set on the decision a quiet-hours deferral job takes when it runs: the defer it releases.
    deferred_from: str | None = None
    # Engage/defer only (None on the others, and on decisions stored before decisions carried it).
    snapshot: DecisionSnapshot | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (for the decisions topic and the decisions table)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Decision":
        """Inverse of ``to_dict``."""
        return cls.model_validate(dict(data))


def _decision(signal: Signal, verdict: Verdict, customer: Mapping[str, Any], risk: Risk, now: dt.datetime,
              fingerprint: str | None, features: Mapping[str, Any] | None) -> Decision:
    rule = verdict.rule
    kept = verdict.outcome in MESSAGE_OUTCOMES or verdict.outcome == Outcome.HOLDOUT
    return Decision(
        decision_id=decision_id_for(signal.signal_id, rule.id),
        signal_id=signal.signal_id,
        signal_kind=signal.kind,
        episode_key=signal.episode_key,
        customer_id=signal.customer_id,
        rule_id=rule.id,
        rule_version=rule.version,
        ruleset_fingerprint=fingerprint,
        topic=rule.topic,
        outcome=verdict.outcome,
        reason=verdict.reason,
        detail=verdict.detail,
        channel=verdict.channel,
        defer_until=verdict.defer_until,
        expires_at=verdict.expires_at,
        idempotency_key=idempotency_key_for(signal.customer_id, rule.id, signal.episode_key),
        requires_approval=rule.action.requires_approval,
        risk=risk.probability,
        risk_bucket=risk.bucket,
        drivers=risk.drivers,
        uplift=risk.uplift,
        features=_numbers(features) if kept and features else None,
        decided_at=now,
        snapshot=DecisionSnapshot.of(signal, customer) if verdict.outcome in MESSAGE_OUTCOMES else None,
    )


def _numbers(features: Mapping[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name, value in features.items():
        try:
            number = float(value) if value is not None and not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        out[str(name)] = number if number is None or number == number else None  # nan -> None (JSON)
    return out


def decide(
    signal: Signal,
    rules: Iterable[Rule] | RuleSet,
    customer: Mapping[str, Any],
    risk: Any,
    history: ContactHistory,
    consent: ConsentView,
    now: dt.datetime,
    policy_config: PolicyConfig | None = None,
    *,
    escalations: EscalationView | None = None,
    features: Mapping[str, Any] | None = None,
) -> list[Decision]:
    """Match ``rules`` against the signal and apply the contact policy; one decision per matched rule.

    ``risk`` is a ``Risk``, a mapping or a scorer ``Score`` (probability, bucket, drivers).
    ``escalations`` is the conversation store's port (None: no replies are known).
    ``features`` (name -> value, as scored) are kept on engage/defer/holdout decisions: with the
    holdout's randomisation they are an uplift model's training rows (``triggers.uplift_data``).
    Decisions come in rank order (winner first); with no match, one ``no_rule_matched`` record.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    config = policy_config or PolicyConfig()
    fingerprint = rules.fingerprint if isinstance(rules, RuleSet) else None
    scored = Risk.coerce(risk)
    matched = match_rules(signal, rules, customer, scored)
    verdicts = apply_policy(
        signal=signal, rules=matched, customer=customer, history=history, consent=consent, now=now, config=config,
        escalations=escalations,
    )
    if verdicts:
        return [_decision(signal, verdict, customer, scored, now, fingerprint, features) for verdict in verdicts]
    return [
        Decision(
            decision_id=decision_id_for(signal.signal_id, None),
            signal_id=signal.signal_id,
            signal_kind=signal.kind,
            episode_key=signal.episode_key,
            customer_id=signal.customer_id,
            rule_id=None,
            rule_version=None,
            ruleset_fingerprint=fingerprint,
            outcome=Outcome.SUPPRESSED,
            reason=ReasonCode.NO_RULE_MATCHED,
            risk=scored.probability,
            risk_bucket=scored.bucket,
            drivers=scored.drivers,
            uplift=scored.uplift,
            decided_at=now,
        )
    ]
