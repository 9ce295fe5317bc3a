"""Preview an edited rule for one customer: the policy outcome now and the exact message of each channel.

Nothing is sent or stored. The outcome is the real ``decide`` (the rule in place of its stored
version, every other rule as in force, the customer's stored facts and contact history, the
worker's policy settings); the messages come from the real drafting pipeline (``Composer``: the
LLM when one is configured, else the template, then the guardrails and the system parts), with a
placeholder unsubscribe link that does nothing. A stored signal is replayed as a new moment
detected now (a fresh episode), so the preview answers "what would this rule do if it happened
again now"; without one, a typical signal of the rule's first kind stands in.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlmodel import Session

from infra.settings import Settings
from outreach.consent.contact_points import InvalidContactPoint, contact_hash
from outreach.consent.service import check_send, contact_point
from outreach.drafting.brief import PrivateFacts
from outreach.drafting.compose import Composer
from outreach.drafting.stored_facts import contact_details
from outreach.guardrails.sms_segments import count_segments
from outreach.tokens import preferences_url, unsubscribe_url
from retain.console.preview_samples import RISK_SAMPLES, SAMPLE_CUSTOMERS, sample_signal
from retain.console.rule_backtest import with_rule
from signals.records import CustomerRecord, SignalRecord
from signals.service import consent_flags
from signals.signal import Signal
from triggers.condition_trace import trace
from triggers.decision import Decision, DecisionSnapshot, decide, decision_id_for, idempotency_key_for
from triggers.matcher import condition_context
from triggers.policy import ContactHistory, PolicyConfig
from triggers.policy.reasons import Outcome
from triggers.records import DecisionRecord
from triggers.risk import Risk
from triggers.rule import Rule
from triggers.ruleset import RuleSet
from triggers.service import contact_history
from triggers.signal_context import UpstreamConsent, customer_facts

PLACEHOLDER_TOKEN = "preview-link-does-nothing"
_PROFILE_FIELDS = ("first_name", "time_zone", "locale", "country", "region", "phone", "plan")


class PreviewRefused(ValueError):
    """The preview cannot run for what was asked (unknown customer or sample); the message says why."""


def profile_of(record: CustomerRecord) -> dict[str, Any]:
    """A stored customer as the profile facts the fold attaches to a signal's context."""
    profile = {name: getattr(record, name) for name in _PROFILE_FIELDS if getattr(record, name) is not None}
    return {**profile, "email_present": bool(record.email), "phone_present": bool(record.phone),
            "consent": consent_flags(record)}


def _who(session: Session, customer_id: str | None,
         sample: str | None) -> tuple[str, dict[str, Any], PrivateFacts, str]:
    if customer_id:
        record = session.get(CustomerRecord, customer_id)
        if record is None:
            raise PreviewRefused(f"no stored customer {customer_id!r}: pick one from the list, or a sample customer")
        private = contact_details(session=session, customer_id=customer_id) or PrivateFacts()
        return customer_id, profile_of(record), private, "stored"
    persona = SAMPLE_CUSTOMERS.get(sample or "")
    if persona is None:
        raise PreviewRefused(f"unknown sample customer {sample!r}; choose one of {sorted(SAMPLE_CUSTOMERS)}")
    return str(sample), dict(persona["profile"]), PrivateFacts(**persona["private"]), "sample"


def _signal(session: Session, rule: Rule, customer_id: str, stored: bool, now: dt.datetime,
            risk_bucket: str) -> tuple[Signal, Risk, dict[str, Any]]:
    record = session.scalars(select(SignalRecord).where(
        SignalRecord.customer_id == customer_id, SignalRecord.kind.in_(list(rule.signals)))
        .order_by(SignalRecord.detected_at.desc()).limit(1)).first() if stored else None
    if record is not None:
        signal = Signal(kind=record.kind, customer_id=customer_id, episode_key=f"preview:{record.episode_key}",
                        detected_at=now, reason=record.reason, attributes=dict(record.attributes))
        scored = session.scalars(select(DecisionRecord).where(DecisionRecord.signal_id == record.signal_id,
                                                              DecisionRecord.risk.is_not(None)).limit(1)).first()
        risk = Risk(probability=scored.risk, bucket=scored.risk_bucket, drivers=scored.drivers) if scored else None
        source = {"source": "stored", "signal_id": record.signal_id, "detected_at": record.detected_at.isoformat()}
        if risk is not None:
            return signal, risk, {**source, "risk_source": "the decision stored for this signal"}
    else:
        reason, attributes = sample_signal(rule.signals[0], now)
        signal = Signal(kind=rule.signals[0], customer_id=customer_id, episode_key=f"preview:{customer_id}:sample",
                        detected_at=now, reason=reason, attributes=attributes)
        source = {"source": "sample"}
    probability = RISK_SAMPLES.get(risk_bucket, RISK_SAMPLES["high"])
    bucket = risk_bucket if risk_bucket in RISK_SAMPLES else "high"
    return signal, Risk(probability=probability, bucket=bucket), {**source, "risk_source": f"sample ({bucket})"}


def _zone(name: Any) -> dt.tzinfo:
    try:
        return ZoneInfo(str(name)) if name else dt.timezone.utc
    except (ZoneInfoNotFoundError, ValueError):
        return dt.timezone.utc


def outcome_sentence(decision: Decision | None, time_zone: str | None) -> str:
    """What the policy would do, in words: ``would defer to 08:00 their time (Tue 01 Dec, ...) by sms: quiet hours``."""
    if decision is None:
        return "would not act: the rule does not match this signal"
    reason = decision.reason.value.replace("_", " ")
    detail = f" ({decision.detail})" if decision.detail else ""
    if decision.outcome == Outcome.ENGAGE:
        approval = ", after a person approves the draft" if decision.requires_approval else ""
        return f"would send now by {decision.channel}{approval}"
    if decision.outcome == Outcome.DEFER and decision.defer_until is not None:
        local = decision.defer_until.astimezone(_zone(time_zone))
        zone = time_zone or "UTC"
        return (f"would defer to {local:%H:%M} their time ({local:%a %d %b}, {zone}) by {decision.channel}: "
                f"{reason}{detail}")
    if decision.outcome == Outcome.HOLDOUT:
        return "would hold out: this customer is in the rule's holdout slice (recorded, never messaged)"
    return f"would not send ({decision.outcome.value}): {reason}{detail}"


def _draftable(signal: Signal, rule: Rule, facts: dict[str, Any], risk: Risk, channel: str,
               now: dt.datetime, chosen: Decision | None) -> Decision:
    base = chosen or Decision(
        decision_id=decision_id_for(signal.signal_id, rule.id), signal_id=signal.signal_id, signal_kind=signal.kind,
        episode_key=signal.episode_key, customer_id=signal.customer_id, rule_id=rule.id, rule_version=rule.version,
        topic=rule.topic, outcome=Outcome.ENGAGE, reason="eligible", decided_at=now, risk=risk.probability,
        risk_bucket=risk.bucket, drivers=risk.drivers,
        idempotency_key=idempotency_key_for(signal.customer_id, rule.id, signal.episode_key))
    return base.model_copy(update={"channel": channel, "topic": rule.topic, "snapshot": DecisionSnapshot.of(signal, facts)})


def _send_check(session: Session, settings: Settings, customer_id: str, stored: bool, channel: str, topic: str,
                private: PrivateFacts) -> str | None:
    """Why the send-time consent check would refuse this channel, or None when it would pass."""
    point = contact_point(session=session, customer_id=customer_id, channel=channel) if stored else None
    hashed = point.contact_hash if point is not None else None
    address = private.email if channel == "email" else private.phone
    if hashed is None and address:
        try:  # what the sender would register: hashed here, never stored by a preview
            hashed = contact_hash(settings.contact_hash_key.get_secret_value().encode(), channel, address)
        except InvalidContactPoint:
            return "no_contact_point: the stored address does not read as one"
    if not stored:
        return None if hashed else "no_contact_point"
    return check_send(session=session, customer_id=customer_id, channel=channel, topic=topic, contact_hash=hashed,
                      marketing_email_requires_opt_in=settings.marketing_email_requires_opt_in)


def _message(composed: Any, channel: str, unsubscribe: str) -> dict[str, Any]:
    text = composed.text
    if channel == "email":  # body, "--", footer lines, the unsubscribe line (system parts, outreach.drafting)
        body, _, footer = text.partition("\n\n--\n")
        lines = footer.splitlines()
        unsubscribe_line = next((line for line in lines if unsubscribe in line), None)
        footer_lines, sms = [line for line in lines if line != unsubscribe_line], None
    else:  # "Sender: text" then the opt-out line
        body, _, unsubscribe_line = text.rpartition("\n")
        segments = count_segments(text)
        footer_lines, sms = [], {"encoding": segments.encoding, "units": segments.units, "segments": segments.segments}
    return {
        "channel": channel, "language": composed.language, "subject": composed.subject,
        "preheader": composed.preheader, "text": text, "body": body, "footer": footer_lines,
        "unsubscribe_line": unsubscribe_line, "sms": sms, "drafter": composed.drafter, "passed": composed.passed,
        "attempts": len(composed.attempts),
        "guardrails": [{"name": g.name, "passed": g.passed, "detail": g.detail} for g in composed.guardrails],
    }


def preview(*, session: Session, settings: Settings, ruleset: RuleSet, rule: Rule, now: dt.datetime,
            customer_id: str | None = None, sample: str | None = None, risk_bucket: str = "high",
            composer: Composer | None = None) -> dict[str, Any]:
    """The policy outcome now and each channel's message for ``rule`` and one stored or sample customer."""
    who, profile, private, kind = _who(session, customer_id, sample)
    stored = kind == "stored"
    signal, risk, signal_source = _signal(session, rule, who, stored, now, risk_bucket)
    facts = customer_facts({"customer": profile})
    history = contact_history(session=session, customer_id=who, now=now) if stored else ContactHistory()
    config = PolicyConfig(marketing_email_requires_opt_in=settings.marketing_email_requires_opt_in)
    decisions = decide(signal, with_rule(ruleset, rule), facts, risk, history, UpstreamConsent.of(who, facts), now,
                       config)
    mine = next((d for d in decisions if d.rule_id == rule.id), None)
    composer = composer or Composer.from_settings(settings.llm, settings.message_framing, rule_for={rule.id: rule}.get)
    unsubscribe = unsubscribe_url(settings.public_base_url, PLACEHOLDER_TOKEN)
    messages = []
    for channel in rule.action.channels:
        composed = composer(_draftable(signal, rule, facts, risk, channel, now, mine), private=private,
                            unsubscribe_url=unsubscribe,
                            preferences_url=preferences_url(settings.public_base_url, PLACEHOLDER_TOKEN))
        entry = _message(composed, channel, unsubscribe)
        entry["chosen"] = mine is not None and mine.channel == channel
        entry["send_check"] = _send_check(session, settings, who, stored, channel, rule.topic, private)
        messages.append(entry)
    context = condition_context(signal, facts, risk)
    return {
        "customer": {"customer_id": who, "kind": kind, "first_name": profile.get("first_name"),
                     "locale": profile.get("locale"), "time_zone": profile.get("time_zone"),
                     "country": profile.get("country"), "label": SAMPLE_CUSTOMERS.get(who, {}).get("label")},
        "signal": {"kind": signal.kind, "reason": signal.reason, "attributes": signal.attributes, **signal_source},
        "risk": {"probability": risk.probability, "bucket": risk.bucket},
        "now": now.isoformat(),
        "matched": {"enabled": rule.enabled, "signal_kind": signal.kind in rule.signals,
                    "conditions": trace(rule.when, context)},
        "decision": mine.to_dict() if mine is not None else None,
        "outcome": outcome_sentence(mine, profile.get("time_zone")),
        "other_rules": [{"rule_id": d.rule_id, "outcome": d.outcome.value, "reason": d.reason.value}
                        for d in decisions if d.rule_id not in (rule.id, None)],
        "messages": messages,
    }
