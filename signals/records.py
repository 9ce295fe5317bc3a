"""Database tables of the signals stage: the customer projection and the detected signals.

``CustomerRecord`` is the projection of ``customer.profile`` events (who the customer is, how to
reach them, consent as known upstream); ``SignalRecord`` keeps every signal once, keyed by the
id derived from its episode.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from infra.database import UtcDateTime, utcnow


class CustomerRecord(SQLModel, table=True):
    """One customer as the latest ``customer.profile`` event describes them."""

    __tablename__ = "customers"

    customer_id: str = Field(primary_key=True, sa_type=sa.String(128))
    first_name: str | None = Field(default=None, sa_type=sa.String(100))
    last_name: str | None = Field(default=None, sa_type=sa.String(100))
    email: str | None = Field(default=None, sa_type=sa.String(254))
    phone: str | None = Field(default=None, sa_type=sa.String(32))
    time_zone: str | None = Field(default=None, sa_type=sa.String(64))
    locale: str | None = Field(default=None, sa_type=sa.String(16))
    country: str | None = Field(default=None, sa_type=sa.String(2))
    region: str | None = Field(default=None, sa_type=sa.String(8))
    plan: str | None = Field(default=None, sa_type=sa.String(64))
    signed_up_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    # Consent as the upstream system reports it; None = unknown. The consent store of outreach,
    # fed by unsubscribes and STOP replies, is the authority at send time.
    email_marketing_consent: bool | None = Field(default=None, sa_type=sa.Boolean)
    sms_marketing_consent: bool | None = Field(default=None, sa_type=sa.Boolean)
    email_service_consent: bool | None = Field(default=None, sa_type=sa.Boolean)
    sms_service_consent: bool | None = Field(default=None, sa_type=sa.Boolean)
    # Event time of the newest profile event applied; an older event arriving late is ignored.
    updated_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)
    # Event time of the newest event of any type seen for this customer.
    last_event_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)


class SignalRecord(SQLModel, table=True):
    """One detected signal, stored once per episode."""

    __tablename__ = "signals"

    signal_id: str = Field(primary_key=True, sa_type=sa.String(64))
    kind: str = Field(sa_type=sa.String(32), nullable=False)
    customer_id: str = Field(sa_type=sa.String(128), index=True, nullable=False)
    episode_key: str = Field(sa_type=sa.String(512), unique=True, index=True, nullable=False)
    reason: str = Field(sa_type=sa.String(64), nullable=False)
    detected_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)
    attributes: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    recorded_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)


class GoalEventRecord(SQLModel, table=True):
    """One customer event of a type a rule may name as its goal, kept so results can measure outcomes.

    Only the types in ``signals.events.GOAL_EVENT_TYPES`` are kept (no profile updates, checkout
    heartbeats or our own ``message.sent``), and only their envelope: no payload, no contact data.
    """

    __tablename__ = "goal_events"
    __table_args__ = (sa.Index("ix_goal_events_customer_type_time", "customer_id", "type", "occurred_at"),)

    event_id: str = Field(primary_key=True, sa_type=sa.String(128))
    customer_id: str = Field(sa_type=sa.String(128), nullable=False)
    type: str = Field(sa_type=sa.String(32), nullable=False)
    occurred_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)


class QuarantineRecord(SQLModel, table=True):
    """A customer whose stream state the worker set aside (``signals.quarantine``), as last announced.

    Projected from the ``quarantine`` topic; the worker's state table is the authority, this is
    what the console and ``retain explain`` show. A released customer keeps its row (status
    ``released``) so the history of why it was held stays visible.
    """

    __tablename__ = "stream_quarantine"

    customer_id: str = Field(primary_key=True, sa_type=sa.String(128))
    status: str = Field(sa_type=sa.String(16), nullable=False)  # quarantined | released
    reason: str = Field(default="", sa_type=sa.Text, nullable=False)
    stage: str = Field(default="", sa_type=sa.String(32), nullable=False)
    since: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    held: int = Field(default=0, nullable=False)  # events held with it, folded on release
    dead_lettered: int = Field(default=0, nullable=False)  # events that found the hold full
    released_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    updated_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)
