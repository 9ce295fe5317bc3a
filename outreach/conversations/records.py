"""Database tables of conversations: one row per conversation, one per message in its thread.

A conversation is a customer's exchange on one channel, opened by their first reply and joined by
each later reply until a person resolves or closes it. ``waiting_since`` is set while a reply
waits for a person's answer; ``escalated_at`` (the latest escalating reply) is what the contact
policy reads to stop automated outreach. ``conversation_entries`` holds the thread: the
customer's replies (unique on the provider's event key, so a repeated webhook adds nothing), the
answers people sent (each an outbox message, unique on its answer key) and notes. Reply text is
personal data: an erasure clears it (``service.erase_texts``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from infra.database import UtcDateTime

# The outbox rule id of a person's answer: never a rule's (rule ids hold no ":"), never in rule statistics.
ANSWER_RULE_ID = "conversation:answer"
OPEN, RESOLVED, CLOSED = "open", "resolved", "closed"
STATUSES = (OPEN, RESOLVED, CLOSED)
INBOUND, OUTBOUND, NOTE = "inbound", "outbound", "note"


class ConversationRecord(SQLModel, table=True):
    """One conversation with a customer on one channel."""

    __tablename__ = "conversations"
    __table_args__ = (sa.Index("ix_conversations_status_priority", "status", "priority"),)

    conversation_id: str = Field(primary_key=True, sa_type=sa.String(32))
    customer_id: str | None = Field(default=None, sa_type=sa.String(128), index=True)  # None: unknown sender
    channel: str = Field(sa_type=sa.String(16), nullable=False)
    contact_hash: str | None = Field(default=None, sa_type=sa.String(64), index=True)
    status: str = Field(sa_type=sa.String(16), nullable=False)
    intent: str = Field(sa_type=sa.String(32), nullable=False)  # the latest reply's
    sentiment: str = Field(sa_type=sa.String(16), nullable=False)
    frustrated: bool = Field(default=False, sa_type=sa.Boolean, nullable=False)
    language: str = Field(sa_type=sa.String(8), nullable=False)
    priority: int = Field(default=0, sa_type=sa.Integer, nullable=False)
    # The automated message the customer first answered, and its rule (None: no message found).
    message_id: str | None = Field(default=None, sa_type=sa.String(32))
    rule_id: str | None = Field(default=None, sa_type=sa.String(64), index=True)
    assignee: str | None = Field(default=None, sa_type=sa.String(64))
    replies: int = Field(default=0, sa_type=sa.Integer, nullable=False)
    opened_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)
    last_inbound_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)
    waiting_since: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    escalated_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    escalation_reason: str | None = Field(default=None, sa_type=sa.String(32))
    first_answered_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    first_answered_by: str | None = Field(default=None, sa_type=sa.String(64))
    closed_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    handed_off_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)  # posted to the helpdesk
    updated_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)


class ConversationEntryRecord(SQLModel, table=True):
    """One message in a conversation's thread: a reply, an answer (an outbox message) or a note."""

    __tablename__ = "conversation_entries"

    entry_id: str = Field(primary_key=True, sa_type=sa.String(32))
    conversation_id: str = Field(sa_type=sa.String(32), index=True, nullable=False)
    direction: str = Field(sa_type=sa.String(16), nullable=False)  # inbound | outbound | note
    # A reply's provider event key, or an answer's key: a repeat of either adds nothing.
    dedup_key: str = Field(sa_type=sa.String(200), unique=True, nullable=False)
    subject: str | None = Field(default=None, sa_type=sa.Text)
    text: str | None = Field(default=None, sa_type=sa.Text)
    triage: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    # Provider facts without contact details: attachments dropped (name, type, size), truncation, thread hints.
    details: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    outbox_message_id: str | None = Field(default=None, sa_type=sa.String(32), index=True)
    author: str | None = Field(default=None, sa_type=sa.String(64))
    created_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)
