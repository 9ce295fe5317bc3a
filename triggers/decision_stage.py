"""The trigger stage's unit of work: signals in, decisions stored and returned for publishing.

``DecisionStage.process`` runs in a worker thread (the Faust agent hands it a batch): per signal
it reads customer facts and features from the signal's context, scores them, loads the contact
history, calls the pure ``decide``, stores the decisions idempotently and, after the commit,
schedules the deferral job of every ``defer`` not yet released. It returns the stored engage/defer decisions
of the batch, the first stored version of each, so a redelivered signal republishes the same
decision (the outbox dedups on its idempotency key) and never creates a second one.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, Sequence

from sqlalchemy import Engine
from sqlmodel import Session

from infra.database import session_scope
from signals.signal import Signal
from triggers.decision import Decision, decide
from triggers.deferred import release_id_for
from triggers.policy import ConsentView, ContactHistory, EscalationView, PolicyConfig
from triggers.policy.reasons import Outcome
from triggers.rule import Rule
from triggers.ruleset import RuleBook
from triggers.service import contact_history, get_decisions, record_decisions
from triggers.signal_context import ScorerLike, UpstreamConsent, customer_facts, score_context, signal_context

log = logging.getLogger(__name__)

PUBLISHED_OUTCOMES = (Outcome.ENGAGE, Outcome.DEFER)


class HistorySource(Protocol):
    """Where contact history comes from (stored decisions now, the outbox later)."""

    def history(self, session: Session, customer_id: str, now: dt.datetime) -> ContactHistory: ...


class StoredDecisionHistory:
    """Contact history from the stored engage/defer decisions (until the outbox exists)."""

    def history(self, session: Session, customer_id: str, now: dt.datetime) -> ContactHistory:
        """The customer's sends as implied by stored decisions."""
        return contact_history(session=session, customer_id=customer_id, now=now)


class Deferrals(Protocol):
    """Schedules the job that releases a ``defer`` decision at its ``defer_until``."""

    def schedule(self, decision: Decision, *, rule: Rule, customer: Mapping[str, Any]) -> None: ...


def upstream_consent(customer_id: str, facts: Mapping[str, Any]) -> ConsentView:
    """The default consent port: upstream flags from the signal context."""
    return UpstreamConsent.of(customer_id, facts)


@dataclass
class DecisionStage:
    """Everything ``decide`` needs besides the signal, plus where decisions go."""

    engine: Engine
    rulebook: RuleBook
    scorer: Callable[[], ScorerLike | None] = lambda: None
    policy_config: PolicyConfig = field(default_factory=PolicyConfig)
    deferrals: Deferrals | None = None
    history: HistorySource = field(default_factory=StoredDecisionHistory)
    consent: Callable[[str, Mapping[str, Any]], ConsentView] = upstream_consent
    # The conversation store's view through the stage's session (None: no replies are known).
    escalations: Callable[[Session], EscalationView] | None = None

    def decide_one(self, session: Session, signal: Signal, now: dt.datetime) -> list[Decision]:
        """Decide one signal against the rules in force (reads history through ``session``)."""
        context = signal_context(signal)
        facts = customer_facts(context)
        risk = score_context(self.scorer(), context)
        history = self.history.history(session, signal.customer_id, now)
        escalations = self.escalations(session) if self.escalations is not None else None
        return decide(signal, self.rulebook.current, facts, risk, history,
                      self.consent(signal.customer_id, facts), now, self.policy_config, escalations=escalations,
                      features=context.get("features") if isinstance(context.get("features"), dict) else None)

    def process(self, signals: Sequence[Signal], now: dt.datetime) -> list[Decision]:
        """Decide and store a batch in one transaction; returns the stored engage/defer decisions."""
        ruleset = self.rulebook.current
        all_ids: list[str] = []
        signal_of: dict[str, Signal] = {}
        with session_scope(self.engine) as session:
            for signal in signals:
                decisions = self.decide_one(session, signal, now)
                # Stored one signal at a time, so the next signal of the same customer sees them.
                record_decisions(session=session, decisions=decisions)
                all_ids += [d.decision_id for d in decisions]
                signal_of[signal.signal_id] = signal
            stored = get_decisions(session=session, decision_ids=all_ids)
            defers = [d for d in stored if d.outcome == Outcome.DEFER]
            released = {d.deferred_from for d in get_decisions(
                session=session, decision_ids=[release_id_for(d.decision_id) for d in defers])}
            session.commit()
        if self.deferrals is not None:
            # Every stored, unreleased defer of the batch, not only new ones: a crash between the
            # commit and the scheduling is healed by the redelivery (same job id replaces).
            for decision in defers:
                rule = ruleset.get(decision.rule_id or "")
                if rule is not None and decision.decision_id not in released:
                    facts = customer_facts(signal_context(signal_of[decision.signal_id]))
                    self.deferrals.schedule(decision, rule=rule, customer=facts)
        return [d for d in stored if d.outcome in PUBLISHED_OUTCOMES]
