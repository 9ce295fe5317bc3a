"""Database table of the local sink: which messages it took, so a restart still knows.

``SinkDeliveryRecord`` is written (committed) before the sink reports a message accepted, so the
sender's reconciliation after a crash asks durable knowledge, not the memory of a dead process.
No address and no body: the outbox row holds what was sent; this says only that it was.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from infra.database import UtcDateTime


class SinkDeliveryRecord(SQLModel, table=True):
    """One message the local sink accepted, once per message id."""

    __tablename__ = "sink_deliveries"

    message_id: str = Field(primary_key=True, sa_type=sa.String(64))
    channel: str = Field(sa_type=sa.String(16), nullable=False)
    provider_message_id: str = Field(sa_type=sa.String(64), nullable=False)
    rule_id: str | None = Field(default=None, sa_type=sa.String(64))
    topic: str | None = Field(default=None, sa_type=sa.String(64))
    delivered_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)
