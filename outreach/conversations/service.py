"""Service functions over conversations: thread a reply, store it, answer, assign, resolve. The caller commits.

``thread_of`` finds the message a reply answers and its customer; ``record_reply`` joins the reply
to the customer's open conversation on that channel (or the one its answered message belongs to,
reopening it) or opens one, once per provider event; ``record_answer`` adds a person's answer.
State changes are conditional where two people could act at once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session

from infra.database import dialect_insert
from outreach.consent.service import customers_with_contact
from outreach.conversations.records import (
    CLOSED,
    INBOUND,
    OPEN,
    OUTBOUND,
    RESOLVED,
    ConversationEntryRecord,
    ConversationRecord,
)
from outreach.conversations.triage import Triage, priority_of
from outreach.outbox.delivery_events import last_sent_to
from outreach.outbox.records import OutboxRecord


@dataclass(frozen=True)
class Thread:
    """What a reply answers: the message (None when none is found) and the customer (None: unknown sender)."""

    message: OutboxRecord | None
    customer_id: str | None
    how: str  # reply_address | references | last_message | contact_point | unknown


@dataclass(frozen=True)
class ThreadHints:
    """What the reply itself says about its thread."""

    channel: str
    contact_hash: str
    reply_address_message_id: str | None = None  # from a valid reply address: trusted
    referenced_message_ids: tuple[str, ...] = ()  # from the sender's own headers: checked against the sender


def thread_of(*, session: Session, hints: ThreadHints) -> Thread:
    """The message a reply answers and its customer (see ``thread_links`` for the order)."""
    if hints.reply_address_message_id:
        message = session.get(OutboxRecord, hints.reply_address_message_id)
        if message is not None:
            return Thread(message, message.customer_id, "reply_address")
    for message_id in hints.referenced_message_ids:
        message = session.get(OutboxRecord, message_id)
        if message is not None and message.recipient_hash == hints.contact_hash:
            return Thread(message, message.customer_id, "references")
    customers = customers_with_contact(session=session, contact_hash=hints.contact_hash, channel=hints.channel)
    last = last_sent_to(session=session, customer_ids=customers, channel=hints.channel)
    if last is not None:
        return Thread(last, last.customer_id, "last_message")
    return Thread(None, customers[0] if customers else None, "contact_point" if customers else "unknown")


def entry_exists(*, session: Session, dedup_key: str) -> bool:
    """True when a reply or answer with this key is stored already (a repeated webhook or form post)."""
    return session.scalar(select(ConversationEntryRecord.entry_id)
                          .where(ConversationEntryRecord.dedup_key == dedup_key)) is not None


def conversation_of_message(*, session: Session, message_id: str) -> ConversationRecord | None:
    """The conversation an answer message was sent in, or the one opened by a reply to ``message_id``."""
    entry = session.scalars(select(ConversationEntryRecord)
                            .where(ConversationEntryRecord.outbox_message_id == message_id)).first()
    if entry is not None:
        return session.get(ConversationRecord, entry.conversation_id)
    return session.scalars(select(ConversationRecord).where(ConversationRecord.message_id == message_id)
                           .order_by(ConversationRecord.opened_at.desc())).first()


def open_conversation(*, session: Session, channel: str, customer_id: str | None,
                      contact_hash: str) -> ConversationRecord | None:
    """The customer's open conversation on the channel (by contact point for an unknown sender)."""
    who = (ConversationRecord.customer_id == customer_id if customer_id is not None
           else ConversationRecord.contact_hash == contact_hash)
    return session.scalars(select(ConversationRecord).where(who, ConversationRecord.channel == channel,
                                                            ConversationRecord.status == OPEN)
                           .order_by(ConversationRecord.opened_at.desc())).first()


def _target(session: Session, thread: Thread, hints: ThreadHints) -> ConversationRecord | None:
    if thread.message is not None:
        found = conversation_of_message(session=session, message_id=thread.message.message_id)
        if found is not None and (found.status == OPEN or thread.how in ("reply_address", "references")):
            return found  # a reply to a closed conversation's own message reopens it
    return open_conversation(session=session, channel=hints.channel, customer_id=thread.customer_id,
                             contact_hash=hints.contact_hash)


def record_reply(
    *, session: Session, hints: ThreadHints, thread: Thread, triage: Triage, text: str, dedup_key: str,
    now: dt.datetime, subject: str | None = None, details: dict[str, Any] | None = None,
) -> tuple[ConversationRecord | None, bool]:
    """Store a reply in its conversation; ``(conversation, True)``, or ``(None, False)`` for a repeat."""
    message = thread.message
    risk_bucket = (message.decision or {}).get("risk_bucket") if message is not None else None
    priority = priority_of(triage, risk_bucket=risk_bucket)
    conversation = _target(session, thread, hints)
    conversation_id = conversation.conversation_id if conversation is not None else uuid.uuid4().hex
    # The entry first: a repeated provider event stops here, before anything else changes.
    entry = dialect_insert(session, ConversationEntryRecord.__table__).values(
        entry_id=uuid.uuid4().hex, conversation_id=conversation_id, direction=INBOUND, dedup_key=dedup_key,
        subject=subject, text=text, triage=triage.to_dict(), details=details or {}, created_at=now,
    ).on_conflict_do_nothing(index_elements=["dedup_key"]).returning(ConversationEntryRecord.__table__.c.entry_id)
    if session.execute(entry).first() is None:
        return None, False
    if conversation is None:
        conversation = ConversationRecord(
            conversation_id=conversation_id, customer_id=thread.customer_id, channel=hints.channel,
            contact_hash=hints.contact_hash, status=OPEN, intent=triage.intent.value,
            sentiment=triage.sentiment.value, frustrated=triage.frustrated, language=triage.language,
            priority=priority, message_id=message.message_id if message is not None else None,
            rule_id=message.rule_id if message is not None else None, opened_at=now, last_inbound_at=now,
            updated_at=now)
        session.add(conversation)
    elif conversation.status != OPEN or conversation.waiting_since is None:
        conversation.priority = priority  # a new question after an answer: its own priority
    else:
        conversation.priority = max(conversation.priority, priority)  # still waiting: never lowered
    conversation.status, conversation.closed_at = OPEN, None
    conversation.intent, conversation.sentiment = triage.intent.value, triage.sentiment.value
    conversation.frustrated, conversation.language = triage.frustrated, triage.language
    conversation.replies += 1
    conversation.last_inbound_at = now
    conversation.waiting_since = conversation.waiting_since or now
    if triage.escalates:
        conversation.escalated_at, conversation.escalation_reason = now, triage.escalation_reason
    conversation.updated_at = now
    session.flush()
    return conversation, True


def record_answer(*, session: Session, conversation: ConversationRecord, dedup_key: str, text: str,
                  subject: str | None, author: str, outbox_message_id: str, now: dt.datetime,
                  details: dict[str, Any] | None = None) -> None:
    """Add a person's answer to the thread; the conversation stops waiting and counts as answered."""
    session.add(ConversationEntryRecord(
        entry_id=uuid.uuid4().hex, conversation_id=conversation.conversation_id, direction=OUTBOUND,
        dedup_key=dedup_key, subject=subject, text=text, details=details or {}, outbox_message_id=outbox_message_id,
        author=author, created_at=now))
    conversation.waiting_since = None
    conversation.first_answered_at = conversation.first_answered_at or now
    conversation.first_answered_by = conversation.first_answered_by or author
    conversation.assignee = conversation.assignee or author
    conversation.updated_at = now
    session.flush()


def assign(*, session: Session, conversation_id: str, assignee: str | None, now: dt.datetime) -> bool:
    """Give the conversation to a person (None: unassign); False when there is no such conversation."""
    result = session.execute(update(ConversationRecord).where(ConversationRecord.conversation_id == conversation_id)
                             .values(assignee=assignee, updated_at=now))
    return result.rowcount == 1


def finish(*, session: Session, conversation_id: str, status: str, now: dt.datetime) -> bool:
    """Resolve or close an open conversation (it stops waiting); False when it is not open."""
    if status not in (RESOLVED, CLOSED):
        raise ValueError(f"a conversation finishes as resolved or closed, not {status!r}")
    result = session.execute(update(ConversationRecord).where(ConversationRecord.conversation_id == conversation_id,
                                                              ConversationRecord.status == OPEN)
                             .values(status=status, waiting_since=None, closed_at=now, updated_at=now))
    return result.rowcount == 1


def mark_handed_off(*, session: Session, conversation_id: str, now: dt.datetime) -> None:
    """Note that the helpdesk got the conversation's packet."""
    session.execute(update(ConversationRecord).where(ConversationRecord.conversation_id == conversation_id)
                    .values(handed_off_at=now))


def thread_entries(*, session: Session, conversation_id: str) -> list[ConversationEntryRecord]:
    """The conversation's thread, oldest first."""
    return list(session.scalars(select(ConversationEntryRecord)
                                .where(ConversationEntryRecord.conversation_id == conversation_id)
                                .order_by(ConversationEntryRecord.created_at, ConversationEntryRecord.entry_id)))


def inbox(*, session: Session, statuses: tuple[str, ...] = (OPEN,), limit: int = 200) -> list[ConversationRecord]:
    """Conversations in ``statuses``; the caller orders them with ``triage.queue_key``."""
    return list(session.scalars(select(ConversationRecord).where(ConversationRecord.status.in_(statuses))
                                .order_by(ConversationRecord.priority.desc(), ConversationRecord.last_inbound_at)
                                .limit(limit)))


def erase_texts(*, session: Session, customer_id: str) -> int:
    """Clear the reply and answer texts of a customer's conversations (erasure); how many entries."""
    ids = select(ConversationRecord.conversation_id).where(ConversationRecord.customer_id == customer_id)
    result = session.execute(update(ConversationEntryRecord)
                             .where(ConversationEntryRecord.conversation_id.in_(ids))
                             .values(text=None, subject=None))
    return result.rowcount
