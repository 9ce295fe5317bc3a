"""The context packet of a conversation: what a person (or a helpdesk) needs to answer it well.

It extends the support hand-off's packet (what we sent, why, the customer's recent timeline) with
the conversation's triage and priority, the customer's non-contact facts, the signal's facts and
the thread. Like that packet it holds ids and text, never a phone number or an e-mail address.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session

from outreach.conversations.records import ConversationRecord
from outreach.conversations.service import thread_entries
from outreach.conversations.triage import priority_label
from outreach.outbox.records import OutboxRecord
from outreach.webhooks.support_handoff import context_packet
from signals.records import CustomerRecord, SignalRecord


def customer_facts(session: Session, customer_id: str | None) -> dict[str, Any]:
    """The customer's facts a person may see in the inbox (no contact details)."""
    customer = session.get(CustomerRecord, customer_id) if customer_id else None
    if customer is None:
        return {}
    return {"first_name": customer.first_name, "locale": customer.locale, "time_zone": customer.time_zone,
            "country": getattr(customer, "country", None),
            "last_event_at": customer.last_event_at.isoformat() if customer.last_event_at else None}


def signal_of(session: Session, message: OutboxRecord | None) -> dict[str, Any] | None:
    """The signal the answered message was about: kind, reason, facts."""
    signal_id = (message.decision or {}).get("signal_id") if message is not None else None
    row = session.get(SignalRecord, signal_id) if signal_id else None
    if row is None:
        return None
    return {"signal_id": row.signal_id, "kind": row.kind, "reason": row.reason, "facts": row.attributes,
            "detected_at": row.detected_at.isoformat()}


def conversation_summary(conversation: ConversationRecord) -> dict[str, Any]:
    """The conversation's triage, priority and state."""
    return {
        "conversation_id": conversation.conversation_id, "status": conversation.status,
        "channel": conversation.channel, "intent": conversation.intent, "sentiment": conversation.sentiment,
        "frustrated": conversation.frustrated, "language": conversation.language,
        "priority": conversation.priority, "priority_label": priority_label(conversation.priority),
        "escalated": conversation.escalated_at is not None, "escalation_reason": conversation.escalation_reason,
        "assignee": conversation.assignee, "replies": conversation.replies, "rule_id": conversation.rule_id,
        "waiting_since": conversation.waiting_since.isoformat() if conversation.waiting_since else None,
        "opened_at": conversation.opened_at.isoformat(),
    }


def conversation_packet(*, session: Session, conversation: ConversationRecord, reply_text: str,
                        now: dt.datetime) -> dict[str, Any]:
    """The whole packet: the hand-off's, plus triage, priority, customer and signal facts, and the thread."""
    message = session.get(OutboxRecord, conversation.message_id) if conversation.message_id else None
    packet = context_packet(session=session, customer_id=conversation.customer_id, reply_text=reply_text,
                            channel=conversation.channel, last_message=message, now=now)
    packet.update(
        conversation=conversation_summary(conversation), intent=conversation.intent,
        priority=conversation.priority, priority_label=priority_label(conversation.priority),
        customer=customer_facts(session, conversation.customer_id), signal=signal_of(session, message),
        thread=[{"direction": e.direction, "at": e.created_at.isoformat(), "subject": e.subject, "text": e.text,
                 "author": e.author, "triage": e.triage or None, "details": e.details or None,
                 "outbox_message_id": e.outbox_message_id}
                for e in thread_entries(session=session, conversation_id=conversation.conversation_id)],
    )
    return packet
