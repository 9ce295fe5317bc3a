"""Database tables of the consent store: history, current view, contact points, suppressions.

``consent_changes`` is append-only (the full history with source and evidence); ``consent_states``
is the current view, one row per (customer, channel, topic). ``suppressions`` are global per
hashed contact point, whichever customer it belongs to. ``contact_points`` maps a customer to an
address; erasure clears ``address`` and keeps ``contact_hash``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from infra.database import UtcDateTime, utcnow


class ConsentChangeRecord(SQLModel, table=True):
    """One consent change, never updated: who said what, through which source, with what evidence."""

    __tablename__ = "consent_changes"

    change_id: str = Field(primary_key=True, sa_type=sa.String(64))
    customer_id: str = Field(sa_type=sa.String(128), index=True, nullable=False)
    channel: str = Field(sa_type=sa.String(16), nullable=False)
    topic: str = Field(sa_type=sa.String(64), nullable=False)
    status: str = Field(sa_type=sa.String(16), nullable=False)
    source: str = Field(sa_type=sa.String(64), nullable=False)
    # What proves the change (message id, provider event id, keyword); never an address.
    evidence: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    contact_hash: str | None = Field(default=None, sa_type=sa.String(64))
    changed_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)
    recorded_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)


class ConsentStateRecord(SQLModel, table=True):
    """The current consent of a customer for a channel and topic (``*`` = the whole channel)."""

    __tablename__ = "consent_states"

    customer_id: str = Field(primary_key=True, sa_type=sa.String(128))
    channel: str = Field(primary_key=True, sa_type=sa.String(16))
    topic: str = Field(primary_key=True, sa_type=sa.String(64))
    status: str = Field(sa_type=sa.String(16), nullable=False)
    source: str = Field(sa_type=sa.String(64), nullable=False)
    changed_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)


class ContactPointRecord(SQLModel, table=True):
    """A customer's address on a channel; ``address`` is personal data and is erased on request."""

    __tablename__ = "contact_points"

    customer_id: str = Field(primary_key=True, sa_type=sa.String(128))
    channel: str = Field(primary_key=True, sa_type=sa.String(16))
    address: str | None = Field(default=None, sa_type=sa.String(254))
    contact_hash: str = Field(sa_type=sa.String(64), index=True, nullable=False)
    updated_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)


class SuppressionRecord(SQLModel, table=True):
    """A contact point never to be used on a channel again (hard bounce, complaint, carrier opt-out)."""

    __tablename__ = "suppressions"

    contact_hash: str = Field(primary_key=True, sa_type=sa.String(64))
    channel: str = Field(primary_key=True, sa_type=sa.String(16))
    reason: str = Field(sa_type=sa.String(32), nullable=False)
    source: str = Field(sa_type=sa.String(64), nullable=False)
    created_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)


class ErasureRecord(SQLModel, table=True):
    """An erasure request and when it was carried out."""

    __tablename__ = "erasures"

    customer_id: str = Field(primary_key=True, sa_type=sa.String(128))
    requested_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)
    completed_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)
