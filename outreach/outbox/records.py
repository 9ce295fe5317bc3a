"""Database tables of delivery: the outbox, provider delivery events, and paused rules.

``outbox`` holds one row per engaging decision, unique on the decision's idempotency key, and
walks pending -> drafted -> (awaiting_approval) -> sending -> sent | failed | held_for_review |
suppressed. ``lease_owner`` / ``lease_expires_at`` keep a claimed row with one sender between
transactions. ``delivery_events`` de-duplicates provider webhooks by their own event id.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from infra.database import UtcDateTime, utcnow

PENDING, DRAFTED, AWAITING_APPROVAL, SENDING = "pending", "drafted", "awaiting_approval", "sending"
SENT, FAILED, HELD_FOR_REVIEW, SUPPRESSED = "sent", "failed", "held_for_review", "suppressed"
STATES = (PENDING, DRAFTED, AWAITING_APPROVAL, SENDING, SENT, FAILED, HELD_FOR_REVIEW, SUPPRESSED)
FINAL_STATES = frozenset({SENT, FAILED, HELD_FOR_REVIEW, SUPPRESSED})


class OutboxRecord(SQLModel, table=True):
    """One message to send for one engaging decision."""

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_state_next_attempt", "state", "next_attempt_at"),)

    message_id: str = Field(primary_key=True, sa_type=sa.String(32))
    idempotency_key: str = Field(sa_type=sa.String(64), unique=True, nullable=False)
    decision_id: str = Field(sa_type=sa.String(64), nullable=False)
    customer_id: str = Field(sa_type=sa.String(128), index=True, nullable=False)
    rule_id: str = Field(sa_type=sa.String(64), index=True, nullable=False)
    episode_key: str = Field(sa_type=sa.String(512), nullable=False)
    channel: str = Field(sa_type=sa.String(16), nullable=False)
    topic: str = Field(sa_type=sa.String(64), nullable=False)
    state: str = Field(sa_type=sa.String(24), nullable=False)
    requires_approval: bool = Field(default=False, sa_type=sa.Boolean, nullable=False)
    decision: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    attempts: int = Field(default=0, sa_type=sa.Integer, nullable=False)
    next_attempt_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)
    expires_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    lease_owner: str | None = Field(default=None, sa_type=sa.String(64))
    lease_expires_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    recipient_hash: str | None = Field(default=None, sa_type=sa.String(64))
    subject: str | None = Field(default=None, sa_type=sa.Text)
    body: str | None = Field(default=None, sa_type=sa.Text)
    # Everything else the drafter returned (prompt, model, guardrail results), contact details redacted.
    rendered: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    provider: str | None = Field(default=None, sa_type=sa.String(16))
    provider_message_id: str | None = Field(default=None, sa_type=sa.String(128), index=True)
    provider_status: str | None = Field(default=None, sa_type=sa.String(32))
    last_error: str | None = Field(default=None, sa_type=sa.String(500))
    created_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)
    updated_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)
    sent_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)


class DeliveryEventRecord(SQLModel, table=True):
    """One provider event (delivered, bounce, spamreport, STOP ...), stored once by its event key."""

    __tablename__ = "delivery_events"

    event_key: str = Field(primary_key=True, sa_type=sa.String(200))
    provider: str = Field(sa_type=sa.String(16), nullable=False)
    kind: str = Field(sa_type=sa.String(32), nullable=False)
    message_id: str | None = Field(default=None, sa_type=sa.String(32), index=True)
    rule_id: str | None = Field(default=None, sa_type=sa.String(64), index=True)
    customer_id: str | None = Field(default=None, sa_type=sa.String(128))
    occurred_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)
    recorded_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)


class RulePauseRecord(SQLModel, table=True):
    """A rule paused by the reputation guard, with the evidence shown to ops and when ops were told."""

    __tablename__ = "rule_pauses"

    rule_id: str = Field(primary_key=True, sa_type=sa.String(64))
    reason: str = Field(sa_type=sa.String(200), nullable=False)
    sends: int = Field(sa_type=sa.Integer, nullable=False)
    complaint_rate: float = Field(sa_type=sa.Float, nullable=False)
    opt_out_rate: float = Field(sa_type=sa.Float, nullable=False)
    paused_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)
    # Each measure's ``Evidence.to_dict()`` at the moment of the pause (rates, bounds, limits).
    evidence: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    notified_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)  # None: ops not told yet
