"""The conversation store as the contact policy's ``EscalationView`` (triggers never import outreach).

``escalations_on(session)`` is what the composition root hands the decision stage and the
deferral jobs: it reads through their own session, inside their transaction.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlmodel import Session

from outreach.conversations.records import ConversationRecord
from triggers.policy.escalation import Escalation


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


def escalations_on(session: Session) -> StoredEscalations:
    """The ``EscalationView`` over ``session``."""
    return StoredEscalations(session)
