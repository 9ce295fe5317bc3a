"""The conversation store as the contact policy's ``EscalationView`` (triggers never import outreach).

``escalations_on(session)`` is what the composition root hands the decision stage and the
deferral jobs: it reads through their own session, inside their transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import select
from sqlmodel import Session

from outreach.conversations.records import ConversationRecord
from triggers.policy.escalation import Escalation, InMemoryEscalations


class StoredEscalations:
    """Each customer's latest escalated reply, from the conversations table."""

    def __init__(self, session: Session):
        self.session = session

    def latest_escalation(self, customer_id: str, now: dt.datetime) -> Escalation | None:
        """The latest escalation of the customer at or before ``now``."""
        row = self.session.execute(
            select(ConversationRecord.escalated_at, ConversationRecord.escalation_reason,
                   ConversationRecord.conversation_id)
            .where(ConversationRecord.customer_id == customer_id, ConversationRecord.escalated_at.is_not(None),
                   ConversationRecord.escalated_at <= now)
            .order_by(ConversationRecord.escalated_at.desc()).limit(1)).first()
        return Escalation(row[0], row[1] or "escalated", row[2]) if row is not None else None


def latest_escalations(*, session: Session, customer_ids: Collection[str], now: dt.datetime) -> InMemoryEscalations:
    """The latest escalation at or before ``now`` of each of these customers, read in one query, as a view."""
    latest: dict[str, Escalation] = {}
    if customer_ids:
        rows = session.execute(
            select(ConversationRecord.customer_id, ConversationRecord.escalated_at,
                   ConversationRecord.escalation_reason, ConversationRecord.conversation_id)
            .where(ConversationRecord.customer_id.in_(set(customer_ids)),
                   ConversationRecord.escalated_at.is_not(None), ConversationRecord.escalated_at <= now))
        for customer_id, escalated_at, reason, conversation_id in rows:
            if customer_id not in latest or escalated_at > latest[customer_id].escalated_at:
                latest[customer_id] = Escalation(escalated_at, reason or "escalated", conversation_id)
    return InMemoryEscalations({customer_id: [escalation] for customer_id, escalation in latest.items()})


def escalations_on(session: Session) -> StoredEscalations:
    """The ``EscalationView`` over ``session``."""
    return StoredEscalations(session)
