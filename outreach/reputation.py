"""Reputation guard: pause a rule whose recent sends draw too many complaints or opt-outs.

Mailbox providers start filtering a sender at a 0.3 % spam-complaint rate; we pause a rule at
0.1 %, and at a configurable opt-out rate, over its sends in a recent window. ``verdict`` is pure;
``evaluate_rule`` counts from the outbox and the delivery events and records the pause.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import Session

from infra.settings import ReputationSettings
from outreach.conversations.records import ANSWER_RULE_ID
from outreach.outbox.records import SENT, DeliveryEventRecord, OutboxRecord, RulePauseRecord

COMPLAINT_KINDS = ("spamreport",)
OPT_OUT_KINDS = ("unsubscribe", "group_unsubscribe", "sms_opt_out")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Thresholds:
    """When a rule is paused."""

    max_complaint_rate: float = 0.001
    max_opt_out_rate: float = 0.02
    min_sends: int = 20  # below this a single reaction says little; a complaint still counts once enough


def verdict(sends: int, complaints: int, opt_outs: int, thresholds: Thresholds) -> str | None:
    """The reason to pause, or None.

    >>> verdict(1000, 2, 0, Thresholds())
    'spam-complaint rate 0.20% over 1000 sends passes 0.10%'
    >>> verdict(1000, 1, 0, Thresholds()) is None
    True
    """
    if sends < thresholds.min_sends:
        return None
    complaint_rate, opt_out_rate = complaints / sends, opt_outs / sends
    if complaint_rate > thresholds.max_complaint_rate:
        return (f"spam-complaint rate {complaint_rate:.2%} over {sends} sends passes "
                f"{thresholds.max_complaint_rate:.2%}")
    if opt_out_rate > thresholds.max_opt_out_rate:
        return f"opt-out rate {opt_out_rate:.2%} over {sends} sends passes {thresholds.max_opt_out_rate:.2%}"
    return None


def pause_of(*, session: Session, rule_id: str) -> RulePauseRecord | None:
    """The rule's pause record, or None when it may send."""
    return session.get(RulePauseRecord, rule_id)


def evaluate_rule(
    *, session: Session, rule_id: str, now: dt.datetime, window: dt.timedelta, thresholds: Thresholds
) -> RulePauseRecord | None:
    """Count the rule's recent sends and reactions; pause it (and return the record) when over a threshold."""
    if rule_id == ANSWER_RULE_ID:
        return None  # people's answers are no automated rule: nothing to pause
    existing = pause_of(session=session, rule_id=rule_id)
    if existing is not None:
        return existing
    since = now - window
    sends = session.scalar(select(func.count()).select_from(OutboxRecord).where(
        OutboxRecord.rule_id == rule_id, OutboxRecord.state == SENT, OutboxRecord.sent_at >= since)) or 0

    def reactions(kinds: tuple[str, ...]) -> int:
        return session.scalar(select(func.count()).select_from(DeliveryEventRecord).where(
            DeliveryEventRecord.rule_id == rule_id, DeliveryEventRecord.kind.in_(kinds),
            DeliveryEventRecord.occurred_at >= since)) or 0

    complaints, opt_outs = reactions(COMPLAINT_KINDS), reactions(OPT_OUT_KINDS)
    reason = verdict(sends, complaints, opt_outs, thresholds)
    if reason is None:
        return None
    record = RulePauseRecord(rule_id=rule_id, reason=reason, sends=sends, complaint_rate=complaints / sends,
                             opt_out_rate=opt_outs / sends, paused_at=now)
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


def thresholds_from_settings(settings: ReputationSettings) -> tuple[Thresholds, dt.timedelta]:
    """The guard's thresholds and window as the settings give them."""
    thresholds = Thresholds(max_complaint_rate=settings.reputation_max_complaint_rate,
                            max_opt_out_rate=settings.reputation_max_opt_out_rate,
                            min_sends=settings.reputation_min_sends)
    return thresholds, dt.timedelta(days=settings.reputation_window_days)


def check_after_reaction(*, session: Session, reputation: ReputationSettings, rule_id: str | None,
                         now: dt.datetime) -> None:
    """Re-evaluate a rule after a complaint or opt-out it caused (webhook handlers call this)."""
    if rule_id is None:
        return
    thresholds, window = thresholds_from_settings(reputation)
    record = evaluate_rule(session=session, rule_id=rule_id, now=now, window=window, thresholds=thresholds)
    if record is not None and record.paused_at == now:
        log.warning("rule %s paused by the reputation guard: %s", rule_id, record.reason)
