"""Reputation guard: count a rule's recent sends and reactions, pause it when the evidence says so.

``outreach.reputation_verdict.decide`` is the decision (pure, with its reasoning); here the
counts come from the outbox and the delivery events of the window, a pause is stored with its
evidence (the rule page shows it, ``outreach.pause_notices`` tells ops), and ops lift it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection

from sqlalchemy import func, select
from sqlmodel import Session

from infra.settings import ReputationSettings
from outreach.conversations.records import ANSWER_RULE_ID
from outreach.outbox.records import SENT, DeliveryEventRecord, OutboxRecord, RulePauseRecord
from outreach.reputation_verdict import Counts, Thresholds, Verdict, decide

COMPLAINT_KINDS = ("spamreport",)
EMAIL_OPT_OUT_KINDS = ("unsubscribe", "group_unsubscribe")
SMS_OPT_OUT_KINDS = ("sms_opt_out",)
OPT_OUT_KINDS = EMAIL_OPT_OUT_KINDS + SMS_OPT_OUT_KINDS

log = logging.getLogger(__name__)


def count_reactions(*, session: Session, rule_id: str, since: dt.datetime) -> Counts:
    """The rule's sends by channel and its complaints and opt-outs since ``since``."""
    sends = dict(session.execute(
        select(OutboxRecord.channel, func.count()).where(
            OutboxRecord.rule_id == rule_id, OutboxRecord.state == SENT, OutboxRecord.sent_at >= since)
        .group_by(OutboxRecord.channel)).all())
    kinds = dict(session.execute(
        select(DeliveryEventRecord.kind, func.count()).where(
            DeliveryEventRecord.rule_id == rule_id, DeliveryEventRecord.kind.in_(COMPLAINT_KINDS + OPT_OUT_KINDS),
            DeliveryEventRecord.occurred_at >= since)
        .group_by(DeliveryEventRecord.kind)).all())
    return Counts(email_sends=sends.get("email", 0), sms_sends=sends.get("sms", 0),
                  complaints=sum(kinds.get(k, 0) for k in COMPLAINT_KINDS),
                  email_opt_outs=sum(kinds.get(k, 0) for k in EMAIL_OPT_OUT_KINDS),
                  sms_opt_outs=sum(kinds.get(k, 0) for k in SMS_OPT_OUT_KINDS))


def thresholds_from_settings(settings: ReputationSettings) -> tuple[Thresholds, dt.timedelta]:
    """The guard's thresholds and window as the settings give them."""
    thresholds = Thresholds(max_complaint_rate=settings.reputation_max_complaint_rate,
                            max_email_opt_out_rate=settings.reputation_max_email_opt_out_rate,
                            max_sms_opt_out_rate=settings.reputation_max_sms_opt_out_rate,
                            min_sends=settings.reputation_min_sends, confidence=settings.reputation_confidence)
    return thresholds, dt.timedelta(days=settings.reputation_window_days)


def standing(*, session: Session, rule_id: str, now: dt.datetime, reputation: ReputationSettings) -> Verdict:
    """The guard's current judgement of a rule (its evidence now, whether or not it is paused)."""
    thresholds, window = thresholds_from_settings(reputation)
    return decide(count_reactions(session=session, rule_id=rule_id, since=now - window), thresholds)


def pause_of(*, session: Session, rule_id: str) -> RulePauseRecord | None:
    """The rule's pause record, or None when it may send."""
    return session.get(RulePauseRecord, rule_id)


def pauses_of(*, session: Session, rule_ids: Collection[str]) -> dict[str, str]:
    """Why each paused rule among ``rule_ids`` is paused, by rule id (one query; absent: it may send)."""
    if not rule_ids:
        return {}
    query = select(RulePauseRecord.rule_id, RulePauseRecord.reason).where(RulePauseRecord.rule_id.in_(set(rule_ids)))
    return dict(session.execute(query).tuples().all())


def evaluate_rule(
    *, session: Session, rule_id: str, now: dt.datetime, window: dt.timedelta, thresholds: Thresholds
) -> RulePauseRecord | None:
    """Judge the rule on its recent sends and reactions; pause it (and return the record) when the evidence says so."""
    if rule_id == ANSWER_RULE_ID:
        return None  # people's answers are no automated rule: nothing to pause
    existing = pause_of(session=session, rule_id=rule_id)
    if existing is not None:
        return existing
    counts = count_reactions(session=session, rule_id=rule_id, since=now - window)
    verdict = decide(counts, thresholds)
    if not verdict.pause:
        return None
    sends = counts.email_sends + counts.sms_sends
    record = RulePauseRecord(
        rule_id=rule_id, reason=verdict.reason or "", sends=sends,
        complaint_rate=counts.complaints / counts.email_sends if counts.email_sends else 0.0,
        opt_out_rate=(counts.email_opt_outs + counts.sms_opt_outs) / sends if sends else 0.0,
        evidence=[e.to_dict() for e in verdict.evidence], paused_at=now)
    session.add(record)
    session.flush()
    return record


def resume_rule(*, session: Session, rule_id: str) -> bool:
    """Lift a pause (ops decided); True when the rule was paused."""
    record = pause_of(session=session, rule_id=rule_id)
    if record is None:
        return False
    session.delete(record)
    return True


def check_after_reaction(*, session: Session, reputation: ReputationSettings, rule_id: str | None,
                         now: dt.datetime) -> None:
    """Re-evaluate a rule after a complaint or opt-out it caused (webhook handlers call this)."""
    if rule_id is None or pause_of(session=session, rule_id=rule_id) is not None:
        return
    thresholds, window = thresholds_from_settings(reputation)
    record = evaluate_rule(session=session, rule_id=rule_id, now=now, window=window, thresholds=thresholds)
    if record is not None:
        log.warning("rule %s paused by the reputation guard: %s", rule_id, record.reason)
